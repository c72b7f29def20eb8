//! A leader keeps its lock while it works. The server ends a leader session idle for
//! its idle timeout (which releases the lock, so that a silent leader is replaced), so
//! a leader must not go quiet on it mid-work: a relay batch whose confirms are slowed
//! by latency on the broker side, taking many idle timeouts, is published once, by one
//! leader; a janitor round held up on a row lock keeps the janitor's lock; and a
//! leader session runs with the idle timeout its URL names.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use apply::Repository;
use bus::connection::connect;
use chrono::Utc;
use db::leader::LeaderSession;
use db::leader::{JANITOR_LOCK_KEY, OUTBOX_LOCK_KEY};
use db::{PoolOptions, SessionSettings, build_pool};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use domain::command::Leased;
use domain::{Command, DomainConfig, ImageId};
use imagefleet_tests::fixtures::{create, envelope, owner, set_property};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{Fault, FaultProxy, HeldLock, TestBus, TestDb};
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use outbox::{Relay, RelayConfig};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use workers::janitor::{Janitor, JanitorConfig, run_janitor};

/// Long enough for a relay to connect through the slowed proxy and publish the batch.
const DEADLINE: Duration = Duration::from_secs(60);

/// The relay's leader idle timeout: short, so the batch below outlasts it several times.
const IDLE: Duration = Duration::from_secs(1);

/// The janitor's leader idle timeout: its round outlasts it three times.
const JANITOR_IDLE: Duration = Duration::from_secs(2);

/// Versions of one image in the batch: one wave (a round of confirms) each.
const WAVES: usize = 12;

fn relay(database_url: &str, amqp_url: &str, bus: &TestBus, name: &str) -> Relay {
    let mut config = RelayConfig::new(database_url, amqp_url, bus.topology().clone());
    config.notifications = None;
    config.connection_name = name.to_owned();
    Relay::new(config).expect("relay")
}

/// Counts the times `leadership` becomes true, until the test ends.
fn count_terms(mut leadership: watch::Receiver<bool>) -> Arc<AtomicUsize> {
    let terms = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&terms);
    tokio::spawn(async move {
        loop {
            if *leadership.borrow_and_update() {
                counted.fetch_add(1, Ordering::SeqCst);
                while *leadership.borrow_and_update() {
                    if leadership.changed().await.is_err() {
                        return;
                    }
                }
            }
            if leadership.changed().await.is_err() {
                return;
            }
        }
    });
    terms
}

#[derive(QueryableByName)]
struct Unstamped {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    count: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_batch_longer_than_the_idle_timeout_keeps_the_lock_and_is_sent_once() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let broker = FaultProxy::for_url(bus.url()).await.expect("proxy");
    broker.set(Fault::Latency(IDLE / 5));
    // Named in the URL, so the leader sessions run with it whatever their defaults.
    let settings = SessionSettings {
        idle_timeout: IDLE,
        ..SessionSettings::default()
    };
    let database_url = settings.leader_url(db.url()).expect("url");

    // A copy of every event published, counted at the end (nothing consumes it).
    let counter = connect(bus.url(), "leader-liveness-count")
        .await
        .expect("connection");
    let channel = counter.create_channel().await.expect("channel");
    let exclusive = QueueDeclareOptions {
        exclusive: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare("".into(), exclusive, FieldTable::default())
        .await
        .expect("queue");
    let events = bus.topology().events_exchange();
    channel
        .queue_bind(
            queue.name().clone(),
            events.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");

    // Every version exists before a relay starts: one batch, one wave per version.
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let image = ImageId::generate();
    repo.apply(&envelope(owner(), create(image, "waves")))
        .await
        .expect("created");
    for n in 1..WAVES {
        let command = set_property(image, "n", &n.to_string());
        repo.apply(&envelope(owner(), command))
            .await
            .expect("applied");
    }

    let shutdown = CancellationToken::new();
    let slowed = relay(
        &database_url,
        &broker.url_through(bus.url()).expect("url"),
        &bus,
        "slowed",
    );
    let mut slowed_leads = slowed.leadership();
    let slowed_terms = count_terms(slowed.leadership());
    tokio::spawn({
        let token = shutdown.clone();
        async move { slowed.run(token).await }
    });
    wait_until(
        DEADLINE,
        "the relay behind the slow broker leads",
        async || *slowed_leads.borrow_and_update(),
    )
    .await
    .expect("a leader");
    let follower = relay(&database_url, bus.url(), &bus, "follower");
    let follower_terms = count_terms(follower.leadership());
    tokio::spawn({
        let token = shutdown.clone();
        async move { follower.run(token).await }
    });

    wait_until(DEADLINE, "every event is stamped published", async || {
        let Ok(mut conn) = db.conn().await else {
            return false;
        };
        let query =
            diesel::sql_query("SELECT count(*) AS count FROM events WHERE published_at IS NULL");
        query
            .get_result::<Unstamped>(&mut conn)
            .await
            .is_ok_and(|row| row.count == 0)
    })
    .await
    .expect("the batch went out");
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let copy = channel
        .queue_declare(queue.name().clone(), passive, FieldTable::default())
        .await
        .expect("the copy queue");
    shutdown.cancel();
    assert_eq!(
        AtomicUsize::load(&follower_terms, Ordering::SeqCst),
        0,
        "the follower never led"
    );
    assert_eq!(
        AtomicUsize::load(&slowed_terms, Ordering::SeqCst),
        1,
        "the leader kept its lock through the batch"
    );
    assert_eq!(
        copy.message_count() as usize,
        WAVES,
        "each event was published once"
    );
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    idle_session_timeout: String,
}

#[tokio::test]
async fn a_leader_session_runs_with_the_configured_idle_timeout() {
    let db = TestDb::new().await.expect("test database");
    // What a binary passes on with IMAGEFLEET_DATABASE_IDLE_TIMEOUT_MS=45000.
    let configured = SessionSettings {
        idle_timeout: Duration::from_secs(45),
        ..SessionSettings::default()
    };
    let url = configured.url(db.url()).expect("url");
    let mut session = LeaderSession::connect(&url, OUTBOX_LOCK_KEY, Duration::from_secs(10))
        .await
        .expect("a leader session");
    let shown: Setting = diesel::sql_query("SHOW idle_session_timeout")
        .get_result(session.conn())
        .await
        .expect("the setting");
    assert_eq!(shown.idle_session_timeout, "45s");
    assert_eq!(session.heartbeat(), Some(Duration::from_secs(15)));
}

#[derive(QueryableByName)]
struct Holder {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Integer>)]
    pid: Option<i32>,
}

