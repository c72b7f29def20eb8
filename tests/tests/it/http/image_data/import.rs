//! Staging and the interoperable import (SPEC 9): glance-direct from the staging area,
//! web-download from a local HTTP server allowed by the test's import filter, the
//! addresses the filter refuses, failures (unsafe images among them) that return the
//! image to queued with the task's message, and copy-image's clear 409 with a single
//! store.

use super::*;
use domain::DomainConfig;
use fetch::ImportFilter;
use imagefleet_tests::HttpSource;
use imagefleet_tests::fixtures::{admin, owner};

async fn import(app: &TestApp, id: &str, method: Value) -> TestResponse {
    app.post_json(
        &format!("/v2/images/{id}/import"),
        &owner(),
        json!({ "method": method }),
    )
    .await
}

/// The image's import tasks once they ended.
async fn finished_task(app: &TestApp, id: &str) -> Value {
    let path = format!("/v2/images/{id}/tasks");
    let mut task = Value::Null;
    wait_until(DEADLINE, "the import task ends", async || {
        task = app.get(&path, &owner()).await.json["tasks"][0].clone();
        task["status"] == "success" || task["status"] == "failure"
    })
    .await
    .expect("the task ends");
    task
}

async fn app_allowing(source: &HttpSource) -> TestApp {
    let filter = ImportFilter::default()
        .allow_host("127.0.0.1")
        .allow_port(source.port());
    TestApp::start_importing(DomainConfig::default(), Default::default(), filter).await
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_direct_stages_then_imports_and_leaves_no_staged_data() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let data = pattern(1_234_567);
    let staged = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{id}/stage"),
        data.clone(),
    )
    .await;
    assert_eq!(staged.status, StatusCode::NO_CONTENT, "{}", staged.text);
    assert_eq!(image(&app, &owner(), &id).await["status"], "uploading");
    let accepted = import(&app, &id, json!({"name": "glance-direct"})).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    assert_eq!(task["type"], "api_image_import");
    let shown = image(&app, &owner(), &id).await;
    let (md5, sha512) = reference_digests(&data);
    assert_eq!(shown["status"], "active");
    assert_eq!(
        (shown["checksum"].clone(), shown["os_hash_value"].clone()),
        (json!(md5), json!(sha512))
    );
    assert!(
        shown.get("os_glance_import_task").is_none(),
        "the lock is released"
    );
    assert_eq!(
        app.db.data_files().len(),
        1,
        "only the image, no staged copy: {:?}",
        app.db.data_files()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn web_download_reads_an_allowed_url_into_the_image() {
    let data = pattern(900_001);
    let source = HttpSource::start(vec![("disk.img", data.clone())]).await;
    let app = app_allowing(&source).await;
    let id = new_image(&app, &owner(), "raw").await;
    let accepted = import(
        &app,
        &id,
        json!({"name": "web-download", "uri": source.url("disk.img")}),
    )
    .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &id).await["status"], "success");
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["checksum"], reference_digests(&data).0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_web_download_fails_the_task_and_the_image_can_be_imported_again() {
    let source = HttpSource::start(vec![("disk.img", pattern(1000))]).await;
    let app = app_allowing(&source).await;
    let id = new_image(&app, &owner(), "raw").await;
    let missing = import(
        &app,
        &id,
        json!({"name": "web-download", "uri": source.url("missing.img")}),
    )
    .await;
    assert_eq!(missing.status, StatusCode::ACCEPTED, "{}", missing.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "failure");
    assert!(
        task["message"].as_str().unwrap_or_default().contains("404"),
        "{task}"
    );
    wait_status(&app, &id, "queued").await;
    assert!(app.db.data_files().is_empty());
    let again = import(
        &app,
        &id,
        json!({"name": "web-download", "uri": source.url("disk.img")}),
    )
    .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    wait_status(&app, &id, "active").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_images_fail_web_download_and_glance_direct_imports() {
    let images = super::upload::unsafe_images();
    let files: Vec<(String, Vec<u8>)> = images
        .iter()
        .enumerate()
        .map(|(n, (_, _, data))| (format!("{n}.img"), data.clone()))
        .collect();
    let source =
        HttpSource::start(files.iter().map(|(p, d)| (p.as_str(), d.clone())).collect()).await;
    let app = app_allowing(&source).await;
    for (n, (name, declared, data)) in images.into_iter().enumerate() {
        // Web-download for every kind; glance-direct (staged unchecked, inspected when
        // the import copies it into place) for the first.
        let id = new_image(&app, &owner(), declared).await;
        let method = if n == 0 {
            let staged = put_data(&app, &owner(), &format!("/v2/images/{id}/stage"), data).await;
            assert_eq!(
                staged.status,
                StatusCode::NO_CONTENT,
                "{name}: {}",
                staged.text
            );
            json!({"name": "glance-direct"})
        } else {
            json!({"name": "web-download", "uri": source.url(&format!("{n}.img"))})
        };
        let accepted = import(&app, &id, method).await;
        assert_eq!(
            accepted.status,
            StatusCode::ACCEPTED,
            "{name}: {}",
            accepted.text
        );
        let task = finished_task(&app, &id).await;
        assert_eq!(task["status"], "failure", "{name}: {task}");
        let message = task["message"].as_str().unwrap_or_default();
        assert!(message.contains("unsafe"), "{name}: {task}");
        wait_status(&app, &id, "queued").await;
    }
    // The job removes staged data right after it gives the image back.
    wait_until(DEADLINE, "no data is left", async || {
        app.db.data_files().is_empty()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", app.db.data_files()));
}

#[tokio::test(flavor = "multi_thread")]
async fn web_download_urls_of_refused_address_classes_are_400_before_anything_changes() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    for uri in [
        "http://127.0.0.1/disk.img",
        "http://[::1]/disk.img",
        "http://10.0.0.1/disk.img",
        "http://192.168.1.1/disk.img",
        "http://169.254.169.254/latest/meta-data",
        "http://[::ffff:127.0.0.1]/disk.img",
        "http://2130706433/disk.img",
        "http://localhost/disk.img",
        "http://example.com:8080/disk.img",
        "ftp://example.com/disk.img",
        "file:///etc/passwd",
    ] {
        let response = import(&app, &id, json!({"name": "web-download", "uri": uri})).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{uri}: {}",
            response.text
        );
    }
    assert_eq!(image(&app, &owner(), &id).await["status"], "queued");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_bodies_and_states_are_checked() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let path = format!("/v2/images/{id}/import");
    for body in [
        json!({}),
        json!({"method": "glance-direct"}),
        json!({"method": {"name": "teleport"}}),
        json!({"method": {"name": "web-download"}}),
        json!({"method": {"name": "glance-direct"}, "stores": "local"}),
    ] {
        let response = app.post_json(&path, &owner(), body.clone()).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            response.text
        );
    }
    let not_staged = import(&app, &id, json!({"name": "glance-direct"})).await;
    assert_eq!(
        not_staged.status,
        StatusCode::CONFLICT,
        "{}",
        not_staged.text
    );
    let copy = app
        .post_json(&path, &admin(), json!({"method": {"name": "copy-image"}}))
        .await;
    assert_eq!(copy.status, StatusCode::CONFLICT, "{}", copy.text);
}

