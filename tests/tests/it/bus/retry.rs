//! Retryable failures: with Postgres unreachable, a command goes through every retry
//! queue (each a TTL, so nothing spins) and is then dead-lettered as retryable with its
//! attempt count, while the worker stays up; with command shards, on its own shard.

use std::collections::HashMap;
use std::time::Duration;

use bus::connection::connect;
use bus::{WorkQueue, headers};
use domain::ImageId;
use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use lapin::message::Delivery;
use lapin::options::{
    BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use tokio_util::sync::CancellationToken;
use wire::CommandEnvelope;
use workers::{FleetConfig, run_fleet};

/// Starts a worker on an unreachable database, publishes `commands` as every producer
/// does, and returns their dead letters as they arrive.
async fn dead_letters_of(bus: &TestBus, commands: &[CommandEnvelope]) -> Vec<Delivery> {
    // A database URL nobody listens on: every attempt fails as "unavailable".
    let unreachable = TestDb::reserve().await.expect("reserved name");
    let config = FleetConfig {
        database_url: unreachable.url().replace(":5432/", ":1/"),
        pool_size: 2,
        concurrency: 1,
        commit_batch: 1,
        // The janitor would only retry its lock session against the dead database.
        janitor_interval: None,
        ..TestWorker::default_config(&unreachable, bus, "retry-worker")
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
    for command in commands {
        channel
            .basic_publish(
                bus.topology().commands_exchange().into(),
                bus.topology().queue(WorkQueue::Commands).into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(command).expect("json"),
                // As every producer does: JSON, signed with the connection's user.
                bus::client::properties(command, &bus::connection::login_of(bus.url())),
            )
            .await
            .expect("publish");
    }
    let mut letters = Vec::new();
    while letters.len() < commands.len() {
        let letter = tokio::time::timeout(Duration::from_secs(60), dead.next())
            .await
            .expect("dead-lettered before the deadline")
            .expect("stream open")
            .expect("delivery");
        letters.push(letter);
    }
    assert!(!worker.is_finished(), "the worker stays up");
    shutdown.cancel();
    worker
        .await
        .expect("worker task")
        .expect("worker stopped cleanly");
    connection.close(0, "done".into()).await.expect("close");
    letters
}

fn header(letter: &Delivery, name: &str) -> Option<AMQPValue> {
    letter
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(name).cloned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_that_keeps_failing_for_a_retryable_reason_is_retried_then_dead_lettered() {
    let bus = TestBus::new().await.expect("test bus");
    let command = envelope(owner(), create(ImageId::generate(), "retry"));
    let letters = dead_letters_of(&bus, std::slice::from_ref(&command)).await;
    let letter = &letters[0];
    let header = |name: &str| header(letter, name);
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
}

/// The shard queue each command is routed to, learnt by publishing a copy of it (same
/// target header) while no worker consumes, and taking the copies back.
async fn shard_of_each(bus: &TestBus, commands: &[CommandEnvelope]) -> HashMap<String, String> {
    let probe = BusProbe::new(bus).await;
    probe.publish_all(commands).await;
    let connection = connect(bus.url(), "retry-shards")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let mut found = HashMap::new();
    for shard in bus.topology().shards(WorkQueue::Commands) {
        let queue = bus.topology().shard_queue(shard);
        while let Some(copy) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            let id = copy.delivery.properties.correlation_id().as_ref();
            found.insert(id.map(|c| c.to_string()).unwrap_or_default(), queue.clone());
        }
    }
    connection.close(0, "done".into()).await.expect("close");
    probe.close().await;
    found
}

/// With the commands queue in shards, a retried command comes back to its own shard:
/// each letter names, as its origin, the very shard the command was routed to.
#[tokio::test(flavor = "multi_thread")]
async fn with_command_shards_a_retried_command_stays_on_its_shard_until_dead_lettered() {
    let bus = TestBus::sharded(4).await.expect("test bus");
    let commands: Vec<CommandEnvelope> = (0..16)
        .map(|_| envelope(owner(), create(ImageId::generate(), "retry")))
        .collect();
    let routed = shard_of_each(&bus, &commands).await;
    assert_eq!(routed.len(), commands.len(), "every copy was found");
    let used: std::collections::HashSet<&String> = routed.values().collect();
    assert!(
        used.len() > 1,
        "sixteen images spread over the shards: {used:?}"
    );
    let letters = dead_letters_of(&bus, &commands).await;
    for letter in &letters {
        assert_eq!(
            header(letter, headers::FAILURE_CLASS),
            Some(AMQPValue::LongString("retries-exhausted".into()))
        );
        let Some(AMQPValue::LongString(origin)) = header(letter, headers::ORIGIN_QUEUE) else {
            panic!("a letter names its origin queue");
        };
        let id = letter
            .properties
            .message_id()
            .as_ref()
            .map(|m| m.to_string());
        let id = id.unwrap_or_default();
        assert_eq!(origin.to_string(), routed[&id], "{id} stayed on its shard");
    }
}
