//! The image in multi-store mode: `stores` lists the stores holding its data (the
//! default one for data that lists none), never on an image without data nor on a
//! single-store site; shown locations carry one `{"store": id}` location per store;
//! `stores` is read-only on create and patch; and a create answer names the stores
//! (`OpenStack-image-store-ids`).

use axum::http::StatusCode;
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use serde_json::json;

use super::{STORES, hold_in_both, upload_default, upload_to};

#[tokio::test(flavor = "multi_thread")]
async fn an_image_shows_the_stores_holding_its_data() {
    let app = TestApp::start_multi_store(STORES).await;
    let body = json!({"name": "empty", "disk_format": "raw", "container_format": "bare"});
    let queued = app.post_json("/v2/images", &owner(), body).await;
    assert!(
        queued.json.get("stores").is_none(),
        "no data, no stores: {}",
        queued.text
    );

    let cold = upload_to(&app, "cold", b"cold data").await;
    let shown = app.get(&format!("/v2/images/{cold}"), &owner()).await;
    assert_eq!(shown.json["stores"], "cold", "{}", shown.text);
    assert!(
        shown.json.get("locations").is_none(),
        "locations are not shown"
    );

    let default = upload_default(&app, b"default data").await;
    let listed = app.get("/v2/images", &owner()).await;
    let entry = listed.json["images"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|i| i["id"] == default.as_str())
        .cloned()
        .expect("listed");
    assert_eq!(entry["stores"], "fast", "the default store took it");

    hold_in_both(&app, &default).await;
    let both = app.get(&format!("/v2/images/{default}"), &owner()).await;
    assert_eq!(both.json["stores"], "fast,cold");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_that_lists_no_store_is_shown_in_the_default_store() {
    let app = TestApp::start_multi_store(STORES).await;
    let id = upload_to(&app, "fast", b"written before stores had names").await;
    let mut conn = app.db.conn().await.expect("a connection");
    diesel::sql_query("UPDATE images SET stores = '{}' WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&id)
        .execute(&mut conn)
        .await
        .expect("forget the store");
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(shown.json["stores"], "fast", "{}", shown.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_store_site_shows_no_stores() {
    let app = TestApp::start().await;
    let id = upload_default(&app, b"single").await;
    let body = json!({"name": "unnamed"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert!(created.headers.get("openstack-image-store-ids").is_none());
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(shown.json["status"], "active", "{}", shown.text);
    assert!(shown.json.get("stores").is_none(), "{}", shown.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn shown_locations_hold_one_location_per_store() {
    let settings = api_gateway::Settings {
        show_multiple_locations: true,
        ..api_gateway::Settings::default()
    };
    let app = TestApp::start_multi_store_with(STORES, &[], settings).await;
    let id = upload_to(&app, "fast", b"located").await;
    hold_in_both(&app, &id).await;
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    let url = |store: &str| {
        let dir = app.db.data_dir().join(store);
        format!("file://{}/images/{id}", dir.display())
    };
    assert_eq!(
        shown.json["locations"],
        json!([
            {"url": url("fast"), "metadata": {"store": "fast"}},
            {"url": url("cold"), "metadata": {"store": "cold"}},
        ]),
        "{}",
        shown.text
    );
    assert_eq!(shown.json["direct_url"], url("fast"));
}

#[tokio::test(flavor = "multi_thread")]
async fn stores_is_read_only() {
    let app = TestApp::start_multi_store(STORES).await;
    let body = json!({"name": "x", "stores": "cold"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert_eq!(created.status, StatusCode::FORBIDDEN, "{}", created.text);
    assert_eq!(created.json["message"], "Attribute 'stores' is read-only.");

    let id = upload_to(&app, "fast", b"patched").await;
    for op in ["add", "replace"] {
        let patch = json!([{"op": op, "path": "/stores", "value": "cold"}]);
        let patched = app
            .patch(&format!("/v2/images/{id}"), &owner(), patch)
            .await;
        assert_eq!(
            patched.status,
            StatusCode::FORBIDDEN,
            "{op}: {}",
            patched.text
        );
    }
    let removal = json!([{"op": "remove", "path": "/stores"}]);
    let patched = app
        .patch(&format!("/v2/images/{id}"), &owner(), removal)
        .await;
    assert_eq!(patched.status, StatusCode::FORBIDDEN, "{}", patched.text);
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(shown.json["stores"], "fast");
}
