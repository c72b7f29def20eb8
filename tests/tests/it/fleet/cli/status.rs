//! `imagefleet status` after a known state: dead letters, unpublished outbox rows, a
//! relay lock held by a session of ours, then a real worker leading both jobs. The
//! counts, the holder and the exit codes are asserted, not just that it runs. User
//! errors leave a healthy site healthy: they are answered, not dead-lettered.
//! Leaders are per database: other tests' relays on the same server hold the same keys
//! in their own databases and must not show here.

use std::process::ExitCode;
use std::time::Duration;

use apply::Repository;
use bus::WorkQueue;
use db::leader::OUTBOX_LOCK_KEY;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::{Command, DomainConfig, ImageId};
use imagefleet_cli::exit;
use imagefleet_cli::status::report::{LeaderRole, QueueKind, StatusReport};
use imagefleet_cli::status::{self, StatusArgs, render};
use imagefleet_tests::fixtures::{create, envelope, image_ref, owner, remove_tag};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use wire::CommandReply;
use workers::ops_port::named_sessions_url;

use super::{amqp_args, channel, dead_letter};

const DEADLINE: Duration = Duration::from_secs(30);

fn args(db: &TestDb, bus: &TestBus) -> StatusArgs {
    StatusArgs {
        amqp: amqp_args(bus),
        database_url: db.url().to_owned(),
        max_outbox_lag: 3600.0,
        timeout: 5.0,
        json: false,
    }
}

