//! The delayed-delete scrubber purges pending-delete images and their data once their
//! time comes; an admin restores one before it with its data intact.

use super::*;

/// Creates a raw/bare image over HTTP and uploads `data` to it; returns its id.
async fn uploaded(app: &TestApp, data: &[u8]) -> String {
    let body = json!({"name": "scrub", "disk_format": "raw", "container_format": "bare"});
    let created = app.post_json("/v2/images", &owner(), body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.json["id"].as_str().expect("id").to_owned();
    let path = format!("/v2/images/{id}/file");
    let body = Some(("application/octet-stream", data.to_vec()));
    let put = app.request(Method::PUT, &path, Some(&owner()), body).await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    id
}

fn image_id(id: &str) -> ImageId {
    ImageId::parse(id).expect("a UUID")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_scrubber_purges_pending_delete_images_and_their_data() {
    let config = DomainConfig {
        delayed_delete: true,
        scrub_time: chrono::Duration::zero(),
        ..DomainConfig::default()
    };
    let mode = api_gateway::identity::AuthMode::Headers;
    let app = TestApp::start_with(config, Default::default(), mode, None).await;
    let id = uploaded(&app, b"scrub me").await;
    assert_eq!(app.db.data_files().len(), 1, "the image's data is stored");
    let path = format!("/v2/images/{id}");
    assert_eq!(
        app.delete(&path, &owner()).await.status,
        StatusCode::NO_CONTENT
    );

    wait_until(
        DEADLINE,
        "the image is purged and its data gone",
        async || {
            app.get(&path, &admin()).await.status == StatusCode::NOT_FOUND
                && app.db.data_files().is_empty()
        },
    )
    .await
    .expect("the scrubber purges");
    let image = stored_image(&app.db, image_id(&id)).await;
    assert_eq!(image.status.as_str(), "deleted");
    let mut events = history(&app.db, image_id(&id)).await;
    let purged = events.pop().expect("the purge's event");
    let deleted = events.pop().expect("the delete's event");
    assert_eq!(deleted.0, "pending_delete", "the owner's delete is delayed");
    assert_eq!(
        purged,
        ("deleted".into(), Some("janitor".into())),
        "then purged"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_restores_before_the_scrub_time_with_the_data_intact() {
    let config = DomainConfig {
        delayed_delete: true,
        scrub_time: chrono::Duration::hours(1),
        ..DomainConfig::default()
    };
    let mode = api_gateway::identity::AuthMode::Headers;
    let app = TestApp::start_with(config.clone(), Default::default(), mode, None).await;
    let data = b"keep me until the scrub time";
    let id = uploaded(&app, data).await;
    let path = format!("/v2/images/{id}");
    assert_eq!(
        app.delete(&path, &owner()).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&path, &owner()).await.status, StatusCode::NOT_FOUND);

    // A round that started after the delete has run, and left the image alone.
    let repo = Repository::new(app.db.pool().clone(), config);
    a_round_runs(&app.db, &repo).await;
    let image = stored_image(&app.db, image_id(&id)).await;
    assert_eq!(
        image.status.as_str(),
        "pending_delete",
        "kept until scrub_time"
    );

    let restore = format!("{path}/actions/restore");
    let restored = app.post(&restore, &admin()).await;
    assert_eq!(restored.status, StatusCode::NO_CONTENT, "{}", restored.text);
    let shown = app.get(&path, &owner()).await;
    assert_eq!(shown.json["status"], "active");
    let download = app.get(&format!("{path}/file"), &owner()).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(download.text.as_bytes(), data, "the same bytes come back");
    app.stop().await;
}
