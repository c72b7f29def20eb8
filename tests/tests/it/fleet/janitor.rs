//! The janitor (SPEC 2 "Delete", SPEC 3 expiry): stale upload, stage and import leases
//! given back with their data removed, the delayed-delete scrubber and an admin restore
//! before it, task expiry, and one leader at a time with a follower taking over. Workers
//! run their janitor every [`JANITOR_INTERVAL`]; tests wait on the outcome with a
//! deadline, and where something must *not* happen they wait for a later round to have
//! visibly run instead of sleeping. Leases are in [`leases`], the scrubber in
//! [`scrubber`]; task expiry and leadership here.

mod leases;
mod scrubber;

use std::convert::Infallible;
use std::time::Duration;

use apply::Repository;
use axum::http::{Method, StatusCode};
use bytes::Bytes;
use chrono::Utc;
use db::document;
use db::leader::JANITOR_LOCK_KEY;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::RunQueryDsl;
use domain::command::{
    BeginImport, CreateTask, FailTask, ImportMethod, Leased, TaskRef, WithDigest,
};
use domain::status::TaskType;
use domain::{Actor, Command, DomainConfig, Image, ImageId, Task, TaskId, TaskStatus};
use imagefleet_tests::fixtures::{admin, create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{JANITOR_INTERVAL, TestApp, TestBus, TestDb, TestWorker};
use serde_json::json;
use store::{Area, DataLimits, NoCheck};
use workers::janitor::IMPORT_LEASE_EXPIRED;

/// Long enough for several janitor rounds and the jobs they start.
const DEADLINE: Duration = Duration::from_secs(30);

const _: () = assert!(JANITOR_INTERVAL.as_secs() < 5, "test rounds are frequent");

fn past() -> chrono::DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(5)
}

fn future() -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::hours(1)
}

async fn apply(repo: &Repository, actor: Actor, command: Command) {
    let name = command.type_name();
    if let Err(e) = repo.apply(&envelope(actor, command)).await {
        panic!("{name} refused: {e}");
    }
}

async fn stored_image(db: &TestDb, id: ImageId) -> Image {
    let mut conn = db.conn().await.expect("connection");
    document::image_by_id(&mut conn, id.as_uuid())
        .await
        .expect("read")
        .expect("the image exists")
}

async fn stored_task(db: &TestDb, id: TaskId) -> Task {
    let mut conn = db.conn().await.expect("connection");
    document::task_by_id(&mut conn, id.as_uuid())
        .await
        .expect("read")
        .expect("the task exists")
}

/// A queued raw/bare image of the owner.
async fn queued(repo: &Repository) -> ImageId {
    let id = ImageId::generate();
    apply(repo, owner(), create(id, "janitor")).await;
    id
}

/// Queued -> saving (upload) or uploading (stage) with the given lease end.
async fn lease(repo: &Repository, id: ImageId, area: Area, until: chrono::DateTime<Utc>) {
    let leased = Leased {
        image_id: id,
        lease_expires_at: until,
    };
    let command = match area {
        Area::Images => Command::BeginUpload(leased),
        Area::Staging => Command::BeginStage(leased),
    };
    apply(repo, owner(), command).await;
}

/// Puts bytes in the store, as a write in progress or finished would have.
async fn write_data(db: &TestDb, area: Area, id: ImageId) {
    let data = futures::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"partial"))]);
    let limits = DataLimits { max_bytes: 1 << 20 };
    db.store()
        .write(area, id, data, limits, NoCheck)
        .await
        .expect("data written");
}

/// Marks every event published, so the relay never starts the jobs they would start:
/// as if the worker running them had died with them.
async fn no_jobs(db: &TestDb) {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query("UPDATE events SET published_at = now() WHERE published_at IS NULL")
        .execute(&mut conn)
        .await
        .expect("events stamped");
}