fn messages(report: &StatusReport, name: &str) -> (u32, u32) {
    let queues = report.queues.as_ref().expect("RabbitMQ reached");
    let queue = queues.iter().find(|q| q.name == name).expect("listed");
    let counts = queue.counts.expect("the queue exists");
    (counts.messages, counts.consumers)
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = Bool)]
    locked: bool,
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_queues_outbox_leaders_and_its_exit_code() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    let topology = bus.topology();
    for id in ["d-1", "d-2"] {
        dead_letter(&bus, &channel, WorkQueue::Commands, id).await;
    }
    // Three creations with no relay running: three events wait in the outbox.
    let repository = Repository::new(db.pool().clone(), DomainConfig::default());
    for n in 0..3 {
        let command = create(ImageId::generate(), &format!("status-{n}"));
        repository
            .apply(&envelope(owner(), command))
            .await
            .expect("applied");
    }
    // A session of ours holds the relay's lock, named as an operator would name a
    // worker's sessions (`?application_name=` in its database URL).
    let named = format!("{}?application_name=status-test-relay", db.url());
    let mut holder = AsyncPgConnection::establish(&named).await.expect("session");
    let row: Row =
        diesel::sql_query("SELECT pg_backend_pid() AS pid, pg_try_advisory_lock($1) AS locked")
            .bind::<BigInt, _>(OUTBOX_LOCK_KEY)
            .get_result(&mut holder)
            .await
            .expect("locked");
    assert!(row.locked);

    let report = status::gather(&args(&db, &bus)).await.expect("gathered");
    let commands_dlq = topology.dead_letter_queue(WorkQueue::Commands);
    assert_eq!(messages(&report, &commands_dlq), (2, 0));
    assert_eq!(
        messages(&report, &topology.queue(WorkQueue::Commands)),
        (0, 0)
    );
    let queues = report.queues.as_ref().expect("RabbitMQ reached");
    assert_eq!(queues.len(), topology.all_queues().len());
    assert_eq!(
        queues
            .iter()
            .filter(|q| q.kind == QueueKind::DeadLetter)
            .count(),
        2
    );
    let database = report.database.as_ref().expect("Postgres reached");
    assert_eq!(database.pending_migrations, Ok(Vec::new()));
    let outbox = database.outbox.as_ref().expect("outbox read");
    assert_eq!(outbox.unpublished, 3);
    assert!(outbox.oldest_age.is_some_and(|age| age < DEADLINE));
    let leaders = database.leaders.as_ref().expect("leaders read");
    let relay = leaders[0].holder.as_ref().expect("our session leads");
    assert_eq!(leaders[0].role, LeaderRole::OutboxRelay);
    assert_eq!(relay.pid, row.pid);
    assert_eq!(relay.application_name, "status-test-relay");
    assert_eq!(leaders[1].role, LeaderRole::Janitor);
    assert_eq!(
        leaders[1].holder, None,
        "other databases' janitors do not count"
    );

    assert_eq!(report.exit_code(), exit::ATTENTION);
    let attention = report.attention().join("\n");
    assert!(
        attention.contains(&format!("2 dead letter(s) in {commands_dlq}")),
        "{attention}"
    );
    assert!(attention.contains("no janitor leader"), "{attention}");
    assert!(
        !attention.contains("outbox lag"),
        "under the limit: {attention}"
    );
    let json = render::json(&report);
    assert_eq!(json["status"], "attention");
    assert_eq!(json["exit_code"], 5);
    assert_eq!(json["postgres"]["outbox"]["unpublished"], 3);
    assert_eq!(json["postgres"]["leaders"]["outbox_relay"]["pid"], row.pid);
    assert_eq!(
        json["postgres"]["leaders"]["janitor"],
        serde_json::Value::Null
    );
    let table = render::table(&report);
    assert!(table.contains("status-test-relay"), "{table}");

    // A zero limit makes any waiting event lag.
    let strict = StatusArgs {
        max_outbox_lag: 0.0,
        ..args(&db, &bus)
    };
    let report = status::gather(&strict).await.expect("gathered");
    assert!(report.attention().iter().any(|a| a.contains("outbox lag")));

    // Our session lets go; a worker takes both locks, publishes the outbox and consumes.
    drop(holder);
    let worker = TestWorker::start(&db, &bus, "status-worker");
    let mut last = None;
    let settled = wait_until(
        DEADLINE,
        "the worker leads and the outbox is empty",
        async || {
            let report = status::gather(&args(&db, &bus)).await.expect("gathered");
            let done = report.database.as_ref().is_ok_and(|d| {
                d.outbox.as_ref().is_ok_and(|o| o.unpublished == 0)
                    && d.leaders
                        .as_ref()
                        .is_ok_and(|l| l.iter().all(|l| l.holder.is_some()))
            }) && messages(&report, &topology.queue(WorkQueue::Jobs)).1 > 0
                && messages(&report, &topology.queue(WorkQueue::Commands)).1 > 0;
            last = Some(report);
            done
        },
    )
    .await;
    let report = last.expect("gathered once");
    settled.unwrap_or_else(|e| panic!("{e}: {}", render::table(&report)));
    let outbox = report.database.as_ref().map(|d| d.outbox.clone());
    assert!(matches!(outbox, Ok(Ok(o)) if o.oldest_age.is_none()));
    assert_eq!(
        report.exit_code(),
        exit::ATTENTION,
        "the dead letters remain"
    );
    assert_eq!(report.attention().len(), 1, "{:?}", report.attention());

    channel
        .queue_purge(commands_dlq.as_str().into(), Default::default())
        .await
        .expect("emptied");
    let code = status::run(args(&db, &bus)).await.expect("ran");
    assert_eq!(code, ExitCode::SUCCESS);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_exits_6_when_a_dependency_is_unreachable() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let mut no_broker = args(&db, &bus);
    no_broker.amqp.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".to_owned();
    let report = status::gather(&no_broker).await.expect("gathered");
    assert!(report.queues.is_err());
    assert!(report.database.is_ok(), "the database side is still read");
    assert_eq!(report.exit_code(), exit::UNREACHABLE);
    let json = render::json(&report);
    assert_eq!(json["rabbitmq"]["reachable"], false);
    assert_eq!(json["postgres"]["reachable"], true);

    let mut no_database = args(&db, &bus);
    no_database.database_url = "postgres://postgres@127.0.0.1:1/imagefleet".to_owned();
    no_database.json = true;
    assert!(
        status::gather(&no_database)
            .await
            .expect("gathered")
            .queues
            .is_ok()
    );
    let code = status::run(no_database).await.expect("ran");
    assert_eq!(code, ExitCode::from(exit::UNREACHABLE));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_exits_0_on_a_healthy_site_after_twenty_user_errors() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "status-user-errors");
    let mut probe = imagefleet_tests::BusProbe::new(&bus).await;
    let image = ImageId::generate();
    let reply = probe.send(&envelope(owner(), create(image, "users"))).await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    // Ten refused deactivations (the image is queued) and ten missing tags.
    for n in 0..20 {
        let command = if n % 2 == 0 {
            Command::DeactivateImage(image_ref(image))
        } else {
            remove_tag(image, &format!("missing-{n}"))
        };
        let reply = probe.send(&envelope(owner(), command)).await;
        assert!(matches!(reply, CommandReply::Rejected { .. }), "{reply:?}");
    }
    probe.close().await;
    let mut last = None;
    let healthy = wait_until(DEADLINE, "the site reports healthy", async || {
        let report = status::gather(&args(&db, &bus)).await.expect("gathered");
        let code = report.exit_code();
        last = Some(report);
        code == exit::SUCCESS
    })
    .await;
    let report = last.expect("gathered once");
    healthy.unwrap_or_else(|e| panic!("{e}: {}", render::table(&report)));
    for queue in [WorkQueue::Commands, WorkQueue::Jobs] {
        let dlq = bus.topology().dead_letter_queue(queue);
        assert_eq!(messages(&report, &dlq).0, 0, "{dlq} stays empty");
    }
    let code = status::run(args(&db, &bus)).await.expect("ran");
    assert_eq!(code, ExitCode::SUCCESS);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn status_lists_each_worker_with_its_operations_port() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let ops = listener.local_addr().expect("its address");
    let mut config = TestWorker::default_config(&db, &bus, "imagefleet-worker-status");
    config.database_url =
        named_sessions_url(&config.database_url, &config.name, ops).expect("a session URL");
    let worker = TestWorker::run(config);
    let mut last = None;
    let listed = wait_until(DEADLINE, "the worker's sessions are listed", async || {
        let report = status::gather(&args(&db, &bus)).await.expect("gathered");
        let found = report.database.as_ref().is_ok_and(|d| {
            d.workers
                .as_ref()
                .is_ok_and(|w| w.iter().any(|w| w.worker == "imagefleet-worker-status"))
        });
        last = Some(report);
        found
    })
    .await;
    let report = last.expect("gathered once");
    listed.unwrap_or_else(|e| panic!("{e}: {}", render::table(&report)));
    let database = report.database.as_ref().expect("Postgres reached");
    let workers = database.workers.as_ref().expect("workers read");
    assert_eq!(
        workers.len(),
        1,
        "only this database's sessions: {workers:?}"
    );
    assert_eq!(workers[0].ops_address, ops.to_string());
    assert!(workers[0].sessions >= 1);
    let table = render::table(&report);
    assert!(
        table.contains(&format!("imagefleet-worker-status  ops http://{ops}")),
        "{table}"
    );
    let json = render::json(&report);
    assert_eq!(
        json["postgres"]["workers"][0]["ops_address"],
        ops.to_string()
    );
    worker.stop().await;
}
