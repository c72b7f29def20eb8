//! The fault harness itself: what each fault of the proxy does to a Postgres session
//! that goes through it, and what a held lock does to another session, so the tests and
//! the chaos runner that rely on them inject what they say they do.

use std::time::Duration;

use diesel_async::RunQueryDsl;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use imagefleet_tests::{Fault, FaultProxy, HeldLock, TestDb};
use uuid::Uuid;

/// Long enough for a loopback query on a loaded machine; a blackholed one never ends.
const ANSWER: Duration = Duration::from_secs(10);

async fn connect(url: &str) -> AsyncPgConnection {
    tokio::time::timeout(ANSWER, AsyncPgConnection::establish(url))
        .await
        .expect("connecting through the proxy timed out")
        .expect("connecting through the proxy")
}

#[tokio::test]
async fn a_passing_proxy_forwards_and_a_latency_one_still_answers() {
    let db = TestDb::new().await.expect("test database");
    let proxy = FaultProxy::for_url(db.url()).await.expect("proxy");
    let mut conn = connect(&proxy.url_through(db.url()).expect("url")).await;
    conn.batch_execute("SELECT 1")
        .await
        .expect("query through a passing proxy");
    let delay = Duration::from_millis(100);
    proxy.set(Fault::Latency(delay));
    let started = std::time::Instant::now();
    conn.batch_execute("SELECT 1")
        .await
        .expect("query through a slow proxy");
    // A lower bound only (each way waits at least the delay), so it cannot flake:
    // it shows the latency is injected, not how fast anything is.
    assert!(
        started.elapsed() >= 2 * delay,
        "the query took {:?}, less than a round trip's injected latency",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_blackholed_session_never_answers_until_the_proxy_passes_again() {
    let db = TestDb::new().await.expect("test database");
    let proxy = FaultProxy::for_url(db.url()).await.expect("proxy");
    let url = proxy.url_through(db.url()).expect("url");
    let mut conn = connect(&url).await;
    proxy.set(Fault::Blackhole);
    let silent = tokio::time::timeout(Duration::from_secs(2), conn.batch_execute("SELECT 1")).await;
    assert!(silent.is_err(), "a blackholed session answered: {silent:?}");
    // New sessions are blackholed too: the handshake never completes.
    let opening =
        tokio::time::timeout(Duration::from_secs(1), AsyncPgConnection::establish(&url)).await;
    assert!(opening.is_err(), "a session opened through a blackhole");
    proxy.set(Fault::Pass);
    connect(&url)
        .await
        .batch_execute("SELECT 1")
        .await
        .expect("a new session after the blackhole");
}

#[tokio::test]
async fn a_reset_ends_open_sessions_and_new_ones_connect() {
    let db = TestDb::new().await.expect("test database");
    let proxy = FaultProxy::for_url(db.url()).await.expect("proxy");
    let url = proxy.url_through(db.url()).expect("url");
    let mut conn = connect(&url).await;
    proxy.reset();
    let after = tokio::time::timeout(ANSWER, conn.batch_execute("SELECT 1"))
        .await
        .expect("a reset session hung instead of failing");
    assert!(after.is_err(), "a reset session still answered");
    connect(&url)
        .await
        .batch_execute("SELECT 1")
        .await
        .expect("a new session after a reset");
}

#[tokio::test]
async fn a_held_row_lock_blocks_other_writers_of_that_row_until_released() {
    let db = TestDb::new().await.expect("test database");
    let id = Uuid::new_v4();
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(format!(
        "INSERT INTO images (id, version, owner, status, visibility, protected, os_hidden, \
         min_disk, min_ram, created_at, updated_at) \
         VALUES ('{id}', 1, 'p1', 'queued', 'shared', false, false, 0, 0, now(), now())"
    ))
    .execute(&mut conn)
    .await
    .expect("an image row");
    let held = HeldLock::image_row(db.url(), id).await.expect("lock held");
    let nowait = format!("SELECT id FROM images WHERE id = '{id}' FOR UPDATE NOWAIT");
    let blocked = conn
        .batch_execute(&format!("BEGIN; {nowait}; ROLLBACK"))
        .await;
    assert!(blocked.is_err(), "the row was not locked");
    conn.batch_execute("ROLLBACK").await.expect("rollback");
    held.release().await.expect("released");
    conn.batch_execute(&format!("BEGIN; {nowait}; ROLLBACK"))
        .await
        .expect("the row is free again");
}

#[tokio::test]
async fn a_held_advisory_lock_keeps_the_relay_key_from_others() {
    let db = TestDb::new().await.expect("test database");
    let key = db::leader::OUTBOX_LOCK_KEY;
    let held = HeldLock::advisory(db.url(), key).await.expect("lock held");
    #[derive(diesel::QueryableByName)]
    struct Locked {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        locked: bool,
    }
    let mut conn = db.conn().await.expect("connection");
    let try_lock = format!("SELECT pg_try_advisory_lock({key}) AS locked");
    let first: Locked = diesel::sql_query(&try_lock)
        .get_result(&mut conn)
        .await
        .expect("try");
    assert!(!first.locked, "the key was free while held");
    held.release().await.expect("released");
    let second: Locked = diesel::sql_query(&try_lock)
        .get_result(&mut conn)
        .await
        .expect("try");
    assert!(second.locked, "the key stayed taken after release");
}
