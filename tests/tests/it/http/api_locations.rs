//! `GET /v2/images/{id}/locations`: admins see the locations, other callers who may see
//! the image get 403, the rest 404.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn locations_are_listed_for_admins_only() {
    let app = TestApp::start().await;
    let created = app
        .post_json(
            "/v2/images",
            &owner(),
            json!({"name": "loc", "visibility": "private"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let path = format!(
        "/v2/images/{}/locations",
        created.json["id"].as_str().expect("id")
    );
    let admin_view = app.get(&path, &admin()).await;
    assert_eq!(
        (admin_view.status, admin_view.json.clone()),
        (StatusCode::OK, json!([]))
    );
    assert_eq!(app.get(&path, &owner()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get(&path, &reader()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get(&path, &other()).await.status, StatusCode::NOT_FOUND);
    app.stop().await;
}
