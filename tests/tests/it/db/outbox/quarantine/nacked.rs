//! A row the broker nacks holds back its image's later events, in order, and ends
//! quarantined.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_nacked_publish_holds_back_its_image_in_order() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.limited("limited").await;
    let (image, other) = (Uuid::new_v4(), Uuid::new_v4());
    let nacked = nacked_rows(&db, image).await;
    good(&db, other, 1).await;

    let relay = Running::start(relay_config(&db, &bus));
    wait_until(
        DEADLINE,
        "version 1 and the other image arrive",
        async || subscriber.versions(image).contains(&1) && subscriber.versions(other).contains(&1),
    )
    .await
    .expect("the rows that fit are published");
    another_pass(&db, &subscriber, other, 2).await;
    assert_eq!(
        subscriber.versions(image),
        [1],
        "version 3 must not go out before the nacked version 2"
    );
    wait_until(DEADLINE, "the nacked row is quarantined", async || {
        bookkeeping(&db, nacked).await.quarantined
    })
    .await
    .expect("a row the broker keeps nacking is quarantined");
    another_pass(&db, &subscriber, other, 3).await;
    assert_eq!(subscriber.versions(image), [1], "nor after the quarantine");
    let row = bookkeeping(&db, nacked).await;
    assert_eq!(row.publish_attempts, 3);
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("nacked"), "{error}");
    relay.stop().await;
    subscriber.close().await;
}
