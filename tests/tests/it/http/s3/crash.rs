//! A gateway killed mid-multipart-upload: its upload to S3 is begun and 12 MiB are
//! on their way through it when every task and connection of the gateway ends at
//! once (its runtime shut down, see `TestApp::serve_gateway_on`). No object appears
//! under the image's key, the image is not active, and the janitor, once the upload is
//! older than its grace, aborts the upload the crash left.

use std::time::Duration;

use bytes::Bytes;
use futures::SinkExt;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{S3Server, TestApp, TestWorker};

use super::{KEEP_UPLOADS, PREFIX, RETRY, image_key};
use crate::http::image_data::{DEADLINE, image, new_image};

/// MiB sent before the kill: more than two 5 MiB parts.
const SENT_BEFORE_KILL: usize = 12;

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_killed_mid_upload_leaves_no_object_and_the_janitor_aborts_its_upload() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let mut app = TestApp::start_on_stores(s3.single_store(PREFIX, RETRY), KEEP_UPLOADS).await;
    let id = new_image(&app, &owner(), "raw").await;
    let key = image_key(&id);

    let gateway = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("the gateway's runtime");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address");
    app.serve_gateway_on(gateway.handle(), listener, s3.single_store(PREFIX, RETRY));

    // An upload whose body never ends: 1 MiB chunks as the gateway takes them.
    let (mut chunks, body) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
    let actor = owner();
    let upload = reqwest::Client::new()
        .put(format!("http://{address}/v2/images/{id}/file"))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .header("content-type", "application/octet-stream")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    let upload = tokio::spawn(upload);
    for n in 0..SENT_BEFORE_KILL {
        let chunk = Bytes::from(vec![u8::try_from(n % 251).unwrap_or(0); 1 << 20]);
        chunks
            .send(Ok(chunk))
            .await
            .expect("the gateway takes the data");
    }
    wait_until(
        DEADLINE,
        "the gateway's multipart upload is begun",
        async || s3.incomplete_uploads().await.expect("ListMultipartUploads") == [key.as_str()],
    )
    .await
    .expect("the upload is under way");

    gateway.shutdown_background();
    let answered = upload.await.expect("the client's task ends");
    assert!(
        !answered.as_ref().is_ok_and(|r| r.status().is_success()),
        "a killed gateway answered the upload with success: {answered:?}"
    );
    drop(chunks);

    assert!(
        !s3.has_object(&key).await.expect("HEAD"),
        "an object appeared"
    );
    assert_ne!(image(&app, &owner(), &id).await["status"], "active");
    assert_eq!(
        s3.incomplete_uploads().await.expect("ListMultipartUploads"),
        [key.as_str()],
        "the crash left its upload incomplete"
    );

    // A janitor whose grace has passed for that upload (the app's worker, keeping every
    // upload, stops first: one janitor leads at a time).
    app.stop_workers().await;
    let janitor = TestWorker::start_on_stores(
        &app.db,
        &app.bus,
        "janitor",
        s3.single_store(PREFIX, RETRY),
        Duration::ZERO,
    );
    wait_until(DEADLINE, "no incomplete upload remains", async || {
        s3.incomplete_uploads()
            .await
            .expect("ListMultipartUploads")
            .is_empty()
    })
    .await
    .expect("the janitor aborts the abandoned upload");
    assert!(
        !s3.has_object(&key).await.expect("HEAD"),
        "an object appeared"
    );
    janitor.stop().await;
    app.stop().await;
}
