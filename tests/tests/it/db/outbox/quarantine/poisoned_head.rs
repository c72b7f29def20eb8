//! Hundreds of rows that cannot be published, at the head of the outbox, do not stop
//! other images' events.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_poisoned_rows_at_the_head_do_not_stop_other_images() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.queue("plain", FieldTable::default()).await;
    let mut conn = db.conn().await.expect("connection");
    // More than a batch (256), each of its own image, ahead of the healthy one.
    diesel::sql_query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, \
         to_status, routing_key, command_id, actor, snapshot, occurred_at) \
         SELECT gen_random_uuid(), 'image', gen_random_uuid(), 1, 'image.created', \
         'queued', 'image.queued', gen_random_uuid(), '42', '{}', now() \
         FROM generate_series(1, 300)",
    )
    .execute(&mut conn)
    .await
    .expect("poisoned rows");
    let healthy = Uuid::new_v4();
    for version in 1..=3 {
        good(&db, healthy, version).await;
    }

    let relay = Running::start(relay_config(&db, &bus));
    wait_until(DEADLINE, "the healthy image's events arrive", async || {
        subscriber.versions(healthy).len() >= 3
    })
    .await
    .expect("poisoned rows at the head must not stop other images");
    assert_eq!(first_arrivals(&subscriber.versions(healthy)), [1, 2, 3]);
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    wait_until(DEADLINE, "every poisoned row is quarantined", async || {
        let count: Count =
            diesel::sql_query("SELECT count(*) AS n FROM events WHERE quarantined_at IS NOT NULL")
                .get_result(&mut conn)
                .await
                .expect("count");
        count.n == 300
    })
    .await
    .expect("quarantined");
    relay.stop().await;
    subscriber.close().await;
}
