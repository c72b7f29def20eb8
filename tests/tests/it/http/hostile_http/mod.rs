//! Hostile HTTP input against the gateway: malformed ids, bodies, numbers, JSON
//! patches, query strings and oversized requests. Every case must get a Glance-shaped
//! 4xx (never a 5xx, never a success) and change nothing: the image's document and the
//! event log are the same afterwards. `cases` holds the table; `transport` sends
//! what only a real HTTP connection can carry (oversized headers, raw bytes in the
//! request line).

mod cases;
mod transport;

use axum::body::Body;
use axum::http::{Method, Request};
use diesel::QueryDsl;
use diesel_async::RunQueryDsl;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::json;

use crate::http::api_images::{create_image, id_of};

/// One hostile request.
pub struct Case {
    /// What it tries, for the failure message.
    pub name: &'static str,
    pub method: Method,
    /// The path and query; `{id}` stands for the test image's id.
    pub path: String,
    pub content_type: Option<&'static str>,
    pub body: Vec<u8>,
    /// The status Glance gives, where one is certain; otherwise any 4xx.
    pub status: Option<u16>,
}

/// How many events the test database holds.
async fn event_count(app: &TestApp) -> i64 {
    use db::schema::events::dsl::events;
    let mut conn = app.db.conn().await.expect("a connection");
    events
        .count()
        .get_result(&mut conn)
        .await
        .expect("events count")
}

async fn send(app: &TestApp, case: &Case, id: &str) -> TestResponse {
    let actor = owner();
    let mut builder = Request::builder()
        .method(case.method.clone())
        .uri(case.path.replace("{id}", id))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    if let Some(content_type) = case.content_type {
        builder = builder.header("content-type", content_type);
    }
    let request = builder
        .body(Body::from(case.body.clone()))
        .expect("the test builds a valid request object");
    app.send(request).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hostile_request_is_a_glance_shaped_4xx_and_changes_nothing() {
    let app = TestApp::start().await;
    let image = create_image(
        &app,
        &owner(),
        json!({"name": "target", "disk_format": "raw", "container_format": "bare"}),
    )
    .await;
    let id = id_of(&image);
    let path = format!("/v2/images/{id}");
    let before = app.get(&path, &owner()).await.json;
    let events_before = event_count(&app).await;

    let mut failures = Vec::new();
    for case in cases::all() {
        let response = send(&app, &case, &id).await;
        let status = response.status.as_u16();
        let shaped = response.json["code"] == status
            && response.json["title"].is_string()
            && response.json["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty());
        let expected = case
            .status
            .map_or((400..500).contains(&status), |s| s == status);
        if !expected || !shaped {
            failures.push(format!(
                "{}: {} {} -> {status} {}",
                case.name,
                case.method,
                case.path,
                response.text.chars().take(300).collect::<String>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    assert_eq!(
        app.get(&path, &owner()).await.json,
        before,
        "the image is unchanged"
    );
    assert_eq!(
        event_count(&app).await,
        events_before,
        "no event was written"
    );
    app.stop().await;
}
