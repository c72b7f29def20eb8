//! The versions document: with named stores it lists what Glance adds with
//! `enabled_backends` (v2.8 to v2.13), and a path under one of them is served; a
//! single-store site lists and serves neither v2.8, v2.10, v2.11 nor v2.13.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;

use super::STORES;

/// The ids `/versions` lists, in order.
async fn listed(app: &TestApp) -> Vec<String> {
    let response = app.get("/versions", &owner()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    response.json["versions"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
}

const MULTI_STORE_IDS: [&str; 4] = ["v2.8", "v2.10", "v2.11", "v2.13"];

#[tokio::test(flavor = "multi_thread")]
async fn multi_store_sites_list_and_serve_the_multi_store_versions() {
    let app = TestApp::start_multi_store(STORES).await;
    let ids = listed(&app).await;
    let expected: Vec<&str> = vec![
        "v2.15", "v2.13", "v2.12", "v2.11", "v2.10", "v2.9", "v2.8", "v2.17", "v2.7", "v2.6",
        "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
    ];
    assert_eq!(ids, expected);
    let served = app.get("/v2.13/info/stores", &owner()).await;
    assert_eq!(served.status, StatusCode::OK, "{}", served.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_store_sites_list_no_multi_store_version() {
    let app = TestApp::start().await;
    let ids = listed(&app).await;
    let expected: Vec<&str> = vec![
        "v2.15", "v2.12", "v2.9", "v2.17", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1",
        "v2.0",
    ];
    assert_eq!(ids, expected);
    for id in MULTI_STORE_IDS {
        let response = app.get(&format!("/{id}/images"), &owner()).await;
        assert_eq!(response.status, StatusCode::MULTIPLE_CHOICES, "{id}");
        assert!(
            response.json["versions"].is_array(),
            "{id}: {}",
            response.text
        );
    }
}
