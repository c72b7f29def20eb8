//! `GET /v2/schemas/*` and `/v2/info/*` (SPEC 4): schemas whose vocabularies are the
//! domain's and that the served documents validate against; the import methods, the
//! single store's 404, and usage counted per project.

use axum::http::Method as M;
use chrono::{Duration, Utc};
use domain::command::{ImageRef, Leased, StagedData};
use domain::status::{
    ContainerFormat, DiskFormat, ImageStatus, MemberStatus, TaskStatus, TaskType, Visibility,
};
use domain::{Actor, Command, DomainConfig};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, begin_upload, other, owner, reader};
use serde_json::{Value, json};

use super::super::api_sharing::{activate, apply, expect_all, image, repo, stored};
use super::{create_task, get_ok};

/// The Glance spellings of a vocabulary, sorted.
fn spellings<T: std::fmt::Display>(all: &[T]) -> Vec<String> {
    let mut all: Vec<String> = all.iter().map(ToString::to_string).collect();
    all.sort();
    all
}

/// The strings of a schema's `enum`, sorted (`null` left out).
fn enum_of(schema: &Value, property: &str) -> Vec<String> {
    let values = schema["properties"][property]["enum"].as_array();
    let mut values: Vec<String> = values
        .map(|v| {
            v.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    values.sort();
    values
}

/// `instance` is valid against the schema served as `name`.
async fn assert_valid(app: &TestApp, name: &str, instance: &Value) {
    let schema = get_ok(app, &format!("/v2/schemas/{name}"), reader()).await;
    assert_eq!(schema["name"], name);
    let validator = jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{name}: {errors:?} in {instance}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schemas_describe_what_is_served() {
    let app = TestApp::start().await;
    let image_schema = get_ok(&app, "/v2/schemas/image", reader()).await;
    let vocabularies = [
        ("status", spellings(ImageStatus::ALL)),
        ("visibility", spellings(Visibility::ALL)),
        ("disk_format", spellings(DiskFormat::ALL)),
        ("container_format", spellings(ContainerFormat::ALL)),
    ];
    for (property, expected) in vocabularies {
        assert_eq!(enum_of(&image_schema, property), expected, "{property}");
    }
    let disk_formats = &image_schema["properties"]["disk_format"]["enum"];
    assert_eq!(disk_formats[0], Value::Null, "an unset format is allowed");
    assert_eq!(
        image_schema["additionalProperties"],
        json!({"type": "string"})
    );
    let member = get_ok(&app, "/v2/schemas/member", reader()).await;
    assert_eq!(enum_of(&member, "status"), spellings(MemberStatus::ALL));
    let task = get_ok(&app, "/v2/schemas/task", reader()).await;
    assert_eq!(enum_of(&task, "status"), spellings(TaskStatus::ALL));
    assert_eq!(enum_of(&task, "type"), spellings(TaskType::ALL));
    let images = get_ok(&app, "/v2/schemas/images", reader()).await;
    assert_eq!(images["properties"]["images"]["items"], image_schema);
    assert_eq!(images["links"][1], json!({"rel": "next", "href": "{next}"}));
    let members = get_ok(&app, "/v2/schemas/members", reader()).await;
    assert_eq!(members["properties"]["members"]["items"], member);
    let tasks = get_ok(&app, "/v2/schemas/tasks", reader()).await;
    let listed = &tasks["properties"]["tasks"]["items"]["properties"];
    assert!(
        listed.get("input").is_none() && listed.get("status").is_some(),
        "{tasks}"
    );
    let unknown = (M::GET, "/v2/schemas/widget".into(), reader(), None, 404);
    expect_all(&app, vec![unknown]).await;

    // What the gateway serves validates against what it describes.
    let repo = repo(&app, DomainConfig::default());
    let id = image(&repo, &owner(), Visibility::Shared).await;
    activate(&repo, id, 5).await;
    let mut shown = stored(&app, id).await;
    shown.properties.insert("os_distro".into(), "debian".into());
    assert_valid(
        &app,
        "image",
        &api_gateway::view::image(&shown, false, &app.db.stores()),
    )
    .await;
    let body = json!({"member": "p2"});
    let members_path = format!("/v2/images/{id}/members");
    let added = app.post_json(&members_path, &owner(), body).await;
    assert_valid(&app, "member", &added.json).await;
    assert_valid(&app, "members", &get_ok(&app, &members_path, owner()).await).await;
    let task = create_task(&app, admin(), "http://a.example/1").await;
    assert_valid(&app, "task", &task).await;
    assert_valid(&app, "tasks", &get_ok(&app, "/v2/tasks", admin()).await).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn info_reports_methods_stores_and_project_usage() {
    let app = TestApp::start().await;
    let import = get_ok(&app, "/v2/info/import", reader()).await;
    let methods = json!({"description": "Import methods available.", "type": "array",
                         "value": ["glance-direct", "web-download"]});
    assert_eq!(import, json!({ "import-methods": methods }));
    let stores = (M::GET, "/v2/info/stores".into(), reader(), None, 404);
    let usage_post = (M::POST, "/v2/info/usage".into(), reader(), None, 405);
    expect_all(&app, vec![stores, usage_post]).await;
    let anonymous = app.request(M::GET, "/v2/info/usage", None, None).await;
    assert_eq!(anonymous.status.as_u16(), 401, "{}", anonymous.text);

    // p1: two active images (100 and 50 bytes), one saving, one with 70 bytes staged
    // (counted as staged only, as Glance counts it), one queued and one deleted (not
    // counted); p2: one queued.
    let repo = repo(&app, DomainConfig::default());
    for size in [100, 50] {
        let id = image(&repo, &owner(), Visibility::Private).await;
        activate(&repo, id, size).await;
    }
    let saving = image(&repo, &owner(), Visibility::Private).await;
    apply(&repo, owner(), begin_upload(saving)).await;
    let staging = image(&repo, &owner(), Visibility::Private).await;
    let lease_expires_at = Utc::now() + Duration::hours(1);
    let stage = Leased {
        image_id: staging,
        lease_expires_at,
    };
    apply(&repo, owner(), Command::BeginStage(stage)).await;
    let staged = StagedData {
        image_id: staging,
        size: Some(70),
    };
    apply(&repo, Actor::service(), Command::CompleteStage(staged)).await;
    image(&repo, &owner(), Visibility::Private).await;
    let deleted = image(&repo, &owner(), Visibility::Private).await;
    activate(&repo, deleted, 1000).await;
    let delete = ImageRef {
        image_id: deleted,
        expected_version: None,
    };
    apply(&repo, owner(), Command::DeleteImage(delete)).await;
    image(&repo, &other(), Visibility::Private).await;

    let usage = |size: i64, count: i64, staged: i64, uploading: i64| {
        let entry = |n: i64| json!({"limit": -1, "usage": n});
        json!({"usage": {
            "image_size_total": entry(size), "image_count_total": entry(count),
            "image_stage_total": entry(staged), "image_count_uploading": entry(uploading)}})
    };
    let expected = [
        (owner(), usage(150, 5, 70, 2)),
        (reader(), usage(150, 5, 70, 2)),
        (other(), usage(0, 1, 0, 0)),
        (admin(), usage(0, 0, 0, 0)),
    ];
    for (actor, expected) in expected {
        let project = actor.project_id.clone();
        let usage = get_ok(&app, "/v2/info/usage", actor).await;
        assert_eq!(usage, expected, "{project}");
    }
    app.stop().await;
}
