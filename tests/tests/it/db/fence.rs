//! The gateway's 503 is definitive (README, message contract): a worker whose commit
//! reaches Postgres after the command's deadline and the gateway's margin (the
//! deadline was checked in time, the COMMIT came late) either commits before the
//! gateway reads the command's record, which the gateway then answers with, or never
//! commits. Here a deferred trigger holds every commit of the test's database on a lock
//! of the test's, as a COMMIT held up in the network would be: no timing involved.

use std::time::Duration;

use apply::{Applied, ApplyError, Repository};
use chrono::Utc;
use db::document::Answer;
use db::fence;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use domain::{CommandId, ImageId, RejectionKind};
use imagefleet_tests::HeldLock;
use imagefleet_tests::TestDb;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use wire::CommandEnvelope;

use crate::db::deadline::patient_repository;
use crate::db::repository::count;

const DEADLINE: Duration = Duration::from_secs(60);

/// The advisory key the commit trigger waits on (a single-bigint key: not the space
/// of the command fence's keys).
const COMMIT_GATE: i64 = 0x6665_6e63_6567_6174;

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Makes every commit that recorded a command wait for [`COMMIT_GATE`], after the
/// transaction's last statement (its deadline check) ran.
async fn gate_commits(db: &TestDb) {
    let mut conn = db.conn().await.expect("connection");
    conn.batch_execute(&format!(
        "CREATE FUNCTION gate_commit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM pg_advisory_xact_lock({COMMIT_GATE}); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER gate_commit AFTER INSERT ON processed_commands
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gate_commit()"
    ))
    .await
    .expect("commit gate");
}

/// Sessions of the test's database waiting for a lock.
async fn lock_waiters(db: &TestDb) -> i64 {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity \
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .get_result::<Waiting>(&mut conn)
    .await
    .map_or(0, |row| row.n)
}

/// What the gateway answers for `envelope` once its deadline and margin have passed.
async fn gateway_answer(url: &str, envelope: &CommandEnvelope) -> Option<Answer> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .expect("the gateway's session");
    let deadline = envelope.deadline.expect("a deadline");
    fence::settled_answer(&mut conn, envelope.command_id, deadline, DEADLINE)
        .await
        .expect("the record read behind the fence")
}

/// Runs `apply` (the worker) on `commands` creates whose commits are held past their deadlines
/// while the gateway decides, then lets the commits through: the gateway's answer
/// must be what happened.
async fn a_late_commit_is_fenced<F, Fut>(commands: usize, apply: F)
where
    F: FnOnce(Repository, Vec<CommandEnvelope>) -> Fut,
    Fut: std::future::Future<Output = Vec<Result<Applied, ApplyError>>> + Send + 'static,
{
    let db = TestDb::new().await.expect("test database");
    let repo = patient_repository(&db);
    gate_commits(&db).await;
    let gate = HeldLock::advisory(db.url(), COMMIT_GATE)
        .await
        .expect("gate closed");
    let deadline = Utc::now() + chrono::Duration::seconds(2);
    let envelopes: Vec<CommandEnvelope> = ["fenced-a", "fenced-b"][..commands]
        .iter()
        .map(|name| envelope(owner(), create(ImageId::generate(), name)).with_deadline(deadline))
        .collect();
    let worker = tokio::spawn(apply(repo, envelopes.clone()));
    wait_until(
        DEADLINE,
        "the worker's commit waits at the gate",
        async || lock_waiters(&db).await == 1,
    )
    .await
    .expect("commit held");
    let mut probe = db.conn().await.expect("probe");
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

    // The gateway decides while the commit is still held: it either answers from
    // what it reads at once, or waits for the worker's transaction to end.
    let gateway = {
        let url = db.url().to_owned();
        let first = envelopes[0].clone();
        tokio::spawn(async move { gateway_answer(&url, &first).await })
    };
    wait_until(DEADLINE, "the gateway answers or waits", async || {
        gateway.is_finished() || lock_waiters(&db).await == 2
    })
    .await
    .expect("the gateway decided or waits");
    gate.release().await.expect("gate opened");
    let answered = gateway.await.expect("the gateway task");
    let results = worker.await.expect("the worker task");

    match answered {
        None => {
            for result in &results {
                assert!(
                    matches!(result, Err(ApplyError::Rejected(r)) if r.kind == RejectionKind::Expired),
                    "the gateway answered 503 (nothing recorded) yet: {result:?}"
                );
            }
            assert_eq!(count(&db, "images").await, 0, "503, so nothing applied");
        }
        Some(Answer::Applied(result)) => {
            let applied = results[0].as_ref().expect("the worker applied it");
            assert_eq!(
                applied.result, *result,
                "the gateway answers what was applied"
            );
            let applied = results.iter().filter(|result| result.is_ok()).count();
            assert_eq!(count(&db, "images").await, applied as i64);
        }
        Some(Answer::Refused(rejection)) => panic!("refused: {rejection:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_is_never_followed_by_a_commit_that_came_late() {
    a_late_commit_is_fenced(1, |repo, envelopes| async move {
        vec![repo.apply(&envelopes[0]).await]
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_is_never_followed_by_a_group_commit_that_came_late() {
    a_late_commit_is_fenced(2, |repo, envelopes| async move {
        let refs: Vec<&CommandEnvelope> = envelopes.iter().collect();
        repo.apply_group_within(&refs, Duration::from_secs(600))
            .await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fence_not_had_in_time_is_an_unknown_outcome_not_a_record() {
    let db = TestDb::new().await.expect("test database");
    let command_id = CommandId::generate();
    let (first, second) = fence::lock_key(command_id);
    // A worker's transaction holding the command, its commit not coming.
    let mut worker = AsyncPgConnection::establish(db.url())
        .await
        .expect("worker session");
    worker
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock_shared({first}, {second})"
        ))
        .await
        .expect("fence held shared");
    let mut gateway = AsyncPgConnection::establish(db.url())
        .await
        .expect("gateway session");
    let deadline = Utc::now() - chrono::Duration::seconds(1);
    let waited = fence::settled_answer(
        &mut gateway,
        command_id,
        deadline,
        Duration::from_millis(100),
    )
    .await;
    assert!(waited.is_err(), "no answer can be known yet: {waited:?}");
    worker.batch_execute("ROLLBACK").await.expect("rolled back");
    let settled = fence::settled_answer(&mut gateway, command_id, deadline, DEADLINE)
        .await
        .expect("the same session reads behind the fence");
    assert!(settled.is_none(), "nothing recorded: {settled:?}");
}
