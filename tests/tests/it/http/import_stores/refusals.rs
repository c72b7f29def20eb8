//! The refusals of `POST /import` in multi-store mode, with Glance's statuses and
//! messages: the stores named two ways at once, non-boolean flags, an unknown store
//! (409, from Glance's `UnknownScheme`), and copy-image's order: not visible 404, not
//! an admin 403, not active 409, a named store already holding the image 400. In
//! single-store mode `all_stores_must_succeed` false is 400, and the import methods on
//! offer include copy-image only with several stores.

use super::*;
use axum::http::Method;
use imagefleet_tests::fixtures::{admin, other};

/// `POST /import` as `actor` with the `X-Image-Meta-Store` header.
async fn import_with_header(
    app: &TestApp,
    actor: &Actor,
    id: &str,
    store: &str,
    body: Value,
) -> TestResponse {
    let request = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/v2/images/{id}/import"))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .header("x-image-meta-store", store)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("request");
    app.send(request).await
}

fn refused(response: &TestResponse, status: StatusCode, message: &str) {
    assert_eq!(response.status, status, "{}", response.text);
    assert!(
        response.text.contains(message),
        "{message:?} in {}",
        response.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_named_two_ways_non_boolean_flags_and_unknown_stores_are_refused() {
    let app = TestApp::start_multi_store(&STORES).await;
    let id = staged_image(&app, &pattern(1000)).await;
    let direct = glance_direct();
    let both = import_with_header(
        &app,
        &owner(),
        &id,
        "cold",
        json!({"method": direct, "stores": ["fast"]}),
    )
    .await;
    refused(
        &both,
        StatusCode::BAD_REQUEST,
        "Stores parameter and x-image-meta-store header can't be both specified",
    );
    let all_and_stores = import_as(
        &app,
        &owner(),
        &id,
        json!({"method": direct, "all_stores": true, "stores": ["fast"]}),
    )
    .await;
    refused(
        &all_and_stores,
        StatusCode::BAD_REQUEST,
        "All_stores parameter can't be used",
    );
    let all_and_header = import_with_header(
        &app,
        &owner(),
        &id,
        "cold",
        json!({"method": direct, "all_stores": true}),
    )
    .await;
    refused(
        &all_and_header,
        StatusCode::BAD_REQUEST,
        "All_stores parameter can't be used",
    );
    let not_bool = import_as(
        &app,
        &owner(),
        &id,
        json!({"method": direct, "all_stores": "yes"}),
    )
    .await;
    refused(
        &not_bool,
        StatusCode::BAD_REQUEST,
        "'all_stores' must be boolean value only",
    );
    let not_bool = import_as(
        &app,
        &owner(),
        &id,
        json!({"method": direct, "all_stores_must_succeed": 1}),
    )
    .await;
    refused(
        &not_bool,
        StatusCode::BAD_REQUEST,
        "'all_stores_must_succeed' must be boolean value only",
    );
    let unknown = import_as(
        &app,
        &owner(),
        &id,
        json!({"method": direct, "stores": ["warm"]}),
    )
    .await;
    refused(
        &unknown,
        StatusCode::CONFLICT,
        "Unknown scheme 'warm' found in URI",
    );
    let unknown = import_with_header(&app, &owner(), &id, "warm", json!({"method": direct})).await;
    refused(&unknown, StatusCode::CONFLICT, "Unknown scheme 'warm'");
    // None of them changed anything: the staged image still imports.
    let accepted = import_as(&app, &owner(), &id, json!({"method": direct})).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &id).await["status"], "success");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_image_is_404_then_403_then_409_then_400_for_a_store_holding_it() {
    let app = TestApp::start_multi_store(&STORES).await;
    let active = uploaded_image(&app, &pattern(1000)).await;
    let copy = json!({"method": {"name": "copy-image"}, "stores": ["cold"]});
    let hidden = import_as(&app, &other(), &active, copy.clone()).await;
    assert_eq!(hidden.status, StatusCode::NOT_FOUND, "{}", hidden.text);
    let by_owner = import_as(&app, &owner(), &active, copy.clone()).await;
    assert_eq!(by_owner.status, StatusCode::FORBIDDEN, "{}", by_owner.text);
    let queued = new_image(&app, &owner(), "raw").await;
    let not_active = import_as(&app, &admin(), &queued, copy.clone()).await;
    refused(
        &not_active,
        StatusCode::CONFLICT,
        "Only images with status active can be targeted for copying",
    );
    let present = json!({"method": {"name": "copy-image"}, "stores": ["fast"]});
    let present = import_as(&app, &admin(), &active, present).await;
    refused(
        &present,
        StatusCode::BAD_REQUEST,
        "Image is already present at store 'fast'",
    );
    let unknown = json!({"method": {"name": "copy-image"}, "stores": ["warm"]});
    let unknown = import_as(&app, &admin(), &active, unknown).await;
    assert_eq!(unknown.status, StatusCode::CONFLICT, "{}", unknown.text);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_image_is_offered_only_with_several_stores() {
    let body = json!({"name": "offer", "disk_format": "raw", "container_format": "bare"});
    let multi = TestApp::start_multi_store(&STORES).await;
    let created = multi.post_json("/v2/images", &owner(), body.clone()).await;
    assert_eq!(
        created.headers["openstack-image-import-methods"],
        "glance-direct,web-download,copy-image"
    );
    multi.stop().await;
    let single = TestApp::start().await;
    let created = single.post_json("/v2/images", &owner(), body).await;
    assert_eq!(
        created.headers["openstack-image-import-methods"],
        "glance-direct,web-download"
    );
    single.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn letting_stores_fail_is_refused_with_a_single_store() {
    let app = TestApp::start().await;
    let id = staged_image(&app, &pattern(1000)).await;
    let body = json!({"method": glance_direct(), "all_stores_must_succeed": false});
    let refusal = import_as(&app, &owner(), &id, body).await;
    refused(
        &refusal,
        StatusCode::BAD_REQUEST,
        "All_stores_must_succeed can only be set with enabled_backends",
    );
    let copy = import_as(
        &app,
        &admin(),
        &id,
        json!({"method": {"name": "copy-image"}}),
    )
    .await;
    refused(&copy, StatusCode::CONFLICT, "single store");
    app.stop().await;
}
