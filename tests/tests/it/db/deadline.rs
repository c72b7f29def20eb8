//! Command deadlines (README, message contract): a command is never applied past its
//! deadline, judged by the database's clock just before the commit; it is recorded as
//! expired instead, so no later delivery applies it, while the same command id sent
//! again with a deadline still ahead (a client retrying) is decided as new.

use std::time::Duration;

use apply::{ApplyError, Repository};
use chrono::Utc;
use db::document;
use db::document::Answer;
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Timestamptz};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use domain::{DomainConfig, ImageId, RejectionKind};
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;

use crate::db::repository::count;

const DEADLINE: Duration = Duration::from_secs(30);

fn repository(db: &TestDb) -> Repository {
    Repository::new(db.pool().clone(), DomainConfig::default())
}

/// A repository whose sessions wait for locks (and statements) for ten minutes: a
/// command held behind a lock past its deadline meets its deadline check, not a
/// timeout, however slowly the test gets round to releasing the lock.
pub(crate) fn patient_repository(db: &TestDb) -> Repository {
    let url = format!(
        "{}?options=-c%20lock_timeout%3D600000%20-c%20statement_timeout%3D600000",
        db.url()
    );
    let pool = db::build_pool(&url, db::PoolOptions::default()).expect("pool");
    Repository::new(pool, DomainConfig::default())
}

fn expired(result: &Result<apply::Applied, ApplyError>) -> bool {
    matches!(result, Err(ApplyError::Rejected(r)) if r.kind == RejectionKind::Expired)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_past_its_deadline_is_recorded_expired_and_never_applied() {
    let db = TestDb::new().await.expect("test database");
    let repo = repository(&db);
    let image = ImageId::generate();
    let late = envelope(owner(), create(image, "late"))
        .with_deadline(Utc::now() - chrono::Duration::seconds(1));
    for _ in 0..2 {
        let result = repo.apply(&late).await;
        assert!(expired(&result), "{result:?}");
    }
    for table in ["images", "events"] {
        assert_eq!(count(&db, table).await, 0, "{table}: nothing applied");
    }
    let mut conn = db.conn().await.expect("connection");
    let answer = document::recorded_answer(&mut conn, late.command_id)
        .await
        .expect("read");
    assert!(
        matches!(answer, Some(Answer::Refused(ref r)) if r.kind == RejectionKind::Expired),
        "{answer:?}"
    );
    // The producer sends it again under the same id with a deadline ahead: applied
    // once, and its record now says so.
    let retried = late
        .clone()
        .with_deadline(Utc::now() + chrono::Duration::minutes(1));
    let applied = repo.apply(&retried).await.expect("applied");
    assert!(!applied.replayed);
    let again = repo.apply(&late).await.expect("answered from the record");
    assert!(again.replayed, "the late copy gets the applied answer");
    assert_eq!(count(&db, "images").await, 1);
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_held_behind_a_row_lock_past_its_deadline_is_not_committed() {
    let db = TestDb::new().await.expect("test database");
    let repo = patient_repository(&db);
    let image = ImageId::generate();
    repo.apply(&envelope(owner(), create(image, "locked")))
        .await
        .expect("created");
    // Another session holds the image's row, as in the held-lock measurement.
    let mut holder = diesel_async::AsyncPgConnection::establish(db.url())
        .await
        .expect("holder");
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM images WHERE id = '{image}' FOR UPDATE"
        ))
        .await
        .expect("row locked");
    let deadline = Utc::now() + chrono::Duration::milliseconds(500);
    let tag = envelope(owner(), add_tag(image, "late")).with_deadline(deadline);
    let applying = {
        let (repo, tag) = (repo.clone(), tag.clone());
        tokio::spawn(async move { repo.apply(&tag).await })
    };
    let mut probe = db.conn().await.expect("probe");
    // The command read and decided before the deadline and waits to write: only the
    // check just before its commit can stop it now.
    wait_until(DEADLINE, "the command waits on the row lock", async || {
        diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock') AS flag",
        )
        .get_result::<Flag>(&mut probe)
        .await
        .is_ok_and(|row| row.flag)
    })
    .await
    .expect("blocked");
    wait_until(
        DEADLINE,
        "the deadline passes by the database's clock",
        async || {
            diesel::sql_query("SELECT clock_timestamp() > $1 AS flag")
                .bind::<Timestamptz, _>(deadline)
                .get_result::<Flag>(&mut probe)
                .await
                .is_ok_and(|row| row.flag)
        },
    )
    .await
    .expect("past the deadline");
    holder.batch_execute("COMMIT").await.expect("released");

    let result = applying.await.expect("the apply task");
    assert!(expired(&result), "{result:?}");
    let mut conn = db.conn().await.expect("connection");
    let stored = document::image_by_id(&mut conn, image.as_uuid())
        .await
        .expect("read")
        .expect("the image");
    assert!(stored.tags.is_empty(), "the late tag was not committed");
    assert_eq!(stored.version, 1);
    assert_eq!(count(&db, "events").await, 1);
}
