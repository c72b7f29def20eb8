//! The tasks API and an image's tasks over HTTP (SPEC 3, 4): who may create and see
//! tasks, the body errors of `POST /v2/tasks`, the list's links and 400s. The schemas
//! and `/v2/info/*` are in the `glance_schemas_info` module.

mod glance_schemas_info;

use axum::http::Method as M;
use chrono::{Duration, Utc};
use domain::command::{BeginImport, ImportMethod};
use domain::status::Visibility;
use domain::{Actor, Command, DomainConfig, TaskId};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::{Value, json};

use super::api_sharing::{apply, call, check, expect_all, image, repo, share, third};

/// An admin whose project is `p1`, so the tasks it creates belong to `p1`.
fn p1_admin() -> Actor {
    Actor::new("p1", "u0", &["admin", "member", "reader"])
}

/// A valid `POST /v2/tasks` body.
fn import_task(from: &str) -> Value {
    let input = json!({"import_from": from, "import_from_format": "qcow2",
                       "image_properties": {"name": "x"}});
    json!({"type": "import", "input": input})
}

/// Creates a task as `actor`; returns its JSON.
async fn create_task(app: &TestApp, actor: Actor, from: &str) -> Value {
    let case = (
        M::POST,
        "/v2/tasks".into(),
        actor,
        Some(import_task(from)),
        201,
    );
    let response = call(app, &case, &[]).await;
    check(&case, &response);
    let id = response.json["id"].as_str().unwrap_or_default();
    let location = response
        .headers
        .get("location")
        .and_then(|l| l.to_str().ok());
    assert_eq!(
        location,
        Some(format!("http://localhost/v2/tasks/{id}").as_str())
    );
    response.json
}

/// `GET path` as `actor`, which must answer 200; returns the body.
async fn get_ok(app: &TestApp, path: &str, actor: Actor) -> Value {
    let case = (M::GET, path.to_owned(), actor, None, 200);
    let response = call(app, &case, &[]).await;
    check(&case, &response);
    response.json
}

