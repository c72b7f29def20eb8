//! Leadership of the relay: a follower takes over when the leader dies, and a relay that
//! loses its Postgres session (and with it its advisory lock) recovers and leads again.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_follower_takes_over_when_the_leader_dies() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let sink = Sink::bind(&bus).await.expect("sink");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let images: Vec<ImageId> = (0..4).map(|_| ImageId::generate()).collect();

    let mut config = config(&db, &bus);
    config.batch_size = 8;
    let first = Running::start(config.clone());
    let second = Running::start(config);
    wait_until(DEADLINE, "a relay leads", async || {
        first.is_leader() || second.is_leader()
    })
    .await
    .expect("a leader");
    for (i, id) in images.iter().enumerate() {
        apply(&repo, create(*id, &format!("image-{i}"))).await;
    }
    wait_until(DEADLINE, "events flow", async || {
        !sink.event_ids().is_empty()
    })
    .await
    .expect("the leader publishes");
    assert!(
        first.is_leader() != second.is_leader(),
        "exactly one relay leads"
    );
    let (leader, follower) = if first.is_leader() {
        (first, second)
    } else {
        (second, first)
    };

    // A stream of commands, during which the leader dies without any goodbye: its task
    // is dropped, which closes its Postgres session and so releases the lock.
    let writer = {
        let (repo, images) = (repo.clone(), images.clone());
        tokio::spawn(async move {
            for round in 0..6 {
                for id in &images {
                    apply(&repo, set_property(*id, &format!("k{round}"), "v")).await;
                }
            }
        })
    };
    wait_until(DEADLINE, "the stream is under way", async || {
        sink.event_ids().len() > images.len()
    })
    .await
    .expect("more events flow");
    leader.handle.abort();
    assert!(leader.handle.await.is_err_and(|e| e.is_cancelled()));
    wait_until(DEADLINE, "the follower leads", async || {
        follower.is_leader()
    })
    .await
    .expect("the follower takes over");
    writer.await.expect("writer");
    for id in &images {
        apply(&repo, add_tag(*id, "after")).await;
    }
    wait_for_all(&db, &sink).await;
    follower.stop().await;

    let received = sink.received();
    let stored_ids: HashSet<Uuid> = stored(&db).await.into_iter().map(|(id, _)| id).collect();
    let received_ids: HashSet<Uuid> = received.iter().map(|r| r.envelope.event_id).collect();
    assert_eq!(
        received_ids, stored_ids,
        "every event published, none invented"
    );
    let duplicates = received.len() - received_ids.len();
    eprintln!(
        "failover: {} events, {} messages, {duplicates} duplicates",
        stored_ids.len(),
        received.len()
    );
    // First arrivals stay in version order even across the handover.
    for (id, versions) in first_arrivals(&received) {
        let in_order: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, in_order, "versions of {id} in order");
    }
    sink.close().await;
}

/// Backend pids holding an advisory lock in the test's database: only relays take one.
async fn lock_holders(db: &TestDb) -> Vec<i32> {
    #[derive(diesel::QueryableByName)]
    struct Holder {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let mut conn = db.conn().await.expect("connection");
    let holders: Vec<Holder> = diesel::sql_query(
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .load(&mut conn)
    .await
    .expect("pg_locks");
    holders.into_iter().map(|h| h.pid).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_recovers_from_losing_its_postgres_session() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let sink = Sink::bind(&bus).await.expect("sink");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    // No poll: after the reconnect, only a re-armed LISTEN can deliver round two.
    let mut config = config(&db, &bus);
    config.poll_interval = Duration::from_secs(3600);
    let relay = Running::start(config);
    wait_until(DEADLINE, "the relay leads", async || relay.is_leader())
        .await
        .expect("leader");
    let before = lock_holders(&db).await;
    assert_eq!(before.len(), 1, "one session holds the lock");

    // The server ends the relay's session, as a failover or restart of Postgres would.
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<diesel::sql_types::Integer, _>(before[0])
        .execute(&mut conn)
        .await
        .expect("terminate the relay's session");
    drop(conn);
    wait_until(DEADLINE, "a new session holds the lock", async || {
        let now = lock_holders(&db).await;
        now.len() == 1 && now != before
    })
    .await
    .expect("the relay reconnects and leads again");

    let id = ImageId::generate();
    apply(&repo, create(id, "after-reconnect")).await;
    wait_for_all(&db, &sink).await;
    apply(&repo, set_property(id, "os_distro", "cirros")).await;
    wait_for_all(&db, &sink).await;
    assert_eq!(sink.event_ids().len(), 2);
    relay.stop().await;
    sink.close().await;
}
