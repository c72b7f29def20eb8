//! Operability (issue #7): `/metrics` carries every `imagefleet_*` family with the
//! values of a known workload; `/healthz` and `/readyz` on the gateway and on a lone
//! worker's operations router, ready with the real Postgres and not ready (503 naming
//! postgres) with a read pool pointing at a closed port.
//!
//! The recorder is process-global. nextest runs each test in a process of its own, so
//! there the workload's counts are asserted exactly; under plain `cargo test` the tests
//! of the binary share the process and the counts are lower bounds. The workload's
//! metrics are here; health and readiness in [`health`], the retry counters in
//! [`retry_metrics`].

mod health;
mod ops_port;
mod retry_metrics;

use std::sync::Arc;
use std::time::Duration;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bus::client::CommandClient;
use db::{PoolOptions, build_pool};
use fetch::{ImportFilter, SafeFetcher};
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestApp, TestBus, TestDb, TestResponse};
use serde_json::json;
use tower::ServiceExt;

const DEADLINE: Duration = Duration::from_secs(30);

/// Whether this test has the process (and so the recorder) to itself.
fn alone_in_process() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|mode| mode == "process-per-test")
}

/// Asserts `value` is `expected` when the test is alone in its process, else at least it.
fn assert_count(value: Option<f64>, expected: f64, what: &str) {
    let value = value.unwrap_or_else(|| panic!("{what} is missing from /metrics"));
    if alone_in_process() {
        assert_eq!(value, expected, "{what}");
    } else {
        assert!(value >= expected, "{what}: {value} < {expected}");
    }
}

/// The sum of the samples of `name` carrying every label of `labels` (a Prometheus
/// text page), or None when there is no such sample.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let has_all = labels.iter().all(|(k, v)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        });
        if has_all && let Ok(value) = value.parse::<f64>() {
            found = Some(found.unwrap_or(0.0) + value);
        }
    }
    found
}

async fn metrics_page(app: &TestApp) -> String {
    let response = app.request(Method::GET, "/metrics", None, None).await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(
        response.headers["content-type"],
        shared::metrics::CONTENT_TYPE
    );
    response.text
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_a_known_workload() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let body =
            json!({"name": format!("m{n}"), "disk_format": "raw", "container_format": "bare"});
        let created = app.post_json("/v2/images", &owner(), body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        ids.push(created.json["id"].as_str().expect("id").to_owned());
    }
    let patch = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    let patched = app
        .patch(&format!("/v2/images/{}", ids[0]), &owner(), patch)
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let file = format!("/v2/images/{}/file", ids[1]);
    let uploaded = app
        .request(
            Method::PUT,
            &file,
            Some(&owner()),
            Some(("application/octet-stream", data.clone())),
        )
        .await;
    assert_eq!(uploaded.status, StatusCode::NO_CONTENT, "{}", uploaded.text);
    let downloaded = app.get(&file, &owner()).await;
    assert_eq!(downloaded.status, StatusCode::OK);
    assert_eq!(downloaded.bytes.as_ref(), data.as_slice());

    // The relay leads and reads asynchronously: wait for its gauges, then read once.
    let mut page = String::new();
    wait_until(
        DEADLINE,
        "the relay leads and measured the outbox",
        async || {
            page = metrics_page(&app).await;
            sample(&page, "imagefleet_relay_leader", &[]).is_some_and(|v| v >= 1.0)
                && sample(&page, "imagefleet_outbox_lag_seconds", &[]).is_some()
        },
    )
    .await
    .expect("relay gauges");

    let posts = [("route", "/v2/images"), ("method", "POST")];
    let created_201 = [posts[0], posts[1], ("status", "201")];
    assert_count(
        sample(&page, "imagefleet_http_requests_total", &created_201),
        3.0,
        "POST /v2/images 201",
    );
    let patch_200 = [
        ("route", "/v2/images/{id}"),
        ("method", "PATCH"),
        ("status", "200"),
    ];
    assert_count(
        sample(&page, "imagefleet_http_requests_total", &patch_200),
        1.0,
        "PATCH /v2/images/{id} 200",
    );
    let download_200 = [
        ("route", "/v2/images/{id}/file"),
        ("method", "GET"),
        ("status", "200"),
    ];
    assert_count(
        sample(&page, "imagefleet_http_requests_total", &download_200),
        1.0,
        "GET /v2/images/{id}/file 200",
    );
    // Route templates only: no image id ever becomes a label value.
    for id in &ids {
        assert!(
            !page.contains(id.as_str()),
            "raw path with {id} in /metrics"
        );
    }
    assert_count(
        sample(
            &page,
            "imagefleet_http_request_duration_seconds_count",
            &posts,
        ),
        3.0,
        "request duration count of POST /v2/images",
    );
    // A histogram with the configured buckets, not a summary.
    let bucket = [posts[0], posts[1], ("le", "0.005")];
    assert!(
        sample(
            &page,
            "imagefleet_http_request_duration_seconds_bucket",
            &bucket
        )
        .is_some(),
        "no 5 ms bucket:\n{page}"
    );
    assert_count(
        sample(&page, "imagefleet_bytes_uploaded_total", &[]),
        1000.0,
        "bytes uploaded",
    );
    assert_count(
        sample(&page, "imagefleet_bytes_downloaded_total", &[]),
        1000.0,
        "bytes downloaded",
    );
    let commands = "imagefleet_commands_total";
    for (command, count) in [
        ("create_image", 3.0),
        ("update_image", 1.0),
        ("begin_upload", 1.0),
        ("complete_upload", 1.0),
    ] {
        let labels = [("type", command), ("outcome", "accepted")];
        assert_count(sample(&page, commands, &labels), count, command);
    }
    assert_count(
        sample(
            &page,
            "imagefleet_command_duration_seconds_count",
            &[("type", "create_image")],
        ),
        3.0,
        "command duration count of create_image",
    );
    assert_count(
        sample(&page, "imagefleet_relay_leader", &[]),
        1.0,
        "relay leader",
    );
    let lag = sample(&page, "imagefleet_outbox_lag_seconds", &[]).expect("outbox lag");
    assert!(lag >= 0.0, "lag {lag}");
    app.stop().await;
}
