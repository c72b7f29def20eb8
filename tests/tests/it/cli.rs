//! The `imagefleet` command's library functions against the real RabbitMQ: `dlq list`
//! shows dead letters and leaves them in place, `dlq replay` moves them back to their
//! work queue with a clean failure record, `tail` prints the events its bindings match.

use std::time::Duration;

use imagefleet_cli::dlq::{self, DeadLetter};
use imagefleet_cli::tail::Tail;
use imagefleet_tests::TestBus;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection};
use shared::messaging::connection::connect;
use shared::messaging::{WorkQueue, headers};
use tokio_util::sync::CancellationToken;

async fn channel(bus: &TestBus) -> (Connection, Channel) {
    let connection = connect(bus.url(), "cli-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    (connection, channel)
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

/// Puts a message in the commands dead-letter queue the way a worker does.
async fn dead_letter(bus: &TestBus, channel: &Channel, message_id: &str) {
    let topology = bus.topology();
    let mut table = FieldTable::default();
    table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(3));
    table.insert(
        headers::FAILURE_REASON.into(),
        AMQPValue::LongString("gave up after 3 retries: database down".into()),
    );
    table.insert(
        headers::FAILURE_CLASS.into(),
        AMQPValue::LongString("retryable".into()),
    );
    table.insert(
        headers::ORIGIN_QUEUE.into(),
        AMQPValue::LongString(topology.queue(WorkQueue::Commands).into()),
    );
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_message_id(message_id.into())
        .with_type("delete_image".into())
        .with_headers(table);
    let body = format!(r#"{{"command_id": "{message_id}"}}"#);
    let confirmation = channel
        .basic_publish(
            topology.dead_letter_exchange().into(),
            topology.dead_letter_queue(WorkQueue::Commands).into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body.as_bytes(),
            properties,
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert_eq!(confirmation.take_message(), None, "routed to the DLQ");
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_list_shows_dead_letters_and_leaves_them() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    dead_letter(&bus, &channel, "m-1").await;
    dead_letter(&bus, &channel, "m-2").await;

    let letters = dlq::list(&channel, bus.topology(), WorkQueue::Commands, 10)
        .await
        .expect("listed");
    let ids: Vec<_> = letters.iter().map(|l| l.message_id.clone()).collect();
    assert_eq!(ids, [Some("m-1".to_owned()), Some("m-2".to_owned())]);
    let first: &DeadLetter = &letters[0];
    assert_eq!(first.attempts, Some(3));
    assert_eq!(first.class.as_deref(), Some("retryable"));
    assert!(
        first
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("database down"))
    );
    assert_eq!(first.body["command_id"], "m-1");
    assert_eq!(first.to_json()["type"], "delete_image");

    // Nothing was removed, and a limit is honoured.
    let dlq_name = bus.topology().dead_letter_queue(WorkQueue::Commands);
    assert_eq!(depth_soon(&channel, &dlq_name, 2).await, 2);
    let again = dlq::list(&channel, bus.topology(), WorkQueue::Commands, 1)
        .await
        .expect("listed again");
    assert_eq!(again.len(), 1);
    assert_eq!(depth_soon(&channel, &dlq_name, 2).await, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn dlq_replay_moves_dead_letters_back_with_a_clean_record() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    for id in ["m-1", "m-2", "m-3"] {
        dead_letter(&bus, &channel, id).await;
    }
    let topology = bus.topology();
    let moved = dlq::replay(&channel, topology, WorkQueue::Commands, Some(2))
        .await
        .expect("replayed");
    assert_eq!(moved, 2);
    let dlq_name = topology.dead_letter_queue(WorkQueue::Commands);
    let commands = topology.queue(WorkQueue::Commands);
    assert_eq!(depth(&channel, &dlq_name).await, 1);
    assert_eq!(depth(&channel, &commands).await, 2);

    let moved = dlq::replay(&channel, topology, WorkQueue::Commands, None)
        .await
        .expect("replayed the rest");
    assert_eq!(moved, 1);
    assert_eq!(depth(&channel, &dlq_name).await, 0);

    let message = channel
        .basic_get(commands.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
        .expect("a replayed command");
    let properties = &message.delivery.properties;
    let message_id = properties.message_id().as_ref().map(|id| id.to_string());
    assert_eq!(message_id.as_deref(), Some("m-1"));
    assert_eq!(properties.delivery_mode(), &Some(2));
    let table = properties.headers().clone().unwrap_or_default();
    assert!(!table.contains_key(headers::ATTEMPTS), "attempts reset");
    assert!(!table.contains_key(headers::FAILURE_REASON));
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_prints_the_events_its_bindings_match() {
    let bus = TestBus::new().await.expect("test bus");
    let (_connection, channel) = channel(&bus).await;
    let (_tail_connection, tail_channel) = channel_pair(&bus).await;
    let tail = Tail::start(&tail_channel, bus.topology(), &["image.#".to_owned()])
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
