//! `GET /v2/info/stores` and `/v2/info/stores/detail` as Glance's discovery API answers
//! them: 404 with a single store, the stores with the default marked (a string) and
//! descriptions only where configured, and the admin-only detail with type, properties
//! (a file store's and, on moto's S3 server, an S3 store's) and weight.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, owner};
use serde_json::json;
use std::time::Duration;

use super::STORES;

#[tokio::test(flavor = "multi_thread")]
async fn a_single_store_site_has_no_stores_api() {
    let app = TestApp::start().await;
    for path in ["/v2/info/stores", "/v2/info/stores/detail"] {
        let response = app.get(path, &admin()).await;
        assert_eq!(
            response.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            response.text
        );
        assert_eq!(
            response.json["message"], "Multi backend is not supported at this site.",
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_list_ids_the_default_and_configured_descriptions() {
    let descriptions = [("cold", "Slow and cheap")];
    let settings = api_gateway::Settings::default();
    let app = TestApp::start_multi_store_with(STORES, &descriptions, settings).await;
    let response = app.get("/v2/info/stores", &owner()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    assert_eq!(
        response.json,
        json!({"stores": [
            {"id": "fast", "default": "true"},
            {"id": "cold", "description": "Slow and cheap"},
        ]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn store_details_are_for_admins_and_show_each_store_settings() {
    let app = TestApp::start_multi_store(STORES).await;
    let refused = app.get("/v2/info/stores/detail", &owner()).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(
        refused.json["message"],
        "You are not authorized to complete stores_info_detail action."
    );

    let response = app.get("/v2/info/stores/detail", &admin()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    let dir = |id: &str| app.db.data_dir().join(id).display().to_string();
    let detail = |id: &str| {
        json!({
            "id": id,
            "type": "file",
            "weight": 0,
            "properties": {"data_dir": dir(id), "chunk_size": 1 << 20, "thin_provisioning": false},
        })
    };
    let mut fast = detail("fast");
    fast["default"] = json!("true");
    assert_eq!(response.json, json!({"stores": [fast, detail("cold")]}));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_store_shows_glance_s3_properties_with_our_values() {
    let s3 = imagefleet_tests::S3Server::start()
        .await
        .expect("moto's S3 server");
    let bucket = store::NamedStore {
        id: "bucket".to_owned(),
        description: None,
        kind: store::StoreKind::S3,
        store: s3.store("stores", Duration::from_secs(30)),
    };
    let stores = store::Stores::named(vec![bucket], 0);
    let app = TestApp::start_on_stores(stores, Duration::from_secs(3600)).await;
    let response = app.get("/v2/info/stores/detail", &admin()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    // Every S3 write is multipart in 5 MiB parts, two sent at a time.
    let expected = json!({"stores": [{
        "id": "bucket",
        "default": "true",
        "type": "s3",
        "weight": 0,
        "properties": {
            "s3_store_large_object_size": 0,
            "s3_store_large_object_chunk_size": 5 << 20,
            "s3_store_thread_pools": 2,
        },
    }]});
    assert_eq!(response.json, expected);
}
