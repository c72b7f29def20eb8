//! Actions (SPEC 2): deactivate and reactivate through the status table with `If-Match`
//! (extension), the admin's restore of a pending_delete image (extension), and the event
//! log read back as the image's history (extension, SPEC 12).

use axum::http::Method as M;
use domain::command::ImageRef;
use domain::status::Visibility;
use domain::{Command, DomainConfig, ImageId};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::{Value, json};

use super::{activate, apply, call, check, expect_all, image, repo, share, stored, third};

#[tokio::test(flavor = "multi_thread")]
async fn actions_follow_the_table_and_if_match() {
    let app = TestApp::start().await;
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Shared).await;
    let public = image(&repo, &admin(), Visibility::Public).await;
    let act = |name: &str| format!("/v2/images/{id}/actions/{name}");
    expect_all(&app, vec![(M::POST, act("deactivate"), owner(), None, 403)]).await;
    activate(&repo, id, 10).await;
    activate(&repo, public, 1).await;
    share(&repo, id, "p2").await;
    let cases = vec![
        (M::POST, act("deactivate"), reader(), None, 403),
        (M::POST, act("deactivate"), other(), None, 403),
        (M::POST, act("deactivate"), third(), None, 404),
        (M::POST, act("deactivate"), owner(), None, 204),
        (M::POST, act("deactivate"), owner(), None, 204),
        (M::GET, act("deactivate"), owner(), None, 405),
        (M::POST, act("explode"), owner(), None, 404),
        (
            M::POST,
            "/v2/images/nope/actions/deactivate".into(),
            owner(),
            None,
            404,
        ),
        (
            M::POST,
            format!("/v2/images/{public}/actions/deactivate"),
            other(),
            None,
            403,
        ),
    ];
    expect_all(&app, cases).await;
    let image = stored(&app, id).await;
    // create, upload started, uploaded, member, deactivated (the second was a no-op).
    assert_eq!((image.status.as_str(), image.version), ("deactivated", 5));
    let reactivate = (M::POST, act("reactivate"), owner(), None, 204);
    for (if_match, status) in [("\"4\"", 412), ("four", 400), ("\"5\"", 204), ("*", 204)] {
        let case = (M::POST, act("reactivate"), owner(), None, status);
        check(&case, &call(&app, &case, &[("if-match", if_match)]).await);
    }
    check(&reactivate, &call(&app, &reactivate, &[]).await);
    assert_eq!(stored(&app, id).await.version, 6, "one reactivation");
    let get = call(&app, &(M::GET, act("reactivate"), owner(), None, 405), &[]).await;
    assert!(
        get.headers.get("allow").is_some(),
        "405 names the allowed methods"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_restores_a_pending_delete_image() {
    // Kept well past the test: the janitor's scrubber must not purge it first.
    let config = DomainConfig {
        delayed_delete: true,
        scrub_time: chrono::Duration::hours(1),
        ..Default::default()
    };
    let mode = api_gateway::identity::AuthMode::Headers;
    let app = TestApp::start_with(config.clone(), Default::default(), mode, None).await;
    let repo = repo(&app, config);
    let id = image(&repo, &owner(), Visibility::Private).await;
    activate(&repo, id, 10).await;
    let restore = format!("/v2/images/{id}/actions/restore");
    expect_all(&app, vec![(M::POST, restore.clone(), admin(), None, 409)]).await;
    let delete = ImageRef {
        image_id: id,
        expected_version: None,
    };
    apply(&repo, owner(), Command::DeleteImage(delete)).await;
    assert_eq!(stored(&app, id).await.status.as_str(), "pending_delete");
    let unknown = format!("/v2/images/{}/actions/restore", ImageId::generate());
    let cases = vec![
        (M::POST, restore.clone(), owner(), None, 403),
        (M::POST, restore.clone(), reader(), None, 403),
        (M::POST, restore.clone(), other(), None, 403),
        (M::POST, restore.clone(), admin(), None, 204),
        (M::POST, restore, admin(), None, 409),
        (M::POST, unknown, admin(), None, 404),
    ];
    expect_all(&app, cases).await;
    let image = stored(&app, id).await;
    assert_eq!((image.status.as_str(), image.deleted_at), ("active", None));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn history_lists_every_version_in_order() {
    let app = TestApp::start().await;
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Private).await;
    activate(&repo, id, 3).await;
    let tag = (
        M::PUT,
        format!("/v2/images/{id}/tags/gold"),
        owner(),
        None,
        204,
    );
    check(
        &tag,
        &call(&app, &tag, &[("x-openstack-request-id", "req-history-1")]).await,
    );
    let path = format!("/v2/images/{id}/history");
    let cases = vec![
        (
            M::POST,
            format!("/v2/images/{id}/actions/deactivate"),
            admin(),
            None,
            204,
        ),
        (M::GET, path.clone(), other(), None, 404),
        (M::GET, "/v2/images/nope/history".into(), owner(), None, 404),
    ];
    expect_all(&app, cases).await;
    let response = call(&app, &(M::GET, path, reader(), None, 200), &[]).await;
    let history = response.json["history"]
        .as_array()
        .expect("history")
        .clone();
    let fields = ["version", "type", "from_status", "to_status"];
    let steps: Vec<Value> = history
        .iter()
        .map(|e| json!(fields.map(|f| e[f].clone())))
        .collect();
    assert_eq!(
        steps,
        vec![
            json!([1, "image.created", null, "queued"]),
            json!([2, "image.upload_started", "queued", "saving"]),
            json!([3, "image.uploaded", "saving", "active"]),
            json!([4, "image.tag_added", "active", "active"]),
            json!([5, "image.deactivated", "active", "deactivated"]),
        ]
    );
    assert_eq!(
        history[0]["actor"],
        json!({"user_id": "u1", "project_id": "p1"})
    );
    assert_eq!(history[2]["actor"]["project_id"], "imagefleet");
    assert_eq!(history[3]["correlation_id"], "req-history-1");
    assert_eq!(history[4]["actor"]["user_id"], "root");
    let generated = history[4]["correlation_id"].as_str().unwrap_or_default();
    assert!(generated.starts_with("req-"), "{generated}");
    for entry in &history {
        assert!(entry["command_id"].is_string(), "{entry}");
        assert!(
            entry["occurred_at"]
                .as_str()
                .is_some_and(|t| t.ends_with('Z'))
        );
    }
    app.stop().await;
}
