//! Postgres timeouts on the command path: a row held by another session costs its
//! command a retryable failure after `lock_timeout` and holds up nothing else; a group
//! whose connection fails is answered retryable as a whole, at once; a command that
//! loses a race inside a group keeps its target's order.

use std::time::Duration;

use apply::{Applied, ApplyError, Repository};
use db::error::FailureClass;
use db::{PoolOptions, build_pool, document};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
use domain::{DomainConfig, ImageId, Target};
use imagefleet_tests::HeldLock;
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use wire::CommandEnvelope;
use workers::group_commit::{CommitterConfig, GroupCommitter};
use workers::progress::Progress;

use crate::db::repository::count;

/// Long enough that nothing in these tests meets it unless it parks.
const DEADLINE: Duration = Duration::from_secs(60);

/// A repository whose sessions wait for locks, and run a statement, for ten minutes: a
/// test that needs a command to wait on a row (not time out) gets it.
pub(crate) fn patient_repository(db: &TestDb) -> Repository {
    let url = format!(
        "{}?options=-c%20lock_timeout%3D600000%20-c%20statement_timeout%3D600000",
        db.url()
    );
    let pool = build_pool(&url, PoolOptions::default()).expect("pool");
    Repository::new(pool, DomainConfig::default())
}

/// Two images made through `repo`, the first of which another session has changed in a
/// transaction it keeps open (returned, to commit or roll back): a versioned UPDATE of
/// it waits for that session, then finds the version it read gone (a lost race).
pub(crate) async fn contended_pair(
    db: &TestDb,
    repo: &Repository,
) -> (ImageId, ImageId, diesel_async::AsyncPgConnection) {
    let (contended, calm) = (ImageId::generate(), ImageId::generate());
    for id in [contended, calm] {
        repo.apply(&envelope(owner(), create(id, "race")))
            .await
            .expect("created");
    }
    let mut blocker = diesel_async::AsyncPgConnection::establish(db.url())
        .await
        .expect("blocker connection");
    blocker
        .batch_execute(&format!(
            "BEGIN; UPDATE images SET version = version + 1 WHERE id = '{contended}'"
        ))
        .await
        .expect("row locked");
    (contended, calm, blocker)
}

/// The class of a failed result; panics on a result that is not a database failure.
pub(crate) fn failure(result: &Result<Applied, ApplyError>) -> FailureClass {
    match result {
        Err(ApplyError::Database(error)) => error.class(),
        other => panic!("not a database failure: {other:?}"),
    }
}

/// Whether a session of `db` waits on a lock now.
pub(crate) async fn someone_waits_on_a_lock(db: &TestDb) -> bool {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let Ok(mut conn) = db.conn().await else {
        return false;
    };
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result::<Waiting>(&mut conn)
    .await
    .is_ok_and(|row| row.n > 0)
}

