//! `DELETE /v2/images/{id}` (SPEC 2, 4): 204 and gone, protected images refused even to
//! admins, readers refused, hidden and unknown images not found.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::json;

use super::{assert_error, create_image, header_of, path_of};

#[tokio::test(flavor = "multi_thread")]
async fn delete_then_gone() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({"name": "doomed"})).await;
    let path = path_of(&image);
    assert_error(&app.delete(&path, &reader()).await, StatusCode::FORBIDDEN);
    assert_error(&app.delete(&path, &other()).await, StatusCode::NOT_FOUND);
    let response = app.delete(&path, &owner()).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT, "{}", response.text);
    assert_eq!(response.text, "");
    assert_eq!(
        header_of(&response, "content-type"),
        Some("text/html; charset=UTF-8")
    );
    assert_error(&app.get(&path, &owner()).await, StatusCode::NOT_FOUND);
    assert_error(&app.delete(&path, &owner()).await, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get("/v2/images", &owner()).await.json["images"],
        json!([])
    );
    assert_error(
        &app.delete("/v2/images/nope", &owner()).await,
        StatusCode::NOT_FOUND,
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn protected_images_are_not_deleted() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({"protected": true})).await;
    let path = path_of(&image);
    for actor in [owner(), admin()] {
        assert_error(&app.delete(&path, &actor).await, StatusCode::FORBIDDEN);
    }
    assert_eq!(app.get(&path, &owner()).await.status, StatusCode::OK);
    let unprotect = json!([{"op": "replace", "path": "/protected", "value": false}]);
    assert_eq!(
        app.patch(&path, &owner(), unprotect).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.delete(&path, &owner()).await.status,
        StatusCode::NO_CONTENT
    );
    app.stop().await;
}
