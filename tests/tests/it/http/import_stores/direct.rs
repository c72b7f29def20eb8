//! glance-direct into named stores: the stores the import names (or the default one)
//! are listed in `os_glance_importing_to_stores` while it runs; at its end the image is
//! active in each of them, byte for byte, with nothing importing or failed.

use super::*;
use domain::image::{FAILED_IMPORT_PROPERTY, IMPORTING_TO_STORES_PROPERTY};

#[tokio::test(flavor = "multi_thread")]
async fn glance_direct_to_two_stores_lists_them_while_running_and_writes_both() {
    let mut app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(1_500_000);
    let id = staged_image(&app, &data).await;
    // With no worker running jobs the import has begun and not ended: what it shows
    // while it runs.
    app.stop_workers().await;
    app.start_commands_worker("commands-only");
    let body = json!({"method": glance_direct(), "stores": ["fast", "cold"]});
    let accepted = import_as(&app, &owner(), &id, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let running = stored_image(&app, &id).await;
    assert_eq!(running.status.to_string(), "importing");
    assert_eq!(
        running
            .properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("cold,fast"),
        "sorted, as Glance"
    );
    assert_eq!(
        running
            .properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    app.start_worker("second-worker");
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let done = stored_image(&app, &id).await;
    assert_eq!(done.status.to_string(), "active");
    assert_eq!(done.stores, vec!["fast", "cold"]);
    assert_eq!(
        done.properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    assert_eq!(
        done.properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    for store in STORES {
        assert_eq!(image_files(&app, store), vec![id.clone()], "{store}");
        let copy = std::fs::read(store_dir(&app, store).join("images").join(&id))
            .expect("the store's copy");
        assert!(copy == data, "the copy in {store} is the image's data");
    }
    assert_eq!(download(&app, &id).await, data);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_direct_naming_no_store_goes_to_the_default_or_the_header_store() {
    let app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(70_000);
    let to_default = staged_image(&app, &data).await;
    let accepted = import_as(
        &app,
        &owner(),
        &to_default,
        json!({"method": glance_direct()}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &to_default).await["status"], "success");
    assert_eq!(stored_image(&app, &to_default).await.stores, vec!["fast"]);

    let to_cold = staged_image(&app, &data).await;
    let request = axum::http::Request::builder()
        .method(axum::http::Method::POST)
        .uri(format!("/v2/images/{to_cold}/import"))
        .header("x-project-id", &owner().project_id)
        .header("x-user-id", &owner().user_id)
        .header("x-roles", owner().roles.join(","))
        .header("x-image-meta-store", "cold")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"method": glance_direct()}).to_string(),
        ))
        .expect("request");
    let accepted = app.send(request).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &to_cold).await["status"], "success");
    assert_eq!(stored_image(&app, &to_cold).await.stores, vec!["cold"]);
    assert_eq!(image_files(&app, "cold"), vec![to_cold.clone()]);
    assert_eq!(download(&app, &to_cold).await, data);
    app.stop().await;
}
