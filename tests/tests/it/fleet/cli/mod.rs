//! The `imagefleet` command's library functions against the real RabbitMQ and Postgres,
//! each test on a topology (and database) of its own: `dlq list`, `replay` and `purge`
//! ([`dlq`]), `status` ([`status`]), and `tail` (here): it prints the events its
//! bindings match. The helpers put messages where a worker would.

mod dlq;
mod status;

use std::time::Duration;

use bus::AmqpArgs;
use bus::connection::connect;
use bus::{WorkQueue, headers};
use imagefleet_cli::tail::Tail;
use imagefleet_tests::TestBus;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use tokio_util::sync::CancellationToken;

/// A connection and a channel in confirm mode.
async fn channel(bus: &TestBus) -> (Connection, Channel) {
    let connection = connect(bus.url(), "cli-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    (connection, channel)
}

/// The command line's broker settings for the test's topology.
fn amqp_args(bus: &TestBus) -> AmqpArgs {
    AmqpArgs {
        amqp_url: bus.url().to_owned(),
        topology_prefix: bus.topology().prefix().to_owned(),
        command_shards: bus.topology().command_shards(),
    }
}

async fn depth(channel: &Channel, queue: &str) -> u32 {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .expect("queue exists")
        .message_count()
}

/// The queue's depth once it reaches `expected`, or after 5 s. A quorum queue takes
/// back nacked messages through its log, a moment after the nack is sent.
async fn depth_soon(channel: &Channel, queue: &str, expected: u32) -> u32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let depth = depth(channel, queue).await;
        if depth == expected || tokio::time::Instant::now() >= deadline {
            return depth;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Puts a message in `queue`'s dead-letter queue the way a worker of an earlier
/// version did after a command's retries ran out (class `retryable`).
async fn dead_letter(bus: &TestBus, channel: &Channel, queue: WorkQueue, message_id: &str) {
    dead_letter_of_class(bus, channel, queue, message_id, "retryable").await;
}

/// Puts a message of failure class `class` in `queue`'s dead-letter queue.
async fn dead_letter_of_class(
    bus: &TestBus,
    channel: &Channel,
    queue: WorkQueue,
    message_id: &str,
    class: &str,
) {
    let topology = bus.topology();
    let mut table = FieldTable::default();
    table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(3));
    table.insert(
        headers::FAILURE_REASON.into(),
        AMQPValue::LongString("gave up after 3 retries: database down".into()),
    );
    table.insert(
        headers::FAILURE_CLASS.into(),
        AMQPValue::LongString(class.into()),
    );
    table.insert(
        headers::ORIGIN_QUEUE.into(),
        AMQPValue::LongString(topology.queue(queue).into()),
    );
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(message_id.into())
        .with_type("delete_image".into())
        .with_headers(table);
    let body = format!(r#"{{"command_id": "{message_id}"}}"#);
    publish(
        channel,
        &topology.dead_letter_exchange(),
        &topology.dead_letter_queue(queue),
        body.as_bytes(),
        properties,
    )
    .await;
}

/// Publishes one message, mandatory, and waits for the broker's confirm.
async fn publish(
    channel: &Channel,
    exchange: &str,
    key: &str,
    body: &[u8],
    properties: BasicProperties,
) {
    let confirmation = channel
        .basic_publish(
            exchange.into(),
            key.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            properties,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert_eq!(confirmation.take_message(), None, "routed to {key}");
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_the_events_its_bindings_match() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    let (tail_connection, tail_channel) = channel_pair(&bus).await;
    let tail = Tail::start(
        &tail_connection,
        &tail_channel,
        bus.topology(),
        &["image.#".to_owned()],
    )
    .await
    .expect("tail started");
    for (key, body) in [
        ("task.success", r#"{"type": "task.success"}"#),
        ("image.active", r#"{"type": "image.active"}"#),
    ] {
        channel
            .basic_publish(
                bus.topology().events_exchange().into(),
                key.into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default(),
            )
            .await
            .expect("published")
            .await
            .expect("confirmed");
    }
    let mut out = Vec::new();
    let seen = tail
        .run(Some(1), &CancellationToken::new(), &mut out)
        .await
        .expect("tailed");
    assert_eq!(seen, 1);
    assert_eq!(
        String::from_utf8(out).expect("UTF-8"),
        "{\"type\":\"image.active\"}\n"
    );
}

async fn channel_pair(bus: &TestBus) -> (Connection, Channel) {
    let connection = connect(bus.url(), "cli-test-tail")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    (connection, channel)
}
