//! Who may do what to a private image of `p1` over HTTP (SPEC 2, 7): its owner (member
//! and reader of p1), a reader of p1, a member of another project and an admin. Not
//! visible is 404, visible but not allowed 403; deactivating a queued image is 403 for
//! everyone who sees it (wrong status), which the same action on an active image tells
//! apart from a refusal.

use axum::http::StatusCode;
use domain::{Actor, DomainConfig, ImageId};
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

use super::assert_json_error;
use crate::http::api_sharing::{activate, repo};

/// The four callers, in the order of the expected statuses.
fn actors() -> [(&'static str, Actor); 4] {
    [
        ("owner", owner()),
        ("reader", reader()),
        ("other", other()),
        ("admin", admin()),
    ]
}

/// A private queued image of p1; its id.
async fn private_image(app: &TestApp, name: &str) -> String {
    let body = json!({"name": name, "visibility": "private", "disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    created.json["id"].as_str().expect("id").to_owned()
}

/// The status must be `expected`; a refusal must be Glance-shaped.
#[track_caller]
fn assert_cell(operation: &str, who: &str, response: &TestResponse, expected: u16) {
    assert_eq!(
        response.status.as_u16(),
        expected,
        "{operation} as {who}: {}",
        response.text
    );
    if expected >= 400 {
        assert_json_error(response, response.status);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_role_on_a_private_image() {
    let app = TestApp::start().await;
    let id = private_image(&app, "matrix").await;
    let path = format!("/v2/images/{id}");

    for ((who, actor), expected) in actors().iter().zip([200, 200, 404, 200]) {
        let response = app.get(&path, actor).await;
        assert_cell("GET", who, &response, expected);
    }
    for ((who, actor), expected) in actors().iter().zip([200, 403, 404, 200]) {
        let rename = json!([{"op": "replace", "path": "/name", "value": format!("by-{who}")}]);
        let response = app.patch(&path, actor, rename).await;
        assert_cell("PATCH /name", who, &response, expected);
    }
    for ((who, actor), expected) in actors().iter().zip([204, 403, 404, 204]) {
        let response = app.put(&format!("{path}/tags/by-{who}"), actor).await;
        assert_cell("PUT tag", who, &response, expected);
    }
    for ((who, actor), expected) in actors().iter().zip([201, 403, 201, 201]) {
        let body = json!({"name": format!("created-by-{who}")});
        let response = app.post_json("/v2/images", actor, body).await;
        assert_cell("POST /v2/images", who, &response, expected);
        if expected == 201 {
            assert_eq!(response.json["owner"], actor.project_id.as_str());
        }
    }
    for ((who, actor), expected) in actors().iter().zip([403, 403, 404, 403]) {
        let response = app.post(&format!("{path}/actions/deactivate"), actor).await;
        assert_cell("deactivate (queued)", who, &response, expected);
    }
    for ((who, actor), expected) in actors().iter().zip([204, 403, 404, 204]) {
        let doomed = private_image(&app, &format!("doomed-for-{who}")).await;
        let response = app.delete(&format!("/v2/images/{doomed}"), actor).await;
        assert_cell("DELETE", who, &response, expected);
        let after = app.get(&format!("/v2/images/{doomed}"), &owner()).await;
        let gone = if expected == 204 { 404 } else { 200 };
        assert_eq!(after.status.as_u16(), gone, "after DELETE as {who}");
    }

    // What the allowed changes left: the admin's name, the two allowed tags, queued.
    let image: Value = app.get(&path, &owner()).await.json;
    assert_eq!(image["name"], "by-admin");
    assert_eq!(image["status"], "queued");
    let mut tags: Vec<&str> = image["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    tags.sort_unstable();
    assert_eq!(tags, ["by-admin", "by-owner"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deactivating_an_active_private_image() {
    let app = TestApp::start().await;
    let id = private_image(&app, "active").await;
    let image_id = ImageId::parse(&id).expect("image id");
    activate(&repo(&app, DomainConfig::default()), image_id, 4).await;
    let path = format!("/v2/images/{id}/actions/deactivate");
    for ((who, actor), expected) in actors().iter().zip([204, 403, 404, 204]) {
        let response = app.post(&path, actor).await;
        assert_cell("deactivate (active)", who, &response, expected);
    }
    let image = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(image.json["status"], "deactivated", "{}", image.text);
    app.stop().await;
}
