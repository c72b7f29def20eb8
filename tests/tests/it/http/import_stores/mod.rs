//! Imports in multi-store mode through the gateway with a worker on named local stores
//! ("fast", the default, and "cold"): glance-direct and web-download into several
//! stores with the image's store lists while the import runs and at its end,
//! `all_stores_must_succeed` with a store that fails, copy-image between stores, and
//! every refusal of the request (Glance's answers). The S3 ones are under `http::s3`.

mod copy;
mod direct;
mod refusals;
mod web;

use std::path::PathBuf;

use axum::http::StatusCode;
use domain::{Actor, Image, ImageId};
use imagefleet_tests::fixtures::owner;
pub use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::{Value, json};
use store::{NamedStore, StoreKind};

pub use crate::http::image_data::{DEADLINE, new_image, pattern, put_data};

/// The stores of every test here; "fast" is the default.
pub const STORES: [&str; 2] = ["fast", "cold"];

/// `POST /import` as `actor` with `body`.
pub async fn import_as(app: &TestApp, actor: &Actor, id: &str, body: Value) -> TestResponse {
    app.post_json(&format!("/v2/images/{id}/import"), actor, body)
        .await
}

/// The image as the database holds it (its `stores` among the rest).
pub async fn stored_image(app: &TestApp, id: &str) -> Image {
    let id = ImageId::parse(id).expect("an image id");
    let mut conn = app.db.conn().await.expect("connection");
    db::document::image_by_id(&mut conn, id.as_uuid())
        .await
        .expect("read")
        .expect("the image exists")
}

/// The image's only import task once it ended.
pub async fn finished_task(app: &TestApp, id: &str) -> Value {
    let path = format!("/v2/images/{id}/tasks");
    let admin = imagefleet_tests::fixtures::admin();
    let mut task = Value::Null;
    wait_until(DEADLINE, "the import task ends", async || {
        task = app.get(&path, &admin).await.json["tasks"][0].clone();
        task["status"] == "success" || task["status"] == "failure"
    })
    .await
    .expect("the task ends");
    task
}

/// An owner's raw image with `data` staged, ready for glance-direct.
pub async fn staged_image(app: &TestApp, data: &[u8]) -> String {
    let id = new_image(app, &owner(), "raw").await;
    let staged = put_data(
        app,
        &owner(),
        &format!("/v2/images/{id}/stage"),
        data.to_vec(),
    )
    .await;
    assert_eq!(staged.status, StatusCode::NO_CONTENT, "{}", staged.text);
    id
}

/// An owner's raw image with `data` uploaded to the default store, active.
pub async fn uploaded_image(app: &TestApp, data: &[u8]) -> String {
    let id = new_image(app, &owner(), "raw").await;
    let put = put_data(
        app,
        &owner(),
        &format!("/v2/images/{id}/file"),
        data.to_vec(),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    id
}

/// The directory of a named local store.
pub fn store_dir(app: &TestApp, store: &str) -> PathBuf {
    let stores = app.stores();
    let Some(NamedStore {
        kind: StoreKind::File { dir },
        ..
    }) = stores.get(store)
    else {
        panic!("{store} is a local store")
    };
    dir.clone()
}

/// Every file under a store's image area, partial writes included.
pub fn image_files(app: &TestApp, store: &str) -> Vec<String> {
    let dir = store_dir(app, store).join("images");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Makes a store fail every write: its image area becomes a plain file.
pub fn break_store(app: &TestApp, store: &str) {
    let area = store_dir(app, store).join("images");
    let _ = std::fs::remove_dir_all(&area);
    std::fs::write(&area, b"not a directory").expect("the store's image area is replaced");
}

/// `GET /v2/images/{id}/file` as the owner: the bytes served.
pub async fn download(app: &TestApp, id: &str) -> Vec<u8> {
    let got = app.get(&format!("/v2/images/{id}/file"), &owner()).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    got.bytes.to_vec()
}

/// The glance-direct method object.
pub fn glance_direct() -> Value {
    json!({"name": "glance-direct"})
}