/// The backend holding the janitor's lock in this test's database (`pg_locks` is the
/// whole server's: beside the suite, other tests' janitors hold the same key).
async fn janitor_holder(db: &TestDb) -> Option<i32> {
    let mut conn = db.conn().await.ok()?;
    let query = diesel::sql_query(
        "SELECT (SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1 \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) \
         AS pid",
    )
    .bind::<diesel::sql_types::BigInt, _>(JANITOR_LOCK_KEY);
    query.get_result::<Holder>(&mut conn).await.ok()?.pid
}

#[derive(QueryableByName)]
struct Waiting {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    waiting: bool,
}

/// Whether a session of the test's database waits for a row lock.
async fn a_command_waits(db: &TestDb) -> bool {
    let Ok(mut conn) = db.conn().await else {
        return false;
    };
    let query = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock') AS waiting",
    );
    query
        .get_result::<Waiting>(&mut conn)
        .await
        .is_ok_and(|row| row.waiting)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_janitor_round_longer_than_the_idle_timeout_keeps_the_lock() {
    let db = TestDb::new().await.expect("test database");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let image = ImageId::generate();
    repo.apply(&envelope(owner(), create(image, "stale")))
        .await
        .expect("created");
    let leased = Leased {
        image_id: image,
        lease_expires_at: Utc::now() - chrono::Duration::minutes(5),
    };
    repo.apply(&envelope(owner(), Command::BeginUpload(leased)))
        .await
        .expect("a stale upload");
    // The janitor's give-back waits on this row for three of its idle timeouts.
    let held = HeldLock::image_row(db.url(), image.as_uuid())
        .await
        .expect("row held");
    let patient = SessionSettings {
        lock_timeout: JANITOR_IDLE * 3,
        statement_timeout: JANITOR_IDLE * 3,
        ..SessionSettings::default()
    };
    let pool =
        build_pool(&patient.url(db.url()).expect("url"), PoolOptions::default()).expect("pool");
    let janitor = Janitor {
        repository: Repository::new(pool, DomainConfig::default()),
        stores: db.stores(),
        bound: Duration::from_secs(30),
    };
    let settings = SessionSettings {
        idle_timeout: JANITOR_IDLE,
        ..SessionSettings::default()
    };
    let config = JanitorConfig::new(
        settings.leader_url(db.url()).expect("url"),
        Duration::from_secs(3600),
    );
    let shutdown = CancellationToken::new();

    tokio::spawn(run_janitor(
        config.clone(),
        janitor.clone(),
        shutdown.clone(),
    ));
    let mut leader = None;
    wait_until(DEADLINE, "a janitor leads", async || {
        leader = janitor_holder(&db).await;
        leader.is_some()
    })
    .await
    .expect("a leader");
    tokio::spawn(run_janitor(config, janitor, shutdown.clone()));
    wait_until(
        DEADLINE,
        "the round's command waits on the row",
        async || a_command_waits(&db).await,
    )
    .await
    .expect("the round started");
    wait_until(DEADLINE, "the command gave up waiting", async || {
        !a_command_waits(&db).await
    })
    .await
    .expect("the lock timeout ended the wait");
    let holder = janitor_holder(&db).await;
    shutdown.cancel();
    held.release().await.expect("row released");
    assert_eq!(holder, leader, "the leader kept its lock through the round");
}
