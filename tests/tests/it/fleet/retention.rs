//! Retention of command records (README, "Bounded growth"): the janitor deletes
//! `processed_commands` rows older than `IMAGEFLEET_PROCESSED_RETENTION` (7 days by
//! default), in batches, and keeps the younger ones; a command delivered again after
//! its record went is decided as new. Each delete statement takes one bounded batch.

use std::time::Duration;

use apply::{ApplyError, Repository};
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use domain::{DomainConfig, ImageId, RejectionKind};
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use workers::janitor::retention::PRUNE_BATCH;

use crate::db::repository::count;

const DEADLINE: Duration = Duration::from_secs(60);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn older_than_retention(db: &TestDb) -> i64 {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "SELECT count(*) AS n FROM processed_commands WHERE created_at < now() - interval '7 days'",
    )
    .get_result::<Count>(&mut conn)
    .await
    .expect("count")
    .n
}

#[tokio::test(flavor = "multi_thread")]
async fn the_janitor_prunes_records_past_their_retention_in_batches_and_keeps_the_rest() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let image = ImageId::generate();
    let created = envelope(owner(), create(image, "retained"));
    repo.apply(&created).await.expect("created");
    let tagged = envelope(owner(), add_tag(image, "fresh"));
    repo.apply(&tagged).await.expect("tagged");
    // Records of more than two batches, 8 days old, and the creation's among them.
    let old = 2 * PRUNE_BATCH + 17;
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "INSERT INTO processed_commands (command_id, aggregate_id, command_type, result, created_at) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'add_tag', '{}'::jsonb, \
                now() - interval '8 days' FROM generate_series(1, $1)",
    )
    .bind::<BigInt, _>(old)
    .execute(&mut conn)
    .await
    .expect("old records");
    diesel::sql_query(
        "UPDATE processed_commands SET created_at = now() - interval '8 days' WHERE command_id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(created.command_id.as_uuid())
    .execute(&mut conn)
    .await
    .expect("the creation's record aged");
    assert_eq!(older_than_retention(&db).await, old + 1);

    let worker = TestWorker::start(&db, &bus, "retention");
    wait_until(DEADLINE, "the old records are pruned", async || {
        older_than_retention(&db).await == 0
    })
    .await
    .expect("pruned");
    assert_eq!(
        count(&db, "processed_commands").await,
        1,
        "the young record stays"
    );
    worker.stop().await;

    // The tag's record stays: sent again, it is answered from it.
    assert!(repo.apply(&tagged).await.expect("replayed").replayed);
    // The creation's record is gone: sent again, it is decided as new (and refused,
    // since the image exists), not answered as applied.
    let again = repo.apply(&created).await;
    assert!(
        matches!(again, Err(ApplyError::Rejected(ref r)) if r.kind == RejectionKind::Conflict),
        "{again:?}"
    );
    assert_eq!(count(&db, "images").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_prune_statement_deletes_at_most_its_batch() {
    let db = TestDb::new().await.expect("test database");
    let mut conn = db.conn().await.expect("connection");
    // 25 records past the retention, a day apart in age, and one young record.
    diesel::sql_query(
        "INSERT INTO processed_commands (command_id, aggregate_id, command_type, result, created_at) \
         SELECT gen_random_uuid(), gen_random_uuid(), 'add_tag', '{}'::jsonb, \
                now() - make_interval(days => 7 + n) FROM generate_series(1, 25) AS n \
         UNION ALL SELECT gen_random_uuid(), gen_random_uuid(), 'add_tag', '{}'::jsonb, now()",
    )
    .execute(&mut conn)
    .await
    .expect("records");
    let retention = workers::janitor::retention::DEFAULT_PROCESSED_RETENTION;
    let mut rounds = Vec::new();
    loop {
        let deleted = apply::sweep::prune_processed(&mut conn, retention, 10)
            .await
            .expect("pruned");
        rounds.push(deleted);
        if deleted < 10 {
            break;
        }
    }
    assert_eq!(
        rounds,
        [10, 10, 5],
        "a batch per statement, until one comes back short"
    );
    assert_eq!(older_than_retention(&db).await, 0);
    assert_eq!(
        count(&db, "processed_commands").await,
        1,
        "the young record stays"
    );
}
