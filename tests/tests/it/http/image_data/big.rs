//! A 1 GiB image up and down through the gateway: its digests match `md5sum` and
//! `sha512sum` of the same bytes, and the process's resident memory grows by less than
//! 64 MiB (read from /proc: a memory assertion, not a timing one). The bytes are
//! generated as they stream, never held whole, so any growth is the service's.

use super::*;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use imagefleet_tests::fixtures::owner;
use std::io::Write as _;

const GIB: usize = 1 << 30;
const CHUNK: usize = 1 << 16;

/// Resident set size of this process in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The n-th chunk of the generated image.
fn chunk(n: usize) -> Bytes {
    Bytes::from(
        (0..CHUNK)
            .map(|i| ((n * 31 + i * 7) % 251) as u8)
            .collect::<Vec<_>>(),
    )
}

/// md5sum and sha512sum fed the same bytes as they are produced.
struct Tools(Vec<std::process::Child>);

impl Tools {
    fn start() -> Self {
        Self(
            ["md5sum", "sha512sum"]
                .iter()
                .map(|tool| {
                    std::process::Command::new(tool)
                        .stdin(std::process::Stdio::piped())
                        .stdout(std::process::Stdio::piped())
                        .spawn()
                        .expect("coreutils")
                })
                .collect(),
        )
    }

    fn feed(&mut self, bytes: &[u8]) {
        for child in &mut self.0 {
            child
                .stdin
                .as_mut()
                .expect("stdin")
                .write_all(bytes)
                .expect("feed the tool");
        }
    }

    fn digests(self) -> Vec<String> {
        self.0
            .into_iter()
            .map(|mut child| {
                drop(child.stdin.take());
                let out = child.wait_with_output().expect("tool output");
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_gib_streams_up_and_down_with_matching_digests_and_flat_memory() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let before = rss();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(before));
    let sampled = peak.clone();
    let mut reference = Tools::start();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Bytes>(4);
    // The reference tools run on a thread of their own, fed the same chunks.
    let feeder = std::thread::spawn(move || {
        let mut receiver = receiver;
        while let Some(bytes) = receiver.blocking_recv() {
            reference.feed(&bytes);
        }
        reference.digests()
    });
    let body = futures::stream::iter(0..GIB / CHUNK).then(move |n| {
        let (sender, sampled) = (sender.clone(), sampled.clone());
        async move {
            let bytes = chunk(n);
            sender.send(bytes.clone()).await.expect("the feeder runs");
            if n.is_multiple_of(256) {
                sampled.fetch_max(rss(), std::sync::atomic::Ordering::Relaxed);
            }
            Ok::<_, std::io::Error>(bytes)
        }
    });
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .header("x-project-id", &owner().project_id)
        .header("x-user-id", &owner().user_id)
        .header("x-roles", "member,reader")
        .body(Body::from_stream(body))
        .expect("request");
    let uploaded = app.send(request).await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT, "{}", uploaded.text);
    let expected = feeder.join().expect("the reference tools");
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["size"], GIB);
    assert_eq!(
        vec![shown["checksum"].clone(), shown["os_hash_value"].clone()],
        vec![json!(expected[0]), json!(expected[1])]
    );

    let download = Request::builder()
        .uri(format!("/v2/images/{id}/file"))
        .header("x-project-id", &owner().project_id)
        .header("x-user-id", &owner().user_id)
        .header("x-roles", "member,reader")
        .body(Body::empty())
        .expect("request");
    let response = app.call_raw(download).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut received = Tools::start();
    let mut body = response.into_body();
    let mut length = 0usize;
    let mut frames = 0usize;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("download frame").into_data() {
            length += data.len();
            received.feed(&data);
            frames += 1;
            if frames.is_multiple_of(256) {
                peak.fetch_max(rss(), std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
    assert_eq!(length, GIB);
    assert_eq!(
        received.digests(),
        expected,
        "the downloaded bytes are the uploaded ones"
    );
    let growth = peak
        .load(std::sync::atomic::Ordering::Relaxed)
        .saturating_sub(before);
    eprintln!("1 GiB up and down: peak RSS growth {} MiB", growth >> 20);
    assert!(growth < 64 << 20, "RSS grew by {} MiB", growth >> 20);
}
