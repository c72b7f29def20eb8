//! The S3 store against a real S3-compatible server: moto's server mode (PyPI
//! `moto[server]`, in the client tests' virtualenv), one process and bucket per test
//! (see `S3Server`). Upload, ranged download and delete through the gateway; a gateway
//! killed mid-multipart-upload (no object, the upload aborted by the janitor); and the
//! server down mid-download (the client's download fails, nothing is corrupted); and
//! the store's listing and abort of incomplete uploads that the janitor relies on;
//! copy-image between a local store and S3, a worker killed mid-copy among them.

mod copy_image;
mod crash;
mod outage;
mod round_trip;
mod uploads;

use std::time::Duration;

use axum::http::{Method, StatusCode};
use domain::Actor;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::{TestApp, TestResponse};

use crate::http::image_data::{image, new_image, put_data};

/// The prefix of the tests' store in its bucket (`s3://bucket/site`).
const PREFIX: &str = "site";

/// A multipart grace that keeps every upload: moto reports each upload as begun on
/// 2010-11-10 (a fixed date in its answer), so only a grace longer than that keeps the
/// janitors of the apps' workers from aborting an upload while it runs.
const KEEP_UPLOADS: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// How long a failing S3 request is retried: IMAGEFLEET_STORE_RETRY_TIMEOUT's default
/// (moto, a threaded Python server, resets a connection now and then under load).
const RETRY: Duration = Duration::from_secs(180);

/// More than one 5 MiB part of a multipart upload, and not a whole number of them.
const IMAGE_SIZE: usize = (11 << 20) + 12_345;

/// The key of an image's data in the bucket.
fn image_key(id: &str) -> String {
    format!("{PREFIX}/images/{id}")
}

/// Creates a raw image of the owner's, uploads `data` with one `PUT /file` (a 204) and
/// returns its id and its document, active.
async fn upload_active(app: &TestApp, data: &[u8]) -> (String, serde_json::Value) {
    let id = new_image(app, &owner(), "raw").await;
    let put = put_data(
        app,
        &owner(),
        &format!("/v2/images/{id}/file"),
        data.to_vec(),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    let stored = image(app, &owner(), &id).await;
    assert_eq!(stored["status"], "active", "{stored}");
    (id, stored)
}

/// `GET /v2/images/{id}/file` as `actor`, with an optional `Range` header.
async fn get_file(app: &TestApp, actor: &Actor, id: &str, range: Option<&str>) -> TestResponse {
    let mut request = axum::http::Request::builder()
        .method(Method::GET)
        .uri(format!("/v2/images/{id}/file"))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    if let Some(range) = range {
        request = request.header("range", range);
    }
    let response = app
        .send(request.body(axum::body::Body::empty()).expect("request"))
        .await;
    assert!(
        matches!(
            response.status,
            StatusCode::OK | StatusCode::PARTIAL_CONTENT
        ),
        "GET file: {} {}",
        response.status,
        response.text
    );
    response
}
