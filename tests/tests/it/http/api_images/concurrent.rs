//! Concurrent PATCHes of one image through HTTP (SPEC 12): a patch that merely raced
//! another is decided again on the new version and applied, so every 200 leaves its
//! property behind and the version rises by one per accepted patch.

use std::sync::Arc;

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use serde_json::json;
use tokio::sync::Barrier;

use super::{assert_etag, create_image, path_of};

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_patches_lose_no_update() {
    let app = Arc::new(TestApp::start().await);
    let image = create_image(&app, &owner(), json!({"name": "contended"})).await;
    let path = path_of(&image);
    let barrier = Arc::new(Barrier::new(WRITERS));
    let mut writers = Vec::new();
    for n in 0..WRITERS {
        let (app, barrier, path) = (app.clone(), barrier.clone(), path.clone());
        writers.push(tokio::spawn(async move {
            let ops =
                json!([{"op": "add", "path": format!("/writer_{n}"), "value": n.to_string()}]);
            // Start together, so the patches really race for the same version.
            barrier.wait().await;
            let response = app.patch(&path, &owner(), ops).await;
            (n, response.status, response.text)
        }));
    }
    let mut accepted = Vec::new();
    for writer in writers {
        let (n, status, text) = writer.await.expect("writer");
        match status {
            StatusCode::OK => accepted.push(n),
            // Only a race lost on every retry may end in a conflict.
            StatusCode::CONFLICT => assert!(text.contains("retry"), "{text}"),
            other => panic!("writer {n}: {other} {text}"),
        }
    }
    let shown = app.get(&path, &owner()).await;
    for n in &accepted {
        assert_eq!(
            shown.json[format!("writer_{n}")],
            n.to_string(),
            "{}",
            shown.json
        );
    }
    let version = 1 + i64::try_from(accepted.len()).expect("count");
    assert_etag(&shown, version);
    assert!(!accepted.is_empty());
    let Ok(app) = Arc::try_unwrap(app) else {
        panic!("every writer has finished");
    };
    app.stop().await;
}