/// The tasks API's task once it ended.
async fn finished_api_task(app: &TestApp, location: &str) -> Value {
    let mut task = Value::Null;
    wait_until(DEADLINE, "the task ends", async || {
        task = app.get(location, &admin()).await.json;
        task["status"] == "success" || task["status"] == "failure"
    })
    .await
    .expect("the task ends");
    task
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tasks_api_import_creates_and_fills_an_image_or_fails_with_the_reason() {
    let data = pattern(300_000);
    let source = HttpSource::start(vec![("disk.img", data.clone())]).await;
    let app = app_allowing(&source).await;
    let create = |url: String| {
        json!({"type": "import", "input": {
            "import_from": url,
            "import_from_format": "raw",
            "image_properties": {"name": "imported", "os_distro": "debian"},
        }})
    };
    let accepted = app
        .post_json("/v2/tasks", &admin(), create(source.url("disk.img")))
        .await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.text);
    let location = format!(
        "/v2/tasks/{}",
        accepted.json["id"].as_str().expect("task id")
    );
    let task = finished_api_task(&app, &location).await;
    assert_eq!(task["status"], "success", "{task}");
    let image_id = task["result"]["image_id"]
        .as_str()
        .expect("result image_id");
    let shown = image(&app, &admin(), image_id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(
        (shown["name"].clone(), shown["os_distro"].clone()),
        (json!("imported"), json!("debian"))
    );
    assert_eq!(shown["checksum"], reference_digests(&data).0);
    assert_eq!(shown["owner"], admin().project_id);

    let missing = app
        .post_json("/v2/tasks", &admin(), create(source.url("missing.img")))
        .await;
    let location = format!(
        "/v2/tasks/{}",
        missing.json["id"].as_str().expect("task id")
    );
    let failed = finished_api_task(&app, &location).await;
    assert_eq!(failed["status"], "failure");
    assert!(
        failed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("404"),
        "{failed}"
    );
    assert_eq!(
        app.db.data_files().len(),
        1,
        "only the successful import's data"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_image_is_404_then_403_then_409() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let path = format!("/v2/images/{id}/import");
    let copy = json!({"method": {"name": "copy-image"}});
    let other = imagefleet_tests::fixtures::other();
    assert_eq!(
        app.post_json(&path, &other, copy.clone()).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json(&path, &owner(), copy.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post_json(&path, &admin(), copy).await.status,
        StatusCode::CONFLICT
    );
}
