//! Poison messages: malformed JSON, an unknown type, a wrong schema version, missing
//! fields and an illegal transition are each answered, dead-lettered with their reason,
//! and change nothing, while the queue keeps flowing.

use std::time::Duration;

use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use lapin::BasicProperties;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use shared::domain::{Command, ImageId, RejectionKind};
use shared::messaging::connection::connect;
use shared::messaging::{CommandReply, WorkQueue, headers};

const DEADLINE: Duration = Duration::from_secs(30);

fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::LongLongInt(n) => Some(n.to_string()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn poison_messages_are_dead_lettered_with_their_reason_and_the_queue_flows() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "poison-worker");
    let connection = connect(bus.url(), "poison-test").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let replies = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("reply queue");
    let mut reply_stream = channel
        .basic_consume(
            replies.name().clone(),
            "replies".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume replies");

    let image = ImageId::generate();
    let created = envelope(owner(), create(image, "poison"));
    let illegal = envelope(owner(), Command::DeactivateImage(image_ref(image)));
    let valid = serde_json::to_value(&created).expect("json");
    let mut unknown_type = valid.clone();
    unknown_type["type"] = "launch_rocket".into();
    let mut wrong_schema = valid.clone();
    wrong_schema["schema"] = "imagefleet.command.v9".into();
    let mut missing_field = valid.clone();
    missing_field["payload"]
        .as_object_mut()
        .expect("payload")
        .remove("image_id");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("create", serde_json::to_vec(&created).expect("json"), ""),
        ("malformed", b"{not json".to_vec(), "malformed JSON"),
        (
            "unknown type",
            serde_json::to_vec(&unknown_type).expect("json"),
            "launch_rocket",
        ),
        (
            "wrong schema",
            serde_json::to_vec(&wrong_schema).expect("json"),
            "unsupported schema",
        ),
        (
            "missing field",
            serde_json::to_vec(&missing_field).expect("json"),
            "image_id",
        ),
        // Deactivating a queued image is refused by the transition table (403).
        (
            "illegal",
            serde_json::to_vec(&illegal).expect("json"),
            "Only active or deactivated",
        ),
    ];
    // The image exists before the illegal transition is tried (workers run commands
    // concurrently, so order is only guaranteed by waiting for the reply).
    let mut answers = std::collections::HashMap::new();
    for (i, (name, body, _)) in cases.iter().enumerate() {
        let properties = BasicProperties::default()
            .with_reply_to(replies.name().clone())
            .with_correlation_id((*name).into())
            .with_delivery_mode(2);
        channel
            .basic_publish(
                bus.topology().commands_exchange().into(),
                bus.topology().queue(WorkQueue::Commands).into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await
            .expect("publish");
        if i == 0 {
            collect_replies(&mut reply_stream, &mut answers, 1).await;
        }
    }
    // Every message is answered, in any order: the queue kept flowing past the poison.
    collect_replies(&mut reply_stream, &mut answers, cases.len()).await;
    assert!(matches!(answers["create"], CommandReply::Accepted { .. }));
    for (name, _, _) in cases.iter().skip(1) {
        match &answers[*name] {
            CommandReply::Rejected { kind, .. } if *name == "illegal" => {
                assert_eq!(*kind, RejectionKind::Forbidden)
            }
            CommandReply::Rejected { kind, .. } => {
                assert_eq!(*kind, RejectionKind::BadRequest, "{name}")
            }
            other => panic!("{name} was not rejected: {other:?}"),
        }
    }
    // Each poison message is in the dead-letter queue with its reason; replies are sent
    // after the dead-letter publish is confirmed, so they are all there now.
    let dlq = bus.topology().dead_letter_queue(WorkQueue::Commands);
    let mut dead = Vec::new();
    while let Some(message) = channel
        .basic_get(dlq.clone().into(), BasicGetOptions::default())
        .await
        .expect("basic_get")
    {
        let reason = header(&message.properties, headers::FAILURE_REASON).expect("reason header");
        assert_eq!(
            header(&message.properties, headers::FAILURE_CLASS).as_deref(),
            Some("permanent")
        );
        dead.push(reason);
        message.ack(BasicAckOptions::default()).await.expect("ack");
    }
    assert_eq!(dead.len(), cases.len() - 1, "{dead:?}");
    for (name, _, reason) in cases.iter().skip(1) {
        assert!(
            dead.iter().any(|d| d.contains(reason)),
            "{name}: no dead letter mentions '{reason}' in {dead:?}"
        );
    }
    // Nothing changed beyond the one valid command.
    assert_eq!(super::repository::count(&db, "events").await, 1);
    assert_eq!(super::repository::count(&db, "processed_commands").await, 1);
    connection.close(0, "done".into()).await.expect("close");
    worker.stop().await;
}

async fn collect_replies(
    replies: &mut lapin::Consumer,
    answers: &mut std::collections::HashMap<String, CommandReply>,
    until: usize,
) {
    while answers.len() < until {
        let delivery = tokio::time::timeout(DEADLINE, replies.next())
            .await
            .expect("a reply before the deadline")
            .expect("reply stream open")
            .expect("reply delivery");
        let id = delivery
            .properties
            .correlation_id()
            .clone()
            .expect("correlation id")
            .to_string();
        let reply: CommandReply = serde_json::from_slice(&delivery.data).expect("reply json");
        answers.insert(id, reply);
    }
}
