//! Poison messages: malformed JSON, an unknown type, a wrong schema version and missing
//! fields are each answered, dead-lettered with their reason (class `unreadable`), and
//! change nothing, while the queue keeps flowing; an illegal transition among them is
//! a user error: answered and recorded, not dead-lettered.

use std::collections::HashMap;

use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use std::time::Duration;

/// How long the dead letters may take to show.
const DEADLINE: Duration = Duration::from_secs(30);
use bus::connection::connect;
use bus::{WorkQueue, headers};
use domain::{Command, ImageId, RejectionKind};
use lapin::BasicProperties;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use wire::CommandReply;

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
    let mut probe = BusProbe::new(&bus).await;

    let image = ImageId::generate();
    let created = envelope(owner(), create(image, "poison"));
    // The image exists before the illegal transition is tried: workers run commands
    // concurrently, so only waiting for the reply orders them.
    assert!(matches!(
        probe.send(&created).await,
        CommandReply::Accepted { .. }
    ));

    let illegal = envelope(owner(), Command::DeactivateImage(image_ref(image)));
    let valid =
        serde_json::to_value(envelope(owner(), create(ImageId::generate(), "x"))).expect("json");
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
    for (name, body, _) in &cases {
        probe.publish_bytes(body, name).await;
    }
    // Every message is answered, in any order: the queue kept flowing past the poison.
    let mut answers = HashMap::new();
    while answers.len() < cases.len() {
        let reply = probe.reply().await;
        answers.insert(reply.correlation_id.expect("correlation id"), reply.reply);
    }
    for (name, _, _) in &cases {
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
    // Each unreadable one is in the dead-letter queue with its reason; the illegal
    // transition is a user error, answered and recorded, not dead-lettered.
    let unreadable = cases.len() - 1;
    let connection = connect(bus.url(), "poison-dlq").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let dlq = bus.topology().dead_letter_queue(WorkQueue::Commands);
    wait_until(
        DEADLINE,
        "the unreadable messages are dead-lettered",
        async || {
            imagefleet_cli::dlq::waiting(&channel, &dlq)
                .await
                .unwrap_or(0)
                >= unreadable
        },
    )
    .await
    .expect("dead-lettered");
    let mut dead = Vec::new();
    while let Some(message) = channel
        .basic_get(dlq.clone().into(), BasicGetOptions::default())
        .await
        .expect("basic_get")
    {
        assert_eq!(
            header(&message.properties, headers::FAILURE_CLASS).as_deref(),
            Some("unreadable")
        );
        dead.push(header(&message.properties, headers::FAILURE_REASON).expect("reason header"));
        message.ack(BasicAckOptions::default()).await.expect("ack");
    }
    assert_eq!(dead.len(), unreadable, "{dead:?}");
    for (name, _, reason) in &cases {
        let lettered = dead.iter().any(|d| d.contains(reason));
        assert_eq!(
            lettered,
            *name != "illegal",
            "{name}: dead letters mentioning '{reason}' in {dead:?}"
        );
    }
    // Nothing changed beyond the one valid command; the refusal is recorded.
    assert_eq!(crate::db::repository::count(&db, "events").await, 1);
    assert_eq!(
        crate::db::repository::count(&db, "processed_commands").await,
        2
    );
    connection.close(0, "done".into()).await.expect("close");
    probe.close().await;
    worker.stop().await;
}