/// Backend pids holding the janitor's advisory lock in the test's database.
async fn janitor_holders(db: &TestDb) -> Vec<i32> {
    #[derive(QueryableByName)]
    struct Holder {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let mut conn = db.conn().await.expect("connection");
    let holders: Vec<Holder> = diesel::sql_query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 \
         AND ((classid::bigint << 32) | objid::bigint) = $1 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .bind::<BigInt, _>(JANITOR_LOCK_KEY)
    .load(&mut conn)
    .await
    .expect("pg_locks");
    holders.into_iter().map(|h| h.pid).collect()
}

/// `(to_status, correlation_id)` of an image's events, in version order.
async fn history(db: &TestDb, id: ImageId) -> Vec<(String, Option<String>)> {
    use db::schema::events;
    let mut conn = db.conn().await.expect("connection");
    events::table
        .filter(events::aggregate_id.eq(id.as_uuid()))
        .order(events::version.asc())
        .select((events::to_status, events::correlation_id))
        .load(&mut conn)
        .await
        .expect("events")
}

/// Waits until a stale upload made now has been given back: proof that a janitor round
/// ran (and read every table) after this call.
async fn a_round_runs(db: &TestDb, repo: &Repository) {
    let probe = queued(repo).await;
    lease(repo, probe, Area::Images, past()).await;
    wait_until(DEADLINE, "the janitor gives the probe back", async || {
        stored_image(db, probe).await.status.as_str() == "queued"
    })
    .await
    .expect("a janitor round runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_tasks_expire_and_running_ones_stay() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let config = DomainConfig {
        task_time_to_live: chrono::Duration::zero(),
        ..DomainConfig::default()
    };
    let repo = Repository::new(db.pool().clone(), config.clone());
    let new_task = || {
        let task_id = TaskId::generate();
        let input = json!({
            "import_from": "https://images.example/cirros.raw",
            "import_from_format": "raw",
            "image_properties": {},
        });
        let command = Command::CreateTask(CreateTask {
            task_id,
            task_type: TaskType::Import,
            input,
            request_id: None,
        });
        (task_id, command)
    };
    let (finished, create_finished) = new_task();
    let (running, create_running) = new_task();
    apply(&repo, admin(), create_finished).await;
    apply(&repo, admin(), create_running).await;
    // The tasks are moved by hand here, not by the import job.
    no_jobs(&db).await;
    for id in [finished, running] {
        let start = Command::StartTask(TaskRef { task_id: id });
        apply(&repo, Actor::service(), start).await;
    }
    let fail = FailTask {
        task_id: finished,
        message: "the source answered 404".into(),
    };
    apply(&repo, Actor::service(), Command::FailTask(fail)).await;
    assert!(stored_task(&db, finished).await.expires_at.is_some());

    let worker = TestWorker::start_with(&db, &bus, "janitor", config);
    wait_until(DEADLINE, "the finished task is expired", async || {
        stored_task(&db, finished).await.deleted
    })
    .await
    .expect("the janitor expires finished tasks");
    let expired = stored_task(&db, finished).await;
    assert_eq!(
        expired.status,
        TaskStatus::Failure,
        "expiry keeps the outcome"
    );
    assert!(expired.deleted_at.is_some());
    let running = stored_task(&db, running).await;
    assert!(!running.deleted, "a running task has no expiry yet");
    assert_eq!(running.status, TaskStatus::Processing);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn one_janitor_leads_and_a_follower_takes_over() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let first = TestWorker::start(&db, &bus, "janitor-a");
    wait_until(DEADLINE, "the first janitor leads", async || {
        janitor_holders(&db).await.len() == 1
    })
    .await
    .expect("a janitor takes the lock");
    let leader = janitor_holders(&db).await;
    let second = TestWorker::start(&db, &bus, "janitor-b");

    // Both candidates run rounds' worth of attempts; still one holder, the first.
    a_round_runs(&db, &repo).await;
    a_round_runs(&db, &repo).await;
    assert_eq!(janitor_holders(&db).await, leader, "the lock is not shared");

    // The leader stops (and hands the lock over): the follower takes it and acts.
    first.stop().await;
    wait_until(DEADLINE, "the second janitor leads", async || {
        let now = janitor_holders(&db).await;
        now.len() == 1 && now != leader
    })
    .await
    .expect("the follower takes over");
    a_round_runs(&db, &repo).await;
    second.stop().await;
}
