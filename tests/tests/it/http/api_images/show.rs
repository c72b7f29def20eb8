//! `GET /v2/images/{id}` (SPEC 4, 7): the image with its `ETag` for those who may see it,
//! 404 for everyone else and for ids that are not UUIDs; and the 405s of the image paths.

use axum::http::{Method, StatusCode};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, other, owner, reader};
use serde_json::json;

use super::{assert_error, assert_etag, assert_request_id, create_image, header_of, path_of};

#[tokio::test(flavor = "multi_thread")]
async fn owner_reader_and_admin_see_a_private_image_others_do_not() {
    let app = TestApp::start().await;
    let image = create_image(
        &app,
        &owner(),
        json!({"name": "p", "visibility": "private"}),
    )
    .await;
    let path = path_of(&image);
    for actor in [owner(), reader(), admin()] {
        let response = app.get(&path, &actor).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.text);
        assert_eq!(response.json, image);
        assert_etag(&response, 1);
        assert_request_id(&response);
    }
    let hidden = app.get(&path, &other()).await;
    assert_error(&hidden, StatusCode::NOT_FOUND);
    let shared = create_image(&app, &owner(), json!({"name": "s"})).await;
    assert_error(
        &app.get(&path_of(&shared), &other()).await,
        StatusCode::NOT_FOUND,
    );
    let community = create_image(&app, &owner(), json!({"visibility": "community"})).await;
    assert_eq!(
        app.get(&path_of(&community), &other()).await.status,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_and_malformed_ids_are_not_found() {
    let app = TestApp::start().await;
    for path in [
        "/v2/images/not-a-uuid",
        "/v2/images/12345",
        "/v2/images/4a1c4bde-1d8a-4c7e-9e57-3c2b8a9d0e1f",
    ] {
        assert_error(&app.get(path, &owner()).await, StatusCode::NOT_FOUND);
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_methods_answer_405_with_allow() {
    let app = TestApp::start().await;
    let image = create_image(&app, &owner(), json!({})).await;
    let cases = [
        (Method::PUT, "/v2/images".to_owned(), &["GET", "POST"][..]),
        (
            Method::DELETE,
            "/v2/images".to_owned(),
            &["GET", "POST"][..],
        ),
        (
            Method::POST,
            path_of(&image),
            &["GET", "PATCH", "DELETE"][..],
        ),
        (
            Method::PUT,
            path_of(&image),
            &["GET", "PATCH", "DELETE"][..],
        ),
    ];
    for (method, path, allowed) in cases {
        let response = app.request(method, &path, Some(&owner()), None).await;
        assert_error(&response, StatusCode::METHOD_NOT_ALLOWED);
        let allow = header_of(&response, "allow").unwrap_or_default().to_owned();
        for method in allowed {
            assert!(
                allow.contains(method),
                "{path}: Allow {allow} lacks {method}"
            );
        }
    }
    app.stop().await;
}
