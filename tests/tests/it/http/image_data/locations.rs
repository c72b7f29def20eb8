//! `POST /v2/images/{id}/locations` (SPEC 4): the data at an allowed URL is read once for
//! its size and digests, the image becomes active with the location, and downloads
//! stream from it; refusals by status, scheme, host and validation data.

use super::*;
use domain::DomainConfig;
use fetch::ImportFilter;
use imagefleet_tests::HttpSource;
use imagefleet_tests::fixtures::{admin, owner, reader};

async fn add(app: &TestApp, actor: &Actor, id: &str, body: Value) -> TestResponse {
    app.post_json(&format!("/v2/images/{id}/locations"), actor, body)
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_location_is_hashed_activates_the_image_and_serves_downloads() {
    let data = pattern(700_000);
    let source = HttpSource::start(vec![("disk.img", data.clone())]).await;
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    let app = TestApp::start_importing(DomainConfig::default(), Default::default(), filter).await;
    let id = new_image(&app, &owner(), "raw").await;
    let (md5, sha512) = reference_digests(&data);
    let url = source.url("disk.img");
    let accepted = add(
        &app,
        &owner(),
        &id,
        json!({"url": url, "validation_data": {"os_hash_algo": "sha512", "os_hash_value": sha512}}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    wait_status(&app, &id, "active").await;
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(
        (shown["checksum"].clone(), shown["size"].clone()),
        (json!(md5), json!(data.len()))
    );
    assert!(
        app.db.data_files().is_empty(),
        "nothing is copied into the store"
    );
    let locations = app
        .get(&format!("/v2/images/{id}/locations"), &admin())
        .await;
    assert_eq!(locations.json[0]["url"], url);
    let download = app.get(&format!("/v2/images/{id}/file"), &owner()).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.bytes, data);
    let again = add(&app, &owner(), &id, json!({"url": url})).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn data_that_does_not_match_its_validation_data_fails_the_task() {
    let source = HttpSource::start(vec![("disk.img", pattern(1000))]).await;
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    let app = TestApp::start_importing(DomainConfig::default(), Default::default(), filter).await;
    let id = new_image(&app, &owner(), "raw").await;
    let body = json!({"url": source.url("disk.img"), "validation_data": {"checksum": "0123456789abcdef0123456789abcdef"}});
    assert_eq!(
        add(&app, &owner(), &id, body).await.status,
        StatusCode::ACCEPTED
    );
    let path = format!("/v2/images/{id}/tasks");
    wait_until(DEADLINE, "the location task fails", async || {
        app.get(&path, &owner()).await.json["tasks"][0]["status"] == "failure"
    })
    .await
    .expect("the task fails");
    assert_eq!(image(&app, &owner(), &id).await["status"], "queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn locations_are_refused_by_scheme_host_role_and_body() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let scheme = add(&app, &owner(), &id, json!({"url": "file:///etc/passwd"})).await;
    assert_eq!(scheme.status, StatusCode::FORBIDDEN, "{}", scheme.text);
    let host = add(
        &app,
        &owner(),
        &id,
        json!({"url": "http://169.254.169.254/x"}),
    )
    .await;
    assert_eq!(host.status, StatusCode::BAD_REQUEST, "{}", host.text);
    let by_reader = add(&app, &reader(), &id, json!({"url": "http://example.com/x"})).await;
    assert_eq!(
        by_reader.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_reader.text
    );
    for body in [
        json!({}),
        json!({"url": 5}),
        json!({"url": "http://example.com/x", "extra": 1}),
        json!({"url": "http://example.com/x", "validation_data": {"os_hash_algo": "md5"}}),
    ] {
        let response = add(&app, &owner(), &id, body.clone()).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.text
        );
    }
    assert_eq!(image(&app, &owner(), &id).await["status"], "queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_multiple_locations_shown_locations_are_patched_and_removing_the_last_requeues() {
    let source = HttpSource::start(vec![("a.img", pattern(5000)), ("b.img", pattern(5000))]).await;
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    let domain = DomainConfig {
        show_multiple_locations: true,
        ..DomainConfig::default()
    };
    let settings = api_gateway::Settings {
        show_multiple_locations: true,
        ..Default::default()
    };
    let app = TestApp::start_importing(domain, settings, filter).await;
    let id = new_image(&app, &owner(), "raw").await;
    let path = format!("/v2/images/{id}");
    let add = |url: String| json!([{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}]);
    let queued = app.patch(&path, &owner(), add(source.url("a.img"))).await;
    assert_eq!(queued.status, StatusCode::OK, "{}", queued.text);
    wait_status(&app, &id, "active").await;
    let second = app.patch(&path, &owner(), add(source.url("b.img"))).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        second.json["locations"].as_array().map(Vec::len),
        Some(2),
        "{}",
        second.text
    );
    let mixed = app
        .patch(&path, &owner(), json!([{"op": "remove", "path": "/locations/0"}, {"op": "add", "path": "/k", "value": "v"}]))
        .await;
    assert_eq!(mixed.status, StatusCode::BAD_REQUEST, "{}", mixed.text);
    let by_reader = app
        .patch(
            &path,
            &reader(),
            json!([{"op": "remove", "path": "/locations/0"}]),
        )
        .await;
    assert_eq!(
        by_reader.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_reader.text
    );
    for expected in ["active", "queued"] {
        let removed = app
            .patch(
                &path,
                &owner(),
                json!([{"op": "remove", "path": "/locations/0"}]),
            )
            .await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        assert_eq!(removed.json["status"], expected, "{}", removed.text);
    }
    assert_eq!(image(&app, &owner(), &id).await["checksum"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_multiple_locations_the_locations_attribute_is_read_only() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let patch = json!([{"op": "add", "path": "/locations/-", "value": {"url": "http://example.com/x", "metadata": {}}}]);
    let response = app
        .patch(&format!("/v2/images/{id}"), &owner(), patch)
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_tasks_api_cannot_point_an_image_at_a_location() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let task = json!({"type": "location_import", "input": {"image_id": id, "owner": owner().project_id, "url": "http://example.com/x"}});
    for actor in [owner(), admin()] {
        let response = app.post_json("/v2/tasks", &actor, task.clone()).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{}", response.text);
    }
    assert_eq!(image(&app, &admin(), &id).await["status"], "queued");
}
