//! `PATCH /v2/images/{id}` (SPEC 6, 12): core and extra properties, both media types,
//! the 400s of malformed patches, 403 for read-only and reserved attributes, 409 for
//! missing properties, 404 before anything else for hidden images, and `If-Match`.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use imagefleet_tests::fixtures::{other, owner, reader};
use imagefleet_tests::{TestApp, TestResponse};
use serde_json::{Value, json};

use super::{assert_error, assert_etag, create_image, path_of};

const MEDIA: &str = "application/openstack-images-v2.1-json-patch";

/// A PATCH as the owner with any content type, body and `If-Match`.
async fn patch_raw(
    app: &TestApp,
    path: &str,
    media: &str,
    body: &str,
    if_match: Option<&str>,
) -> TestResponse {
    let actor = owner();
    let mut builder = Request::builder()
        .method(Method::PATCH)
        .uri(path)
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .header("content-type", media);
    if let Some(tag) = if_match {
        builder = builder.header("if-match", tag);
    }
    app.send(builder.body(Body::from(body.to_owned())).expect("request"))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn core_and_extra_properties_change_one_version_at_a_time() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({"name": "old", "keep": "k"})).await;
    let path = path_of(&image);
    let ops = json!([
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "add", "path": "/os_distro", "value": "debian"},
        {"op": "add", "path": "/a~1b~0c", "value": "escaped"},
        {"op": "replace", "path": "/min_ram", "value": 256},
    ]);
    let response = app.patch(&path, &owner(), ops).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_etag(&response, 2);
    for (key, expected) in [
        ("name", json!("new")),
        ("os_distro", json!("debian")),
        ("a/b~c", json!("escaped")),
        ("min_ram", json!(256)),
        ("keep", json!("k")),
    ] {
        assert_eq!(response.json[key], expected, "{key}: {}", response.json);
    }
    let shown = app.get(&path, &owner()).await;
    assert_eq!(shown.json, response.json);
    // `add` on an existing property replaces it; `remove` drops it.
    let ops = json!([
        {"op": "add", "path": "/os_distro", "value": "ubuntu"},
        {"op": "remove", "path": "/keep"},
    ]);
    let response = app.patch(&path, &owner(), ops).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.json["os_distro"], "ubuntu");
    assert!(response.json.get("keep").is_none(), "{}", response.json);
    assert_etag(&response, 3);
    // An empty list changes nothing.
    let response = app.patch(&path, &owner(), json!([])).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_etag(&response, 3);
    assert_eq!(response.json, app.get(&path, &owner()).await.json);
    // The draft-04 form of the v2.0 media type.
    let v20 = "application/openstack-images-v2.0-json-patch";
    let response = patch_raw(
        &app,
        &path,
        v20,
        r#"[{"replace": "/name", "value": "v20"}]"#,
        None,
    )
    .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(response.json["name"], "v20");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn media_type_and_malformed_patches() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({"k": "v"})).await;
    let path = path_of(&image);
    for media in [
        "application/json",
        "application/json-patch+json",
        "text/plain",
        "",
    ] {
        let response = patch_raw(&app, &path, media, "[]", None).await;
        assert_error(&response, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    let bad: [Value; 14] = [
        json!({"op": "add", "path": "/k", "value": "v"}),
        json!("add"),
        json!([["add", "/k"]]),
        json!([{"op": "test", "path": "/k", "value": "v"}]),
        json!([{"op": "move", "from": "/k", "path": "/j"}]),
        json!([{"op": "copy", "from": "/k", "path": "/j"}]),
        json!([{"op": "frobnicate", "path": "/k", "value": "v"}]),
        json!([{"path": "/k", "value": "v"}]),
        json!([{"op": "add", "value": "v"}]),
        json!([{"op": "add", "path": "k", "value": "v"}]),
        json!([{"op": "add", "path": "/k/nested", "value": "v"}]),
        json!([{"op": "add", "path": "/k"}]),
        json!([{"op": "replace", "path": "/name"}]),
        json!([{"op": "add", "path": "/k", "value": 5}]),
    ];
    for ops in bad {
        let response = app.patch(&path, &owner(), ops.clone()).await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    for body in ["", "[", "nul"] {
        assert_error(
            &patch_raw(&app, &path, MEDIA, body, None).await,
            StatusCode::BAD_REQUEST,
        );
    }
    assert_etag(&app.get(&path, &owner()).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_missing_and_hidden() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({"visibility": "private"})).await;
    let path = path_of(&image);
    for ops in [
        json!([{"op": "replace", "path": "/status", "value": "active"}]),
        json!([{"op": "add", "path": "/checksum", "value": "x"}]),
        json!([{"op": "add", "path": "/os_glance_import_task", "value": "x"}]),
        json!([{"op": "remove", "path": "/name"}]),
        json!([{"op": "replace", "path": "/visibility", "value": "public"}]),
        json!([{"op": "replace", "path": "/locations", "value": []}]),
    ] {
        assert_error(
            &app.patch(&path, &owner(), ops).await,
            StatusCode::FORBIDDEN,
        );
    }
    for ops in [
        json!([{"op": "replace", "path": "/missing", "value": "x"}]),
        json!([{"op": "remove", "path": "/missing"}]),
    ] {
        assert_error(&app.patch(&path, &owner(), ops).await, StatusCode::CONFLICT);
    }
    let rename = json!([{"op": "replace", "path": "/name", "value": "r"}]);
    assert_error(
        &app.patch(&path, &reader(), rename.clone()).await,
        StatusCode::FORBIDDEN,
    );
    // Hidden: 404 even when the request is malformed in every other way.
    let hidden = app
        .request(
            Method::PATCH,
            &path,
            Some(&other()),
            Some(("text/plain", b"{".to_vec())),
        )
        .await;
    assert_error(&hidden, StatusCode::NOT_FOUND);
    assert_error(
        &app.patch("/v2/images/nope", &owner(), rename).await,
        StatusCode::NOT_FOUND,
    );
    assert_etag(&app.get(&path, &owner()).await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn if_match_guards_the_version() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({})).await;
    let path = path_of(&image);
    let body = r#"[{"op": "add", "path": "/k", "value": "v"}]"#;
    let stale = patch_raw(&app, &path, MEDIA, body, Some("\"7\"")).await;
    assert_error(&stale, StatusCode::PRECONDITION_FAILED);
    for malformed in ["\"seven\"", "W/\"1\"", "\"1\", \"2\""] {
        let response = patch_raw(&app, &path, MEDIA, body, Some(malformed)).await;
        assert_error(&response, StatusCode::BAD_REQUEST);
    }
    let current = patch_raw(&app, &path, MEDIA, body, Some("\"1\"")).await;
    assert_eq!(current.status, StatusCode::OK, "{}", current.text);
    assert_etag(&current, 2);
    let bare = patch_raw(&app, &path, MEDIA, body, Some("2")).await;
    assert_eq!(bare.status, StatusCode::OK, "{}", bare.text);
    let replayed = patch_raw(&app, &path, MEDIA, body, Some("\"2\"")).await;
    assert_error(&replayed, StatusCode::PRECONDITION_FAILED);
    app.stop().await;
}
