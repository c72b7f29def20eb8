//! Image data through the gateway with a worker, the real Postgres, RabbitMQ and a local
//! store (SPEC 2, 8, 9): upload and download with digests checked against `md5sum` and
//! `sha512sum`, failures that leave the image queued and no data, ranges, staging and
//! the interoperable import and its plugins, locations, and the 1 GiB memory check.

mod big;
mod download;
mod import;
mod locations;
mod plugins;
mod upload;

use axum::http::{Method, StatusCode};
use domain::Actor;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::{Value, json};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Long enough for a worker to apply a command and a job to copy a small image.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Creates a queued image as `actor` with these formats; returns its id.
pub async fn new_image(app: &TestApp, actor: &Actor, disk_format: &str) -> String {
    let body = json!({"name": "data", "disk_format": disk_format, "container_format": "bare"});
    let response = app.post_json("/v2/images", actor, body).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    response.json["id"].as_str().expect("id").to_owned()
}

/// `PUT` image data to `/file` or `/stage`, typed `application/octet-stream`.
pub async fn put_data(app: &TestApp, actor: &Actor, path: &str, data: Vec<u8>) -> TestResponse {
    app.request(
        Method::PUT,
        path,
        Some(actor),
        Some(("application/octet-stream", data)),
    )
    .await
}

/// The image as `actor` sees it.
pub async fn image(app: &TestApp, actor: &Actor, id: &str) -> Value {
    app.get(&format!("/v2/images/{id}"), actor).await.json
}

/// Waits until the image has `status` (as an admin sees it).
pub async fn wait_status(app: &TestApp, id: &str, status: &str) {
    let admin = imagefleet_tests::fixtures::admin();
    wait_until(DEADLINE, &format!("image {id} is {status}"), async || {
        image(app, &admin, id).await["status"] == status
    })
    .await
    .expect("the image reaches the status");
}

/// `md5sum` and `sha512sum` of `data`, from the tools themselves.
pub fn reference_digests(data: &[u8]) -> (String, String) {
    (tool_digest("md5sum", data), tool_digest("sha512sum", data))
}

fn tool_digest(tool: &str, data: &[u8]) -> String {
    let mut child = Command::new(tool)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("coreutils is installed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write to the tool");
    let output = child.wait_with_output().expect("the tool ends");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// Bytes that are not all alike, so a misplaced part would change the digests.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}
