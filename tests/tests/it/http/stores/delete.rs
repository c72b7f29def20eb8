//! `DELETE /v2/stores/{store_id}/{image_id}` as Glance's `delete_from_store` answers
//! it, plus our refusal while an import runs; an accepted removal takes the store off
//! the image, a job removes that store's blob, and the image still downloads from the
//! store that kept it. A late or forged event removes no copy the image lists or an
//! import writes.

use axum::http::StatusCode;
use diesel_async::RunQueryDsl;
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::{admin, owner};
use imagefleet_tests::wait::wait_until;
use serde_json::json;
use std::time::Duration;

use super::{STORES, blob, hold_in_both, upload_default, upload_to};

/// Long enough for the job to remove a small blob.
const DEADLINE: Duration = Duration::from_secs(30);

fn path(store: &str, id: &str) -> String {
    format!("/v2/stores/{store}/{id}")
}

#[tokio::test(flavor = "multi_thread")]
async fn removing_one_store_keeps_the_other_and_the_blob_goes() {
    let app = TestApp::start_multi_store(STORES).await;
    let data = b"held twice".to_vec();
    let id = upload_to(&app, "fast", &data).await;
    hold_in_both(&app, &id).await;

    let removed = app.delete(&path("fast", &id), &admin()).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let shown = app.get(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(shown.json["stores"], "cold", "{}", shown.text);
    assert_eq!(shown.json["status"], "active");

    let fast = blob(&app, "fast", &id);
    wait_until(DEADLINE, "the fast store's copy is removed", async || {
        !fast.exists()
    })
    .await
    .expect("the job removes the blob");
    assert!(blob(&app, "cold", &id).exists(), "the cold copy stays");

    let downloaded = app.get(&format!("/v2/images/{id}/file"), &owner()).await;
    assert_eq!(downloaded.status, StatusCode::OK, "{}", downloaded.text);
    assert_eq!(downloaded.bytes.as_ref(), data.as_slice());

    let again = app.delete(&path("cold", &id), &admin()).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "the only copy now");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_store_site_has_no_store_to_delete_from() {
    let app = TestApp::start().await;
    let id = upload_default(&app, b"single").await;
    let response = app.delete(&path("default", &id), &admin()).await;
    assert_eq!(response.status, StatusCode::NOT_FOUND, "{}", response.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn glance_refusals_in_order() {
    let app = TestApp::start_multi_store(STORES).await;
    let id = upload_to(&app, "fast", b"once").await;

    let unknown = app.delete(&path("warm", &id), &admin()).await;
    assert_eq!(unknown.status, StatusCode::CONFLICT, "{}", unknown.text);
    assert_eq!(
        unknown.json["message"],
        "The selected store warm is not available on this node."
    );

    let missing = uuid::Uuid::new_v4();
    let absent = app
        .delete(&path("fast", &missing.to_string()), &admin())
        .await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND, "{}", absent.text);
    assert_eq!(
        absent.json["message"],
        format!("Failed to find image {missing}")
    );

    let only = app.delete(&path("fast", &id), &admin()).await;
    assert_eq!(only.status, StatusCode::FORBIDDEN, "{}", only.text);
    assert_eq!(
        only.json["message"],
        "Cannot delete image data from the only store containing it. Consider deleting the \
         image instead."
    );

    hold_in_both(&app, &id).await;
    let by_owner = app.delete(&path("fast", &id), &owner()).await;
    assert_eq!(
        by_owner.status,
        StatusCode::FORBIDDEN,
        "admins only: {}",
        by_owner.text
    );
    assert_eq!(
        by_owner.json["message"],
        "You are not authorized to complete delete_image_location action."
    );

    let body = json!({"name": "queued", "disk_format": "raw", "container_format": "bare"});
    let queued = app.post_json("/v2/images", &owner(), body).await;
    let queued = queued.json["id"].as_str().expect("an id").to_owned();
    let not_active = app.delete(&path("fast", &queued), &admin()).await;
    assert_eq!(
        not_active.status,
        StatusCode::CONFLICT,
        "{}",
        not_active.text
    );

    let deactivate = format!("/v2/images/{id}/actions/deactivate");
    assert_eq!(
        app.post(&deactivate, &admin()).await.status,
        StatusCode::NO_CONTENT
    );
    let deactivated = app.delete(&path("fast", &id), &admin()).await;
    assert_eq!(
        deactivated.status,
        StatusCode::CONFLICT,
        "{}",
        deactivated.text
    );
    let reactivate = format!("/v2/images/{id}/actions/reactivate");
    assert_eq!(
        app.post(&reactivate, &admin()).await.status,
        StatusCode::NO_CONTENT
    );

    let elsewhere = upload_to(&app, "cold", b"elsewhere").await;
    let mut conn = app.db.conn().await.expect("a connection");
    diesel::sql_query("UPDATE images SET stores = ARRAY['cold', 'cold2'] WHERE id = $1::uuid")
        .bind::<diesel::sql_types::Text, _>(&elsewhere)
        .execute(&mut conn)
        .await
        .expect("list two stores");
    let not_there = app.delete(&path("fast", &elsewhere), &admin()).await;
    assert_eq!(
        not_there.status,
        StatusCode::NOT_FOUND,
        "{}",
        not_there.text
    );
    assert_eq!(
        not_there.json["message"],
        format!("Image {elsewhere} is not stored in store fast.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_running_import_blocks_the_removal() {
    let app = TestApp::start_multi_store(STORES).await;
    let id = upload_to(&app, "fast", b"importing").await;
    hold_in_both(&app, &id).await;
    let mut conn = app.db.conn().await.expect("a connection");
    let task = uuid::Uuid::new_v4().to_string();
    diesel::sql_query(
        "INSERT INTO image_properties (image_id, name, value) \
         VALUES ($1::uuid, 'os_glance_import_task', $2)",
    )
    .bind::<diesel::sql_types::Text, _>(&id)
    .bind::<diesel::sql_types::Text, _>(&task)
    .execute(&mut conn)
    .await
    .expect("mark an import as running");
    let refused = app.delete(&path("cold", &id), &admin()).await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert!(blob(&app, "cold", &id).exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_event_removes_only_copies_no_store_or_import_claims() {
    // The job walks the stores in configured order: fast, removed last, tells that it
    // has decided about the others.
    let app = TestApp::start_multi_store(&["warm", "cold", "fast"]).await;
    let id = upload_to(&app, "cold", b"kept").await;
    // An import is copying the image to warm; a stray copy lies in fast.
    let mut conn = app.db.conn().await.expect("a connection");
    diesel::sql_query(
        "INSERT INTO image_properties (image_id, name, value) VALUES \
         ($1::uuid, 'os_glance_import_task', $2), \
         ($1::uuid, 'os_glance_importing_to_stores', 'warm')",
    )
    .bind::<diesel::sql_types::Text, _>(&id)
    .bind::<diesel::sql_types::Text, _>(uuid::Uuid::new_v4().to_string())
    .execute(&mut conn)
    .await
    .expect("mark an import to warm as running");
    for store in ["fast", "warm"] {
        let copy = blob(&app, store, &id);
        std::fs::create_dir_all(copy.parent().expect("a parent")).expect("the store directory");
        std::fs::copy(blob(&app, "cold", &id), copy).expect("a copy");
    }

    // An event claiming no store holds the data any more.
    let event = wire::EventEnvelope {
        schema: wire::EVENT_SCHEMA_V1.to_owned(),
        event_id: uuid::Uuid::now_v7(),
        occurred_at: chrono::Utc::now(),
        aggregate: "image".to_owned(),
        id: uuid::Uuid::parse_str(&id).expect("a uuid"),
        version: 99,
        event_type: "image.removed_from_store".to_owned(),
        from_status: Some("active".to_owned()),
        to_status: "active".to_owned(),
        command_id: uuid::Uuid::now_v7(),
        correlation_id: None,
        actor: admin(),
        snapshot: json!({"stores": []}),
    };
    let probe = imagefleet_tests::BusProbe::new(&app.bus).await;
    let jobs = app.bus.topology().queue(bus::WorkQueue::Jobs);
    let body = serde_json::to_vec(&event).expect("json");
    probe
        .publish_to(&jobs, &body, probe.properties("late-event"))
        .await;

    let fast = blob(&app, "fast", &id);
    wait_until(DEADLINE, "the stray copy in fast is removed", async || {
        !fast.exists()
    })
    .await
    .expect("the job removes what nothing claims");
    assert!(blob(&app, "cold", &id).exists(), "the image lists cold");
    assert!(
        blob(&app, "warm", &id).exists(),
        "the import writes to warm"
    );
    probe.close().await;
}
