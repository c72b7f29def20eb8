//! web-download into every store (`all_stores`), and a store that fails: with
//! `all_stores_must_succeed` (the default) the import fails, what it wrote is removed
//! and the image is queued again, the store listed as failed (Glance's revert); without
//! it the failure is recorded and the image is active in the other stores.

use super::*;
use domain::image::{FAILED_IMPORT_PROPERTY, IMPORTING_TO_STORES_PROPERTY};
use fetch::ImportFilter;
use imagefleet_tests::HttpSource;

async fn app_and_source(data: &[u8]) -> (TestApp, HttpSource) {
    let source = HttpSource::start(vec![("disk.img", data.to_vec())]).await;
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    let app = TestApp::start_multi_store_importing(&STORES, filter).await;
    (app, source)
}

fn web_download(source: &HttpSource, extra: Value) -> Value {
    let mut body = json!({"method": {"name": "web-download", "uri": source.url("disk.img")}});
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn web_download_with_all_stores_writes_every_store() {
    let data = pattern(900_000);
    let (app, source) = app_and_source(&data).await;
    let id = new_image(&app, &owner(), "raw").await;
    let body = web_download(&source, json!({"all_stores": true}));
    let accepted = import_as(&app, &owner(), &id, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let done = stored_image(&app, &id).await;
    assert_eq!(done.stores, vec!["fast", "cold"]);
    assert_eq!(done.size, Some(data.len() as i64));
    for store in STORES {
        assert_eq!(image_files(&app, store), vec![id.clone()], "{store}");
    }
    assert_eq!(download(&app, &id).await, data);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_store_fails_an_import_that_must_succeed_everywhere_and_removes_its_data() {
    let data = pattern(300_000);
    let (app, source) = app_and_source(&data).await;
    break_store(&app, "cold");
    let id = new_image(&app, &owner(), "raw").await;
    let accepted = import_as(
        &app,
        &owner(),
        &id,
        web_download(&source, json!({"all_stores": true})),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "failure", "{task}");
    assert!(
        task["message"].as_str().is_some_and(|m| m.contains("cold")),
        "{task}"
    );
    let failed = stored_image(&app, &id).await;
    assert_eq!(failed.status.to_string(), "queued");
    assert!(failed.stores.is_empty());
    assert_eq!(failed.size, None);
    assert_eq!(
        failed
            .properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("cold")
    );
    assert_eq!(
        failed
            .properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    // The job removes what it wrote once the image is given back.
    wait_until(DEADLINE, "the data written to fast goes", async || {
        image_files(&app, "fast").is_empty()
    })
    .await
    .expect("the data written to fast goes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_store_is_recorded_and_the_import_goes_on_when_stores_may_fail() {
    let data = pattern(300_000);
    let (app, source) = app_and_source(&data).await;
    break_store(&app, "cold");
    let id = new_image(&app, &owner(), "raw").await;
    let body = web_download(
        &source,
        json!({"stores": ["cold", "fast"], "all_stores_must_succeed": false}),
    );
    let accepted = import_as(&app, &owner(), &id, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let done = stored_image(&app, &id).await;
    assert_eq!(done.status.to_string(), "active");
    assert_eq!(done.stores, vec!["fast"]);
    assert_eq!(
        done.properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("cold")
    );
    assert_eq!(
        done.properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    assert_eq!(download(&app, &id).await, data);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_fails_when_no_store_may_be_written_even_if_stores_may_fail() {
    let data = pattern(50_000);
    let (app, source) = app_and_source(&data).await;
    break_store(&app, "cold");
    let id = new_image(&app, &owner(), "raw").await;
    let body = web_download(
        &source,
        json!({"stores": ["cold"], "all_stores_must_succeed": false}),
    );
    let accepted = import_as(&app, &owner(), &id, body).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &id).await["status"], "failure");
    let failed = stored_image(&app, &id).await;
    assert_eq!(failed.status.to_string(), "queued");
    assert_eq!(
        failed
            .properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("cold")
    );
    app.stop().await;
}
