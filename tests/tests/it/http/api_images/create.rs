//! `POST /v2/images` (SPEC 5): defaults, every writable field, client-chosen ids, the
//! 403s of read-only and reserved attributes and of non-admin owners and publishers, and
//! the 400s of wrong types, invalid values and unreadable bodies. Nothing refused is kept.

use axum::http::{Method, StatusCode};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::json;

use super::{assert_error, assert_etag, assert_request_id, create_image, header_of, id_of};

#[tokio::test(flavor = "multi_thread")]
async fn create_with_defaults() {
    let app = TestApp::start().await;
    let response = app.post_json("/v2/images", &owner(), json!({})).await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    let image = &response.json;
    let id = id_of(image);
    assert_eq!(
        header_of(&response, "location"),
        Some(format!("http://localhost/v2/images/{id}").as_str())
    );
    assert_eq!(
        header_of(&response, "openstack-image-import-methods"),
        Some("glance-direct,web-download")
    );
    assert_eq!(
        header_of(&response, "content-type"),
        Some("application/json")
    );
    assert_etag(&response, 1);
    assert_request_id(&response);
    for (key, expected) in [
        ("status", json!("queued")),
        ("visibility", json!("shared")),
        ("protected", json!(false)),
        ("os_hidden", json!(false)),
        ("min_disk", json!(0)),
        ("min_ram", json!(0)),
        ("name", json!(null)),
        ("disk_format", json!(null)),
        ("container_format", json!(null)),
        ("size", json!(null)),
        ("checksum", json!(null)),
        ("tags", json!([])),
        ("owner", json!("p1")),
        ("self", json!(format!("/v2/images/{id}"))),
        ("file", json!(format!("/v2/images/{id}/file"))),
        ("schema", json!("/v2/schemas/image")),
    ] {
        assert_eq!(image[key], expected, "{key} in {image}");
    }
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(&shown.json, image);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn create_with_every_field_an_id_and_extra_properties() {
    let app = TestApp::start().await;
    let id = "8e5a9c1e-6f0b-4f43-9d55-0d3c1e2f4a5b";
    let body = json!({
        "id": id, "name": "cirros", "visibility": "private", "protected": true,
        "os_hidden": true, "min_disk": 10, "min_ram": 512, "disk_format": "qcow2",
        "container_format": "bare", "tags": ["b", "a", "a"], "hw_disk_bus": "virtio",
        "os_distro": "cirros", "os_hash_value": "ignored at create",
    });
    // Glance reads the body as JSON whatever its type says.
    let text = body.to_string().into_bytes();
    let response = app
        .request(
            Method::POST,
            "/v2/images",
            Some(&owner()),
            Some(("text/plain", text)),
        )
        .await;
    assert_eq!(response.status, StatusCode::CREATED, "{}", response.text);
    let image = &response.json;
    assert_eq!(image["id"], id);
    assert_eq!(
        header_of(&response, "location"),
        Some(format!("http://localhost/v2/images/{id}").as_str())
    );
    for (key, expected) in [
        ("name", json!("cirros")),
        ("visibility", json!("private")),
        ("protected", json!(true)),
        ("os_hidden", json!(true)),
        ("min_disk", json!(10)),
        ("min_ram", json!(512)),
        ("disk_format", json!("qcow2")),
        ("container_format", json!("bare")),
        ("tags", json!(["a", "b"])),
        ("hw_disk_bus", json!("virtio")),
        ("os_distro", json!("cirros")),
        ("os_hash_value", json!(null)),
    ] {
        assert_eq!(image[key], expected, "{key} in {image}");
    }
    // A member may name its own project as owner (Glance allows it); an admin any.
    let mine = create_image(&app, &owner(), json!({"owner": "p1"})).await;
    assert_eq!(mine["owner"], "p1");
    let theirs = create_image(
        &app,
        &admin(),
        json!({"owner": "p9", "visibility": "public"}),
    )
    .await;
    assert_eq!(
        (&theirs["owner"], &theirs["visibility"]),
        (&json!("p9"), &json!("public"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn duplicate_and_malformed_ids() {
    let app = TestApp::start().await;
    let id = "0b7c9d2e-1a3f-4b5c-8d6e-7f8091a2b3c4";
    create_image(&app, &owner(), json!({"id": id})).await;
    let again = app
        .post_json("/v2/images", &owner(), json!({"id": id, "name": "x"}))
        .await;
    assert_error(&again, StatusCode::CONFLICT);
    for bad in [json!("not-a-uuid"), json!(12), json!(null)] {
        let response = app
            .post_json("/v2/images", &owner(), json!({"id": bad}))
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_only_reserved_and_privileged_attributes_are_forbidden() {
    let app = TestApp::start().await;
    for key in [
        "size",
        "status",
        "checksum",
        "virtual_size",
        "created_at",
        "updated_at",
        "locations",
        "direct_url",
        "self",
        "schema",
        "file",
        "os_glance_import_task",
    ] {
        let response = app
            .post_json("/v2/images", &owner(), json!({ key: "x" }))
            .await;
        assert_error(&response, StatusCode::FORBIDDEN);
        assert!(
            response.json["message"]
                .as_str()
                .unwrap_or_default()
                .contains(key)
        );
    }
    let cases = [
        (owner(), json!({"visibility": "public"})),
        (owner(), json!({"owner": "p2"})),
        (reader(), json!({"name": "r"})),
        (other(), json!({"owner": "p1"})),
    ];
    for (actor, body) in cases {
        let response = app.post_json("/v2/images", &actor, body.clone()).await;
        assert_error(&response, StatusCode::FORBIDDEN);
    }
    let listed = app.get("/v2/images", &admin()).await;
    assert_eq!(listed.json["images"], json!([]), "nothing refused was kept");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_types_and_values_are_bad_requests() {
    let app = TestApp::start().await;
    let long_name = "n".repeat(256);
    for body in [
        json!({"name": 5}),
        json!({"name": long_name}),
        json!({"visibility": "everyone"}),
        json!({"visibility": 1}),
        json!({"visibility": null}),
        json!({"protected": "yes"}),
        json!({"os_hidden": 1}),
        json!({"min_disk": -1}),
        json!({"min_disk": "1"}),
        json!({"min_ram": 1.5}),
        json!({"min_ram": 4_294_967_296_u64}),
        json!({"disk_format": "floppy"}),
        json!({"container_format": 3}),
        json!({"tags": "a"}),
        json!({"tags": [1]}),
        json!({"hw_disk_bus": 5}),
        json!({"hw_disk_bus": null}),
        json!({"hw_disk_bus": {"nested": "no"}}),
    ] {
        let response = app.post_json("/v2/images", &owner(), body.clone()).await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    // 255 characters is still a name.
    create_image(&app, &owner(), json!({"name": "n".repeat(255)})).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_bodies_are_bad_requests() {
    let app = TestApp::start().await;
    for body in [
        "{",
        "[]",
        "[{\"name\": \"a\"}]",
        "\"a string\"",
        "",
        "null",
        "42",
    ] {
        let response = app
            .request(
                Method::POST,
                "/v2/images",
                Some(&owner()),
                Some(("application/json", body.as_bytes().to_vec())),
            )
            .await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    let listed = app.get("/v2/images", &owner()).await;
    assert_eq!(listed.json["images"], json!([]));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_with_the_same_idempotency_key_creates_once() {
    let app = TestApp::start().await;
    let actor = owner();
    let send = || {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v2/images")
            .header("x-project-id", &actor.project_id)
            .header("x-user-id", &actor.user_id)
            .header("x-roles", actor.roles.join(","))
            .header("idempotency-key", "create-once")
            .body(axum::body::Body::from(r#"{"name": "once"}"#))
            .expect("request");
        app.send(request)
    };
    let first = send().await;
    let second = send().await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    assert_eq!(second.json, first.json);
    assert_eq!(
        header_of(&second, "location"),
        header_of(&first, "location")
    );
    let listed = app.get("/v2/images", &owner()).await;
    assert_eq!(listed.json["images"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}