/// The image `image` as stored now, if it exists.
pub(crate) async fn created(db: &TestDb, image: ImageId) -> Option<domain::Image> {
    let mut conn = db.conn().await.expect("connection");
    let probe = envelope(owner(), create(image, "probe"));
    document::load(&mut conn, probe.command_id, Target::Image(image))
        .await
        .expect("load")
        .state
        .image
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_row_lock_fails_its_command_retryable_and_parks_nothing_behind_it() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let (held, other) = (ImageId::generate(), ImageId::generate());
    repo.apply(&envelope(owner(), create(held, "held")))
        .await
        .expect("created");
    let lock = HeldLock::image_row(db.url(), held.as_uuid())
        .await
        .expect("row held");

    // One lane: whatever parks it parks every command behind it.
    let committer = GroupCommitter::start(
        repo.clone(),
        CommitterConfig {
            lanes: 1,
            batch: 8,
            bound: DEADLINE,
            progress: Progress::default(),
        },
    );
    let change = envelope(owner(), set_property(held, "k", "v"));
    let waiting = {
        let committer = committer.clone();
        tokio::spawn(async move { committer.apply(&change).await })
    };
    wait_until(
        DEADLINE,
        "the held image's command waits on the row",
        async || someone_waits_on_a_lock(&db).await,
    )
    .await
    .expect("the command reached the row");
    let unrelated = envelope(owner(), create(other, "unrelated"));
    let applied = tokio::time::timeout(DEADLINE, committer.apply(&unrelated))
        .await
        .expect("the unrelated create is answered while the row is held");
    assert!(applied.is_ok(), "{applied:?}");
    assert!(created(&db, other).await.is_some());
    let refused = tokio::time::timeout(DEADLINE, waiting)
        .await
        .expect("the held image's command is answered while the row is held")
        .expect("its task");
    assert_eq!(failure(&refused), FailureClass::Timeout, "{refused:?}");
    assert!(matches!(&refused, Err(ApplyError::Database(e)) if e.is_transient()));
    assert!(
        created(&db, held)
            .await
            .is_some_and(|i| i.properties.is_empty())
    );

    lock.release().await.expect("released");
    let retried = envelope(owner(), set_property(held, "k", "v"));
    assert!(
        committer.apply(&retried).await.is_ok(),
        "applies once released"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_whose_connection_fails_answers_every_member_retryable_at_once() {
    let db = TestDb::new().await.expect("test database");
    let repo = patient_repository(&db);
    let (held, first, second) = (
        ImageId::generate(),
        ImageId::generate(),
        ImageId::generate(),
    );
    repo.apply(&envelope(owner(), create(held, "held")))
        .await
        .expect("created");
    let lock = HeldLock::image_row(db.url(), held.as_uuid())
        .await
        .expect("row held");
    let commands = [
        envelope(owner(), set_property(held, "k", "v")),
        envelope(owner(), create(first, "first")),
        envelope(owner(), create(second, "second")),
    ];
    let group = {
        let (repo, commands) = (repo.clone(), commands.clone());
        tokio::spawn(async move {
            let refs: Vec<&CommandEnvelope> = commands.iter().collect();
            // A bound far past the test's deadline: only answering at once passes.
            repo.apply_group_within(&refs, Duration::from_secs(600))
                .await
        })
    };
    wait_until(DEADLINE, "the group waits on the held row", async || {
        someone_waits_on_a_lock(&db).await
    })
    .await
    .expect("the group reached the row");
    // The group's connection dies under it (as when the server restarts or a proxy
    // resets it).
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .execute(&mut conn)
    .await
    .expect("terminated");

    // The row is still held: a member applied again on its own would wait on it.
    let results = tokio::time::timeout(DEADLINE, group)
        .await
        .expect("the group is answered while the row is still held")
        .expect("the group's task");
    let classes: Vec<FailureClass> = results.iter().map(failure).collect();
    assert_eq!(classes, [FailureClass::Connection; 3], "{results:?}");
    assert_eq!(
        count(&db, "images").await,
        1,
        "nothing of the group was written"
    );
    lock.release().await.expect("released");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_loses_a_race_in_a_group_keeps_its_targets_order() {
    let db = TestDb::new().await.expect("test database");
    let repo = patient_repository(&db);
    // Another writer changes the contended image under the group: the group's
    // versioned UPDATE waits for it, then finds the version it read gone.
    let (contended, calm, mut blocker) = contended_pair(&db, &repo).await;
    let commands = [
        envelope(owner(), set_property(contended, "k", "first")),
        envelope(owner(), set_property(contended, "k", "second")),
        envelope(owner(), set_property(calm, "k", "calm")),
    ];
    let group = {
        let (repo, commands) = (repo.clone(), commands.clone());
        tokio::spawn(async move {
            let refs: Vec<&CommandEnvelope> = commands.iter().collect();
            repo.apply_group(&refs).await
        })
    };
    wait_until(
        DEADLINE,
        "the group waits on the contended row",
        async || someone_waits_on_a_lock(&db).await,
    )
    .await
    .expect("the group reached the row");
    blocker
        .batch_execute("COMMIT")
        .await
        .expect("the other writer commits");

    let results = group.await.expect("the group's task");
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let image = created(&db, contended).await.expect("the image");
    assert_eq!(
        image.properties.get("k").map(String::as_str),
        Some("second"),
        "the later command is applied last"
    );
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let mut conn = db.conn().await.expect("connection");
    let order: Vec<String> = diesel::sql_query(format!(
        "SELECT snapshot->'properties'->>'k' AS value FROM events \
         WHERE aggregate_id = '{contended}' AND snapshot->'properties' ? 'k' ORDER BY version"
    ))
    .load::<Row>(&mut conn)
    .await
    .expect("events")
    .into_iter()
    .map(|row| row.value)
    .collect();
    assert_eq!(order, ["first", "second"], "events in arrival order");
}
