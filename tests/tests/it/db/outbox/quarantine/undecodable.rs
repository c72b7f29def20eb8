//! A row that does not encode holds back its image's later events and ends quarantined.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_row_holds_back_its_image_and_is_quarantined() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.queue("plain", FieldTable::default()).await;
    let (image, other) = (Uuid::new_v4(), Uuid::new_v4());
    good(&db, image, 1).await;
    let snapshot = json!({"id": image, "version": 2});
    let poisoned = insert(&db, image, 2, json!(42), snapshot).await;
    let behind = good(&db, image, 3).await;
    good(&db, other, 1).await;

    shared::metrics::install();
    let relay = Running::start(relay_config(&db, &bus));
    wait_until(
        DEADLINE,
        "version 1 and the other image arrive",
        async || subscriber.versions(image).contains(&1) && subscriber.versions(other).contains(&1),
    )
    .await
    .expect("the healthy rows are published");
    another_pass(&db, &subscriber, other, 2).await;
    another_pass(&db, &subscriber, other, 3).await;

    assert_eq!(
        subscriber.versions(image),
        [1],
        "version 3 must not go out while version 2 is unpublished, nor again on every pass"
    );
    let row = bookkeeping(&db, poisoned).await;
    assert!(row.quarantined && !row.published, "{row:?}");
    assert_eq!(
        row.publish_attempts, 1,
        "a row that does not decode never will"
    );
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("does not decode"), "{error}");
    let held = bookkeeping(&db, behind).await;
    assert!(!held.published && !held.quarantined && held.publish_attempts == 0);

    let gauge = "imagefleet_outbox_quarantined_rows 1";
    wait_until(
        DEADLINE,
        "the gauge shows the quarantined row",
        async || {
            shared::metrics::install()
                .render()
                .lines()
                .any(|l| l == gauge)
        },
    )
    .await
    .expect("imagefleet_outbox_quarantined_rows");
    let page = shared::metrics::install().render();
    assert!(
        page.lines()
            .any(|l| l.starts_with("imagefleet_outbox_oldest_unpublished_seconds ")),
        "the oldest unpublished row's age is a gauge"
    );
    relay.stop().await;
    subscriber.close().await;
}
