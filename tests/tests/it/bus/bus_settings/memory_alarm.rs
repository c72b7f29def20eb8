//! The broker's memory alarm on a private node: it blocks every connection that
//! publishes. A worker that needs to publish (a reply) reports not ready and takes no
//! new delivery, its consuming connection still settles (the delivery waiting for its
//! confirm is requeued when the wait runs out); the gateway's client reports not ready
//! once its connection is blocked; and when the alarm clears every command is applied,
//! each exactly once.

use std::time::Duration;

use bus::client::{ClientError, CommandClient, properties};
use bus::connection::{connect, login_of};
use bus::flow::PublishFlow;
use bus::{Topology, WorkQueue};
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use domain::ImageId;
use imagefleet_tests::fixtures::{create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{PrivateBroker, TestDb, TestWorker};
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use super::send_until_blocked;

const DEADLINE: Duration = Duration::from_secs(120);

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Images named `name` in the test's database.
async fn images_named(db: &TestDb, name: &str) -> i64 {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query("SELECT count(*) AS n FROM images WHERE name = $1")
        .bind::<diesel::sql_types::Text, _>(name)
        .get_result::<Count>(&mut conn)
        .await
        .expect("counted")
        .n
}

fn worker(db: &TestDb, url: &str, topology: &Topology, flow: &PublishFlow) -> workers::FleetConfig {
    workers::FleetConfig {
        pool_size: 4,
        concurrency: 2,
        commit_batch: 1,
        confirm_timeout: Duration::from_secs(2),
        flow: flow.clone(),
        queues: vec![WorkQueue::Commands],
        ..TestWorker::default_config_on(db, url, topology, "alarm-worker")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn under_a_memory_alarm_workers_and_gateway_are_not_ready_and_nothing_is_lost_or_doubled() {
    let node = tokio::task::spawn_blocking(PrivateBroker::start)
        .await
        .expect("starter")
        .expect("a private RabbitMQ node");
    let url = node.url();
    let db = TestDb::new().await.expect("test database");
    let topology = Topology::new("alarm");
    let connection = connect(&url, "alarm-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    topology.declare(&connection).await.expect("declared");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let replies = channel
        .queue_declare(
            "alarm-replies".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("reply queue");
    // Queued before the alarm: one command whose producer wants a reply, then five
    // that need no publish at all.
    let user = login_of(&url);
    let mut commands = vec![(
        envelope(owner(), create(ImageId::generate(), "alarm-0")),
        true,
    )];
    for n in 1..6 {
        let command = envelope(owner(), create(ImageId::generate(), &format!("alarm-{n}")));
        commands.push((command, false));
    }
    for (command, reply) in &commands {
        let mut props: BasicProperties = properties(command, &user);
        if *reply {
            props = props.with_reply_to(replies.name().clone());
        }
        let body = serde_json::to_vec(command).expect("encoded");
        channel
            .basic_publish(
                topology.commands_exchange().into(),
                topology.queue(WorkQueue::Commands).into(),
                BasicPublishOptions::default(),
                &body,
                props,
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }
    let gateway = CommandClient::connect(&url, topology.clone())
        .await
        .expect("gateway client");
    gateway
        .check_connection(Duration::from_secs(5))
        .await
        .expect("ready before the alarm");

    node.memory_alarm(true).expect("alarm raised");
    let flow = PublishFlow::default();
    let shutdown = CancellationToken::new();
    let fleet = tokio::spawn(workers::run_fleet(
        worker(&db, &url, &topology, &flow),
        shutdown.clone(),
    ));
    wait_until(
        DEADLINE,
        "the worker reports its publishing blocked",
        async || flow.publishing().is_err(),
    )
    .await
    .expect("the worker is not ready");
    let ops = workers::ops::router(&workers::ops::OpsConfig {
        bind: workers::ops_port::OpsBind::FirstFree,
        database_url: db.url().to_owned(),
        amqp_url: url.clone(),
        name: "alarm-probe".into(),
        flow: flow.clone(),
        progress: None,
    })
    .expect("ops router");
    let readyz = tower::ServiceExt::oneshot(
        ops,
        axum::http::Request::get("/readyz")
            .body(axum::body::Body::empty())
            .expect("request"),
    )
    .await
    .expect("answered");
    assert_eq!(readyz.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);

    // The gateway's first command goes out and its connection is blocked: it answers
    // no faster than its timeout, and the client is then not ready and sends nothing.
    send_until_blocked(&gateway, "alarm-gateway", DEADLINE).await;
    let refused = envelope(owner(), create(ImageId::generate(), "alarm-refused"));
    assert!(matches!(
        gateway.send(&refused, Duration::from_secs(3)).await,
        Err(ClientError::Blocked)
    ));

    node.memory_alarm(false).expect("alarm cleared");
    wait_until(DEADLINE, "the worker is ready again", async || {
        flow.publishing().is_ok()
    })
    .await
    .expect("ready again");
    for n in 0..6 {
        let name = format!("alarm-{n}");
        wait_until(DEADLINE, &format!("{name} is applied"), async || {
            images_named(&db, &name).await == 1
        })
        .await
        .expect("applied");
    }
    gateway
        .check_connection(Duration::from_secs(5))
        .await
        .expect("the gateway is ready again");
    assert!(images_named(&db, "alarm-gateway").await <= 1);
    assert_eq!(images_named(&db, "alarm-refused").await, 0, "never sent");
    let dead_letters = channel
        .queue_declare(
            topology.dead_letter_queue(WorkQueue::Commands).into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("dead-letter queue");
    assert_eq!(dead_letters.message_count(), 0, "nothing dead-lettered");
    for n in 0..6 {
        assert_eq!(
            images_named(&db, &format!("alarm-{n}")).await,
            1,
            "exactly once"
        );
    }
    shutdown.cancel();
    let _ = fleet.await;
    gateway.close().await;
    drop(node);
}
