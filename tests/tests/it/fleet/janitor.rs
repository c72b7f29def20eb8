//! The janitor (SPEC 2 "Delete", SPEC 3 expiry): stale upload, stage and import leases
//! given back with their data removed, the delayed-delete scrubber and an admin restore
//! before it, task expiry, and one leader at a time with a follower taking over. Workers
//! run their janitor every [`JANITOR_INTERVAL`]; tests wait on the outcome with a
//! deadline, and where something must *not* happen they wait for a later round to have
//! visibly run instead of sleeping.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use bytes::Bytes;
use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use diesel_async::RunQueryDsl;
use imagefleet_tests::fixtures::{admin, create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{JANITOR_INTERVAL, TestApp, TestBus, TestDb, TestWorker};
use serde_json::json;
use shared::db::{Repository, document};
use shared::domain::command::{
    BeginImport, CreateTask, FailTask, ImageRef, ImportMethod, Leased, TaskRef,
};
use shared::domain::status::TaskType;
use shared::domain::{Actor, Command, DomainConfig, Image, ImageId, Task, TaskId, TaskStatus};
use shared::store::{Area, DataLimits, NoCheck};
use workers::janitor::{IMPORT_LEASE_EXPIRED, JANITOR_LOCK_KEY};

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
    use shared::db::schema::events;
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
async fn stale_uploads_and_stages_go_back_to_queued_without_their_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let saving = queued(&repo).await;
    lease(&repo, saving, Area::Images, past()).await;
    write_data(&db, Area::Images, saving).await;
    let uploading = queued(&repo).await;
    lease(&repo, uploading, Area::Staging, past()).await;
    write_data(&db, Area::Staging, uploading).await;
    // A live upload (its lease runs on) is read by the same query and must be left be.
    let live = queued(&repo).await;
    lease(&repo, live, Area::Images, future()).await;
    assert_eq!(db.data_files().len(), 2, "two partial files to remove");

    let worker = TestWorker::start(&db, &bus, "janitor");
    wait_until(DEADLINE, "both stale images are queued", async || {
        let a = stored_image(&db, saving).await.status;
        let b = stored_image(&db, uploading).await.status;
        (a.as_str(), b.as_str()) == ("queued", "queued")
    })
    .await
    .expect("the janitor gives stale leases back");
    wait_until(DEADLINE, "no data is left", async || {
        db.data_files().is_empty()
    })
    .await
    .expect("partial data removed");
    for id in [saving, uploading] {
        let image = stored_image(&db, id).await;
        assert_eq!(image.lease_expires_at, None, "lease released");
        assert_eq!(
            (image.size, image.checksum),
            (None, None),
            "no data recorded"
        );
        let last = history(&db, id).await.pop().expect("events");
        assert_eq!(
            last,
            ("queued".into(), Some("janitor".into())),
            "one give-back"
        );
    }
    let live = stored_image(&db, live).await;
    assert_eq!(
        live.status.as_str(),
        "saving",
        "a running lease is not touched"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_import_fails_its_task_and_leaves_no_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let id = queued(&repo).await;
    lease(&repo, id, Area::Staging, future()).await;
    write_data(&db, Area::Staging, id).await;
    let staged = ImageRef {
        image_id: id,
        expected_version: None,
    };
    apply(&repo, Actor::service(), Command::CompleteStage(staged)).await;
    let task_id = TaskId::generate();
    let import = BeginImport {
        image_id: id,
        task_id,
        method: ImportMethod::GlanceDirect,
        stores: Vec::new(),
        lease_expires_at: past(),
        request_id: None,
    };
    apply(&repo, owner(), Command::BeginImport(import)).await;
    // The import's worker died part way: its job is gone, a partial copy is left.
    no_jobs(&db).await;
    write_data(&db, Area::Images, id).await;
    assert_eq!(db.data_files().len(), 2, "staged data and a partial copy");

    let worker = TestWorker::start(&db, &bus, "janitor");
    wait_until(DEADLINE, "the image is queued", async || {
        stored_image(&db, id).await.status.as_str() == "queued"
    })
    .await
    .expect("the janitor fails the stale import");
    wait_until(DEADLINE, "no data is left", async || {
        db.data_files().is_empty()
    })
    .await
    .expect("staged and partial data removed");
    let task = stored_task(&db, task_id).await;
    assert_eq!(task.status, TaskStatus::Failure);
    assert_eq!(task.message, IMPORT_LEASE_EXPIRED);
    let image = stored_image(&db, id).await;
    assert_eq!(image.import_task(), None, "the import lock is released");
    assert_eq!(image.lease_expires_at, None);
    worker.stop().await;
}

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