/// The ids of a `{tasks: [...]}` body.
fn ids(body: &Value) -> Vec<&str> {
    let tasks = body["tasks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    tasks.iter().filter_map(|t| t["id"].as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tasks_api_is_for_admins() {
    let app = TestApp::start().await;
    let theirs = create_task(&app, admin(), "http://a.example/1").await;
    let fields = ["type", "status", "owner", "message", "result"];
    let expected = json!(["import", "pending", "admin-project", "", null]);
    assert_eq!(json!(fields.map(|f| theirs[f].clone())), expected);
    assert_eq!(theirs["input"]["import_from"], "http://a.example/1");
    let request_id = theirs["request_id"].as_str().unwrap_or_default();
    assert!(request_id.starts_with("req-"), "{theirs}");
    let theirs = theirs["id"].as_str().unwrap_or_default().to_owned();
    let ours = create_task(&app, p1_admin(), "http://a.example/2").await;
    let ours = ours["id"].as_str().unwrap_or_default().to_owned();

    let post = |body: Value, status| (M::POST, "/v2/tasks".into(), admin(), Some(body), status);
    let mut extra = import_task("http://a.example/4");
    extra["status"] = json!("success");
    let partial = json!({"import_from_format": "raw", "image_properties": {}});
    let task = |id: &str| format!("/v2/tasks/{id}");
    let cases = vec![
        (
            M::POST,
            "/v2/tasks".into(),
            owner(),
            Some(import_task("http://a.example/3")),
            403,
        ),
        post(json!({"type": "export", "input": {}}), 400),
        post(json!({"type": "import"}), 400),
        post(json!({"input": {"import_from": "http://a.example/"}}), 400),
        post(json!({"type": 7, "input": {}}), 400),
        post(json!({"type": "import", "input": "http://a.example/"}), 400),
        post(json!({"type": "import", "input": {}}), 400),
        post(json!({"type": "import", "input": partial}), 400),
        post(json!({"type": "api_image_import", "input": {}}), 400),
        post(json!(["import"]), 400),
        post(extra, 400),
        // Admin-only, as Glance's default policy: others 403 whatever the task.
        (M::GET, task(&ours), admin(), None, 200),
        (M::GET, task(&ours), owner(), None, 403),
        (M::GET, task(&ours), reader(), None, 403),
        (M::GET, task(&ours), other(), None, 403),
        (M::GET, "/v2/tasks".into(), owner(), None, 403),
        (M::GET, task("not-a-uuid"), admin(), None, 404),
        (
            M::GET,
            task(&TaskId::generate().to_string()),
            admin(),
            None,
            404,
        ),
        (M::DELETE, task(&ours), admin(), None, 405),
        (M::PUT, "/v2/tasks".into(), admin(), None, 405),
    ];
    expect_all(&app, cases).await;
    let shown = get_ok(&app, &task(&ours), admin()).await;
    assert_eq!(
        (shown["owner"].as_str(), shown["id"].as_str()),
        (Some("p1"), Some(ours.as_str()))
    );
    assert_eq!(shown["input"]["import_from"], "http://a.example/2");

    // Lists: newest first, without details, pages linked.
    let all = get_ok(&app, "/v2/tasks", admin()).await;
    assert_eq!(ids(&all), [&ours, &theirs]);
    assert_eq!(all["first"], "/v2/tasks");
    assert_eq!(all["schema"], "/v2/schemas/tasks");
    assert!(all.get("next").is_none(), "{all}");
    assert!(all["tasks"][0].get("input").is_none(), "{all}");
    let first = get_ok(&app, "/v2/tasks?limit=1&type=import", admin()).await;
    assert_eq!(ids(&first), [&ours]);
    assert_eq!(first["first"], "/v2/tasks?limit=1&type=import");
    let next = first["next"].as_str().unwrap_or_default();
    assert_eq!(next, format!("/v2/tasks?limit=1&type=import&marker={ours}"));
    let second = get_ok(&app, next, admin()).await;
    assert_eq!(ids(&second), [&theirs]);
    assert_eq!(second["first"], "/v2/tasks?limit=1&type=import");
    assert!(second.get("next").is_none(), "{second}");
    let ascending = get_ok(&app, "/v2/tasks?sort_dir=asc&type=import", admin()).await;
    assert_eq!(ids(&ascending), [&theirs, &ours]);
    let bad = |query: &str| (M::GET, format!("/v2/tasks?{query}"), admin(), None, 400);
    let cases = vec![
        bad("sort_dir=sideways"),
        bad("status=done"),
        bad("limit=-1"),
        bad("sort_key=owner"),
        bad("colour=red"),
        bad(&format!("marker={}", TaskId::generate())),
    ];
    expect_all(&app, cases).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_lists_its_import_tasks_for_its_project() {
    let app = TestApp::start().await;
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Shared).await;
    let path = format!("/v2/images/{id}/tasks");
    assert_eq!(get_ok(&app, &path, owner()).await, json!({"tasks": []}));
    let task_id = TaskId::generate();
    let method = ImportMethod::WebDownload {
        uri: "https://a.example/disk.raw".into(),
    };
    let lease_expires_at = Utc::now() + Duration::hours(1);
    let import = BeginImport {
        image_id: id,
        task_id,
        method,
        stores: Vec::new(),
        all_stores_must_succeed: true,
        lease_expires_at,
        request_id: None,
    };
    apply(&repo, owner(), Command::BeginImport(import)).await;
    share(&repo, id, "p2").await;
    for actor in [owner(), reader(), admin()] {
        let listed = get_ok(&app, &path, actor).await;
        assert_eq!(ids(&listed), [task_id.to_string()]);
        let task = &listed["tasks"][0];
        assert_eq!(task["type"], "api_image_import");
        assert_eq!(task["image_id"], id.to_string());
        let uri = &task["input"]["import_req"]["method"]["uri"];
        assert_eq!(uri, "https://a.example/disk.raw");
    }
    // A shared member sees the image but not the owner's tasks (their input may hold
    // credentials); a project it is not shared with does not see the image.
    assert_eq!(get_ok(&app, &path, other()).await, json!({"tasks": []}));
    let cases = vec![
        (M::GET, path.clone(), third(), None, 404),
        (M::GET, "/v2/images/nope/tasks".into(), owner(), None, 404),
        (M::POST, path, owner(), None, 405),
    ];
    expect_all(&app, cases).await;
    app.stop().await;
}
