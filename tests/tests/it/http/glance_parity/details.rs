//! Glance 33's response details: the 204's `Content-Type`, the size a staging shows, and
//! the custom properties of `GET /v2/schemas/image` with the constraints they carry.

use axum::http::{Method, StatusCode};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{owner, reader};
use serde_json::json;

use super::{header, send};

#[tokio::test(flavor = "multi_thread")]
async fn a_204_is_empty_and_typed_text_html_as_glance_33_sends_it() {
    let app = TestApp::start().await;
    let created = app.post_json("/v2/images", &owner(), json!({})).await;
    let id = created.json["id"].as_str().expect("an id").to_owned();
    let tagged = app
        .put(&format!("/v2/images/{id}/tags/web"), &owner())
        .await;
    let deleted = app.delete(&format!("/v2/images/{id}"), &owner()).await;
    for answer in [tagged, deleted] {
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
        assert_eq!(header(&answer, "content-type"), "text/html; charset=UTF-8");
        assert!(answer.bytes.is_empty());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn staging_sets_the_images_size() {
    let app = TestApp::start().await;
    let body = json!({"disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    let id = created.json["id"].as_str().expect("an id").to_owned();
    let staged = app
        .request(
            Method::PUT,
            &format!("/v2/images/{id}/stage"),
            Some(&owner()),
            Some(("application/octet-stream", b"hello".to_vec())),
        )
        .await;
    assert_eq!(staged.status, StatusCode::NO_CONTENT, "{}", staged.text);
    let shown = app.get(&format!("/v2/images/{id}"), &reader()).await;
    assert_eq!(shown.json["status"], json!("uploading"), "{}", shown.text);
    assert_eq!(shown.json["size"], json!(5), "{}", shown.text);
    assert_eq!(
        shown.json["checksum"],
        json!(null),
        "digests come with the import"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_image_schema_lists_glances_custom_properties_and_they_are_checked() {
    let app = TestApp::start().await;
    let schema = app.get("/v2/schemas/image", &reader()).await.json;
    let properties = &schema["properties"];
    for custom in [
        "kernel_id",
        "ramdisk_id",
        "instance_uuid",
        "architecture",
        "os_distro",
        "os_version",
        "description",
        "cinder_encryption_key_id",
        "cinder_encryption_key_deletion_policy",
    ] {
        assert_eq!(properties[custom]["is_base"], json!(false), "{custom}");
    }
    assert!(
        properties["name"].get("is_base").is_none(),
        "core stays base"
    );
    let kernel = "8e5a9c1e-6f0b-4f43-9d55-0d3c1e2f4a5b";
    let fine = json!({"kernel_id": kernel, "os_distro": "debian",
        "cinder_encryption_key_deletion_policy": "do_not_delete"});
    let created = app.post_json("/v2/images", &owner(), fine).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.json["kernel_id"], json!(kernel));
    for refused in [
        json!({"kernel_id": "not-an-image-id"}),
        json!({"ramdisk_id": "8e5a9c1e6f0b4f439d550d3c1e2f4a5b"}),
        json!({"cinder_encryption_key_deletion_policy": "sometimes"}),
    ] {
        let answer = app.post_json("/v2/images", &owner(), refused.clone()).await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{refused}: {}",
            answer.text
        );
    }
    let id = created.json["id"].as_str().expect("an id");
    let patch = json!([{"op": "replace", "path": "/kernel_id", "value": "nope"}]);
    let patched = app
        .patch(&format!("/v2/images/{id}"), &owner(), patch)
        .await;
    assert_eq!(patched.status, StatusCode::BAD_REQUEST, "{}", patched.text);
    let listed = send(&app, Method::GET, "/v2/images", &owner(), &[], None).await;
    assert_eq!(listed.json["images"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}
