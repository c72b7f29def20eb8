//! Multi-store mode (Glance's `enabled_backends`) through the gateway, on named local
//! stores `fast` (the default) and `cold`: the stores discovery API (`info`), the
//! versions listed (`versions`), the image's `stores` and store locations (`view`), and
//! removing one store's copy of an image's data (`delete`).

mod delete;
mod info;
mod versions;
mod view;

use axum::http::{Method, StatusCode};
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use serde_json::json;
use std::path::PathBuf;

/// The stores of every test here, the first the default.
pub const STORES: &[&str] = &["fast", "cold"];

/// Creates an image and uploads `data` into `store` (`X-Image-Meta-Store`); returns its
/// id once it is active.
pub async fn upload_to(app: &TestApp, store: &str, data: &[u8]) -> String {
    let body = json!({"name": "stored", "disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().expect("an id").to_owned();
    let request = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(format!("/v2/images/{id}/file"))
        .header("x-project-id", owner().project_id)
        .header("x-user-id", owner().user_id)
        .header("x-roles", owner().roles.join(","))
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-store", store)
        .body(axum::body::Body::from(data.to_vec()))
        .expect("a request");
    let uploaded = app.send(request).await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT, "{}", uploaded.text);
    id
}

/// Where a store keeps an image's data.
pub fn blob(app: &TestApp, store: &str, id: &str) -> PathBuf {
    app.db.data_dir().join(store).join("images").join(id)
}

/// Puts a copy of an image's data from `fast` into `cold` and records both stores on
/// the image, as a finished copy-image would leave it (copy-image itself is not this
/// suite's subject).
pub async fn hold_in_both(app: &TestApp, id: &str) {
    let cold = blob(app, "cold", id);
    std::fs::create_dir_all(cold.parent().expect("a parent")).expect("the store directory");
    std::fs::copy(blob(app, "fast", id), &cold).expect("copy the data");
    let mut conn = app.db.conn().await.expect("a connection");
    diesel::sql_query("UPDATE images SET stores = ARRAY['fast', 'cold'] WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(id)
        .execute(&mut conn)
        .await
        .expect("record both stores");
}

/// `PUT` to `/file` without a store named.
pub async fn upload_default(app: &TestApp, data: &[u8]) -> String {
    let body = json!({"name": "stored", "disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().expect("an id").to_owned();
    let uploaded = app
        .request(
            Method::PUT,
            &format!("/v2/images/{id}/file"),
            Some(&owner()),
            Some(("application/octet-stream", data.to_vec())),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT, "{}", uploaded.text);
    id
}
