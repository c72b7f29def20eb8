//! `GET /v2/info/stores` and `/v2/info/stores/detail` as Glance's discovery API answers
//! them: 404 with a single store, the stores with the default marked (a string) and
//! descriptions only where configured, and the admin-only detail with type, properties
//! and weight.

use axum::http::StatusCode;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, owner};
use serde_json::json;

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
