//! `/v2/images` and `/v2/images/{id}` through the gateway's router with a worker and the
//! real Postgres and RabbitMQ behind it (SPEC 4-7, 11, 12): create, show, list, JSON-patch,
//! delete, Glance-shaped errors, 405s, and concurrent patches that lose no update.

mod concurrent;
mod create;
mod delete;
mod list;
mod patch;
mod show;

use axum::http::{StatusCode, header};
use domain::Actor;
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::Value;

/// Creates an image as `actor`, asserting 201; returns its JSON.
pub async fn create_image(app: &TestApp, actor: &Actor, body: Value) -> Value {
    let response = app.post_json("/v2/images", actor, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    response.json
}

/// The `id` of an image's JSON.
pub fn id_of(image: &Value) -> String {
    image["id"].as_str().expect("image id").to_owned()
}

/// The path of an image.
pub fn path_of(image: &Value) -> String {
    format!("/v2/images/{}", id_of(image))
}

/// A header as text.
pub fn header_of<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The response carries the request id every answer must have (SPEC 11).
pub fn assert_request_id(response: &TestResponse) {
    let id = header_of(response, "x-openstack-request-id").unwrap_or_default();
    assert!(id.starts_with("req-"), "request id: {:?}", response.headers);
}

/// A Glance-shaped JSON error with this status: `code`, `title`, `message`, typed
/// `application/json`, with a request id.
#[track_caller]
pub fn assert_error(response: &TestResponse, status: StatusCode) {
    assert_eq!(response.status, status, "{}", response.text);
    assert_eq!(
        header_of(response, header::CONTENT_TYPE.as_str()),
        Some("application/json"),
        "{:?}",
        response.headers
    );
    assert_eq!(response.json["code"], status.as_u16(), "{}", response.text);
    assert!(response.json["title"].is_string(), "{}", response.text);
    let message = response.json["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{}", response.text);
    assert_request_id(response);
}

/// The `ETag` of an image answer: its version, quoted.
#[track_caller]
pub fn assert_etag(response: &TestResponse, version: i64) {
    assert_eq!(
        header_of(response, header::ETAG.as_str()),
        Some(format!("\"{version}\"").as_str()),
        "{:?}",
        response.headers
    );
}
