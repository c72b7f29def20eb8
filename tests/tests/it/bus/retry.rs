//! Retryable failures: with Postgres unreachable, a command goes through every retry
//! queue (each a TTL, so nothing spins) and is then dead-lettered as retryable with its
//! attempt count, while the worker stays up.

use std::time::Duration;

use bus::connection::connect;
use bus::{WorkQueue, headers};
use domain::ImageId;
use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;
use workers::{FleetConfig, run_fleet};

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_keeps_failing_for_a_retryable_reason_is_retried_then_dead_lettered() {
    let bus = TestBus::new().await.expect("test bus");
    // A database URL nobody listens on: every attempt fails as "unavailable".
    let unreachable = TestDb::reserve().await.expect("reserved name");
    let config = FleetConfig {
        database_url: unreachable.url().replace(":5432/", ":1/"),
        pool_size: 2,
        concurrency: 1,
        commit_batch: 1,
        // The janitor would only retry its lock session against the dead database.
        janitor_interval: None,
        ..TestWorker::default_config(&unreachable, &bus, "retry-worker")
    };
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_fleet(config, shutdown.clone()));

    let connection = connect(bus.url(), "retry-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    // Watch the dead-letter exchange: a private queue bound like the DLQ receives a copy.
    let watch = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("watch queue");
    let dlq = bus.topology().dead_letter_queue(WorkQueue::Commands);
    channel
        .queue_bind(
            watch.name().clone(),
            bus.topology().dead_letter_exchange().into(),
            dlq.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind");
    let mut dead = channel
        .basic_consume(
            watch.name().clone(),
            "watch".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let command = envelope(owner(), create(ImageId::generate(), "retry"));
    channel
        .basic_publish(
            bus.topology().commands_exchange().into(),
            bus.topology().queue(WorkQueue::Commands).into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&command).expect("json"),
            // As every producer does: JSON, signed with the connection's user.
            bus::client::properties(&command, &bus::connection::login_of(bus.url())),
        )
        .await
        .expect("publish");
    let letter = tokio::time::timeout(Duration::from_secs(60), dead.next())
        .await
        .expect("dead-lettered before the deadline")
        .expect("stream open")
        .expect("delivery");
    let header = |name: &str| {
        letter
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(name).cloned())
    };
    assert_eq!(
        header(headers::FAILURE_CLASS),
        Some(AMQPValue::LongString("retries-exhausted".into()))
    );
    assert_eq!(
        header(headers::ATTEMPTS),
        Some(AMQPValue::LongLongInt(
            bus.topology().retry_delays().len() as i64
        ))
    );
    let reason = match header(headers::FAILURE_REASON) {
        Some(AMQPValue::LongString(reason)) => reason.to_string(),
        other => panic!("no reason: {other:?}"),
    };
    assert!(reason.starts_with("gave up after 3 retries"), "{reason}");
    assert_eq!(
        letter
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string()),
        Some(command.command_id.to_string())
    );
    assert!(!worker.is_finished(), "the worker stays up");
    shutdown.cancel();
    worker
        .await
        .expect("worker task")
        .expect("worker stopped cleanly");
    connection.close(0, "done".into()).await.expect("close");
}
