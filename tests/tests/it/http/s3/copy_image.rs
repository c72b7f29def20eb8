//! copy-image between a local store and an S3 store (moto): an image in the local
//! store copied to S3 (the object appears, the download matches with the local copy
//! gone) and one uploaded to S3 copied to the local store; and a worker killed in the
//! middle of a copy: the job is delivered again, the copy runs again and completes, and
//! no partial file is left in the target store's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use imagefleet_tests::fixtures::{admin, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{Fault, S3Server, ScratchDir, TestApp};
use serde_json::json;
use store::{ImageStore, NamedStore, StoreKind, Stores};

use super::{KEEP_UPLOADS, PREFIX, RETRY, get_file, image_key};
use crate::http::image_data::{DEADLINE, new_image, pattern};
use crate::http::import_stores::{finished_task, stored_image};

/// A local store "local" in `dir` and the S3 store "s3"; the one at `default` is the
/// default.
fn stores(dir: &Path, s3: &S3Server, default: usize) -> Stores {
    let local = NamedStore {
        id: "local".to_owned(),
        description: None,
        store: ImageStore::local(dir).expect("the local store opens"),
        kind: StoreKind::File {
            dir: dir.to_owned(),
        },
    };
    let remote = NamedStore {
        id: "s3".to_owned(),
        description: None,
        store: s3.store(PREFIX, RETRY),
        kind: StoreKind::S3,
    };
    Stores::named(vec![local, remote], default)
}

/// Uploads `data` to a new image of the owner's in store `store`; returns its id.
async fn upload_to(app: &TestApp, store: &str, data: &[u8]) -> String {
    let id = new_image(app, &owner(), "raw").await;
    let request = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(format!("/v2/images/{id}/file"))
        .header("x-project-id", &owner().project_id)
        .header("x-user-id", &owner().user_id)
        .header("x-roles", owner().roles.join(","))
        .header("x-image-meta-store", store)
        .header("content-type", "application/octet-stream")
        .body(axum::body::Body::from(data.to_vec()))
        .expect("request");
    let put = app.send(request).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    id
}

async fn copy_to(app: &TestApp, id: &str, store: &str) {
    let body = json!({"method": {"name": "copy-image"}, "stores": [store]});
    let accepted = app
        .post_json(&format!("/v2/images/{id}/import"), &admin(), body)
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
}

fn local_file(dir: &Path, id: &str) -> PathBuf {
    dir.join("images").join(id)
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_image_copies_a_local_image_to_s3_and_an_s3_image_to_the_local_store() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let dir = ScratchDir::create("copy-s3").expect("a directory");
    let app = TestApp::start_on_stores(stores(dir.path(), &s3, 0), KEEP_UPLOADS).await;
    let data = pattern((6 << 20) + 4321);

    let local = upload_to(&app, "local", &data).await;
    copy_to(&app, &local, "s3").await;
    assert_eq!(finished_task(&app, &local).await["status"], "success");
    assert_eq!(stored_image(&app, &local).await.stores, vec!["local", "s3"]);
    assert!(s3.has_object(&image_key(&local)).await.expect("HEAD"));
    // Served from S3 once the local copy is gone.
    std::fs::remove_file(local_file(dir.path(), &local)).expect("removed");
    let served = get_file(&app, &owner(), &local, None).await;
    assert!(served.bytes == data, "the S3 copy's bytes differ");

    let remote = upload_to(&app, "s3", &data).await;
    assert!(s3.has_object(&image_key(&remote)).await.expect("HEAD"));
    assert!(!local_file(dir.path(), &remote).exists());
    copy_to(&app, &remote, "local").await;
    assert_eq!(finished_task(&app, &remote).await["status"], "success");
    assert_eq!(
        stored_image(&app, &remote).await.stores,
        vec!["s3", "local"]
    );
    let copied = std::fs::read(local_file(dir.path(), &remote)).expect("the local copy");
    assert!(copied == data, "the local copy's bytes differ");
    assert!(get_file(&app, &owner(), &remote, None).await.bytes == data);
    app.stop().await;
}

/// The files of the local store's image area whose name starts with `id`.
fn files_of(dir: &Path, id: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("images"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(id))
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_copy_leaves_the_copy_to_the_next_which_completes_it() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let dir = ScratchDir::create("copy-kill").expect("a directory");
    // S3 the default: the image is uploaded there, and copied to the local store.
    let mut app = TestApp::start_on_stores(stores(dir.path(), &s3, 1), KEEP_UPLOADS).await;
    let data = pattern((8 << 20) + 777);
    let id = upload_to(&app, "s3", &data).await;
    // A slow S3: the copy takes seconds, long enough to be killed in its middle.
    s3.proxy().set(Fault::Latency(Duration::from_millis(40)));
    copy_to(&app, &id, "local").await;
    let partial = format!("{id}#");
    wait_until(DEADLINE, "the copy is under way", async || {
        files_of(dir.path(), &id)
            .iter()
            .any(|f| f.starts_with(&partial))
    })
    .await
    .expect("the copy starts writing");
    app.kill_workers();
    assert!(
        !files_of(dir.path(), &id).contains(&id),
        "the copy was killed before it was published"
    );
    s3.proxy().set(Fault::Pass);
    app.start_worker("successor");
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let image = stored_image(&app, &id).await;
    assert_eq!(image.stores, vec!["s3", "local"]);
    assert_eq!(
        files_of(dir.path(), &id),
        vec![id.clone()],
        "the copy and no partial file"
    );
    let copied = std::fs::read(local_file(dir.path(), &id)).expect("the local copy");
    assert!(copied == data, "the local copy's bytes differ");
    app.stop().await;
}
