//! copy-image between named stores: the image stays active while its data is copied
//! from the store holding it to the ones named, verified there; at the end it lists
//! both stores. `all_stores` copies only to the stores that lack the image (none
//! lacking it: 202 and nothing to do). A copy that does not match the image's
//! checksums fails the task and leaves the image as it was. A download falls back to
//! the copy when the first store fails.

use super::*;
use domain::image::{FAILED_IMPORT_PROPERTY, IMPORTING_TO_STORES_PROPERTY};
use imagefleet_tests::fixtures::admin;

fn copy_to(stores: &[&str]) -> Value {
    json!({"method": {"name": "copy-image"}, "stores": stores})
}

#[tokio::test(flavor = "multi_thread")]
async fn copy_image_copies_fast_to_cold_and_the_image_lists_both() {
    let mut app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(2_000_000);
    let id = uploaded_image(&app, &data).await;
    app.stop_workers().await;
    app.start_commands_worker("commands-only");
    let accepted = import_as(&app, &admin(), &id, copy_to(&["cold"])).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let running = stored_image(&app, &id).await;
    assert_eq!(
        running.status.to_string(),
        "active",
        "a copy leaves it active"
    );
    assert_eq!(
        running
            .properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("cold")
    );
    assert!(running.import_task().is_some(), "the import lock is taken");
    app.start_worker("copier");
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let done = stored_image(&app, &id).await;
    assert_eq!(done.status.to_string(), "active");
    assert_eq!(done.stores, vec!["fast", "cold"]);
    assert_eq!(done.import_task(), None);
    assert_eq!(
        done.properties
            .get(IMPORTING_TO_STORES_PROPERTY)
            .map(String::as_str),
        Some("")
    );
    let copy = std::fs::read(store_dir(&app, "cold").join("images").join(&id)).expect("copied");
    assert!(copy == data, "the copy in cold is the image's data");
    // With its first store's data gone, the image is served from the copy.
    std::fs::remove_file(store_dir(&app, "fast").join("images").join(&id)).expect("removed");
    assert_eq!(download(&app, &id).await, data);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_download_falls_back_to_the_next_store_when_the_first_fails() {
    let app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(500_000);
    let id = uploaded_image(&app, &data).await;
    let accepted = import_as(&app, &admin(), &id, copy_to(&["cold"])).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    // The first store cannot be read at all now (its image area is not a directory).
    break_store(&app, "fast");
    assert_eq!(download(&app, &id).await, data);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_stores_copies_only_where_the_image_is_missing_and_nowhere_when_it_is_everywhere() {
    let app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(100_000);
    let id = uploaded_image(&app, &data).await;
    let body = json!({"method": {"name": "copy-image"}, "all_stores": true});
    let accepted = import_as(&app, &admin(), &id, body.clone()).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    assert_eq!(finished_task(&app, &id).await["status"], "success");
    assert_eq!(stored_image(&app, &id).await.stores, vec!["fast", "cold"]);
    let version = stored_image(&app, &id).await.version;
    let again = import_as(&app, &admin(), &id, body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    let tasks = app
        .get(&format!("/v2/images/{id}/tasks"), &admin())
        .await
        .json;
    assert_eq!(
        tasks["tasks"].as_array().map(Vec::len),
        Some(1),
        "nothing to copy: no task"
    );
    assert_eq!(stored_image(&app, &id).await.version, version, "no change");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_that_does_not_match_the_images_checksums_fails_and_leaves_the_image_as_it_was() {
    let app = TestApp::start_multi_store(&STORES).await;
    let data = pattern(200_000);
    let id = uploaded_image(&app, &data).await;
    // The same size, other bytes: only the checksums tell.
    let mut corrupt = data.clone();
    corrupt[100_000] ^= 0xff;
    std::fs::write(store_dir(&app, "fast").join("images").join(&id), &corrupt)
        .expect("the stored data is replaced");
    let accepted = import_as(&app, &admin(), &id, copy_to(&["cold"])).await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "failure", "{task}");
    assert!(
        task["message"]
            .as_str()
            .is_some_and(|m| m.contains("does not match")),
        "{task}"
    );
    let after = stored_image(&app, &id).await;
    assert_eq!(after.status.to_string(), "active");
    assert!(
        after.stores.is_empty() || after.stores == vec!["fast"],
        "{:?}",
        after.stores
    );
    assert_eq!(after.import_task(), None, "the lock is released");
    assert_eq!(
        after
            .properties
            .get(FAILED_IMPORT_PROPERTY)
            .map(String::as_str),
        Some("cold")
    );
    assert!(
        image_files(&app, "cold").is_empty(),
        "no copy in cold: {:?}",
        image_files(&app, "cold")
    );
    assert_eq!(
        image_files(&app, "fast"),
        vec![id.clone()],
        "the image keeps its data"
    );
    app.stop().await;
}
