//! The S3 server down mid-download: the gateway has sent part of an image's bytes
//! when the server goes down (every connection to it closed, new ones refused: the
//! fault proxy in front of moto, which keeps its objects in memory only and would
//! lose them if stopped). The download must fail for the client (the body breaks off
//! short of its `Content-Length`, never a complete-looking answer), and once the
//! server is back the image and its object are as before: same status and digests,
//! the same bytes served. The download goes through a second gateway whose store
//! retries for [`OUTAGE_RETRY`] only, so that it gives up soon.

use std::time::Duration;

use axum::http::StatusCode;
use futures::StreamExt;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::{Fault, S3Server, TestApp};

use super::{KEEP_UPLOADS, PREFIX, RETRY, get_file, upload_active};

/// How long the downloading gateway's store retries (IMAGEFLEET_STORE_RETRY_TIMEOUT).
const OUTAGE_RETRY: Duration = Duration::from_secs(1);
use crate::http::image_data::{image, pattern, reference_digests};

/// Big enough that the socket buffers between moto, the gateway and the client cannot
/// hold the rest of it when the client stops reading part-way.
const SIZE: usize = 64 << 20;

/// Read before the server goes down.
const READ_BEFORE_OUTAGE: usize = 1 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn a_download_breaks_off_when_s3_goes_down_and_nothing_is_corrupted() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let app = TestApp::start_on_stores(s3.single_store(PREFIX, RETRY), KEEP_UPLOADS).await;
    let data = pattern(SIZE);
    let (md5, sha512) = reference_digests(&data);
    let (id, before) = upload_active(&app, &data).await;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let address = listener.local_addr().expect("its address");
    let current = tokio::runtime::Handle::current();
    app.serve_gateway_on(&current, listener, s3.single_store(PREFIX, OUTAGE_RETRY));
    let actor = owner();
    let response = reqwest::Client::new()
        .get(format!("http://{address}/v2/images/{id}/file"))
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .send()
        .await
        .expect("the download starts");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.content_length(), Some(SIZE as u64));
    let mut body = response.bytes_stream();
    let mut received = Vec::new();
    while received.len() < READ_BEFORE_OUTAGE {
        let chunk = body.next().await.expect("more bytes").expect("a chunk");
        received.extend_from_slice(&chunk);
    }

    s3.proxy().set(Fault::Down);
    s3.proxy().reset();
    while let Some(Ok(chunk)) = body.next().await {
        received.extend_from_slice(&chunk);
    }
    assert!(
        received.len() < SIZE,
        "the download looked complete ({} bytes) though S3 went down",
        received.len()
    );
    assert!(
        received == data[..received.len()],
        "the bytes sent before the outage differ"
    );

    s3.proxy().set(Fault::Pass);
    let after = image(&app, &owner(), &id).await;
    assert_eq!(after, before, "the image changed");
    assert_eq!(after["checksum"], md5.as_str());
    assert_eq!(after["os_hash_value"], sha512.as_str());
    let again = get_file(&app, &owner(), &id, None).await;
    assert!(again.bytes == data, "the object's bytes changed");
    app.stop().await;
}
