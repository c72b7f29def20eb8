//! Hostile bus input (README, "Producers and trust"): oversized messages, wrong content
//! types and encodings, commands from unknown producers whatever actor they claim, a
//! gateway sending the fleet's commands, replays of dead letters and of applied
//! commands, and a forged event asking to remove a live image's data. Each is refused
//! (answered where a `reply_to` was given, dead-lettered with its reason and class) or
//! answered from its record, changes nothing, and the queue keeps flowing.

mod content;
mod jobs;
mod producers;
mod replays;

use bus::connection::connect;
use bus::{FailureClass, WorkQueue, headers};
use domain::{CommandId, ImageId, RejectionKind};
use imagefleet_cli::dlq;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, TestBus, TestDb};
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::AMQPValue;
use lapin::{BasicProperties, Channel};
use std::time::Duration;
use wire::{CommandEnvelope, CommandReply};

/// A dead letter as a test reads it.
#[derive(Debug)]
pub struct DeadLetter {
    /// `x-imagefleet-failure-class`.
    pub class: Option<FailureClass>,
    /// `x-imagefleet-failure-reason`.
    pub reason: String,
    /// `x-imagefleet-producer`: whom the worker judged the message to come from.
    pub producer: Option<String>,
    /// The body, unchanged.
    pub body: Vec<u8>,
}

fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// How long a dead letter may take to show in its queue.
const LETTER_DEADLINE: Duration = Duration::from_secs(30);

/// Waits until `queue`'s dead-letter queue holds `expected` messages, then takes them
/// all. Workers confirm a dead letter before they reply, but a test does not lean on
/// that order: it waits for the count with a deadline, and takes what is there.
pub async fn take_dead_letters(
    bus: &TestBus,
    queue: WorkQueue,
    expected: usize,
) -> Vec<DeadLetter> {
    let connection = connect(bus.url(), "hostile-dlq").await.expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    let name = bus.topology().dead_letter_queue(queue);
    let counted = wait_until(LETTER_DEADLINE, "the dead letters arrive", async || {
        dlq::waiting(&channel, &name).await.unwrap_or(0) >= expected
    })
    .await;
    let letters = drain(&channel, &name).await;
    connection.close(0, "done".into()).await.expect("close");
    if let Err(error) = counted {
        panic!("{error}: {letters:?}");
    }
    letters
}

async fn drain(channel: &Channel, queue: &str) -> Vec<DeadLetter> {
    let mut letters = Vec::new();
    while let Some(message) = channel
        .basic_get(queue.into(), BasicGetOptions::default())
        .await
        .expect("basic_get")
    {
        let properties = &message.properties;
        letters.push(DeadLetter {
            class: header(properties, headers::FAILURE_CLASS)
                .and_then(|class| FailureClass::from_header(&class)),
            reason: header(properties, headers::FAILURE_REASON).expect("a reason"),
            producer: header(properties, headers::PRODUCER),
            body: message.data.clone(),
        });
        message.ack(BasicAckOptions::default()).await.expect("ack");
    }
    letters
}

/// What "nothing changed" compares: every event and processed command, and the image's
/// version.
#[derive(Debug, PartialEq, Eq)]
pub struct Snapshot {
    events: i64,
    processed: i64,
    version: Option<i64>,
}

/// The database's state as far as the tests can change it.
pub async fn snapshot(db: &TestDb, image: ImageId) -> Snapshot {
    let mut conn = db.conn().await.expect("connection");
    let image = db::document::image_by_id(&mut conn, image.as_uuid())
        .await
        .expect("read the image");
    Snapshot {
        events: crate::db::repository::count(db, "events").await,
        processed: crate::db::repository::count(db, "processed_commands").await,
        version: image.map(|i| i.version),
    }
}

/// Creates an image through `probe` (as the trusted producer) and returns it.
pub async fn created_image(probe: &mut BusProbe, name: &str) -> ImageId {
    let image = ImageId::generate();
    let reply = probe.send(&envelope(owner(), create(image, name))).await;
    assert!(matches!(reply, CommandReply::Accepted { .. }), "{reply:?}");
    image
}

/// Proves the queue still flows: a valid command from the probe is applied.
pub async fn still_flowing(probe: &mut BusProbe, image: ImageId) {
    let command = envelope(owner(), add_tag(image, "still-flowing"));
    match probe.send(&command).await {
        CommandReply::Accepted {
            replayed: false, ..
        } => {}
        other => panic!("the queue did not take a valid command: {other:?}"),
    }
}

/// Collects `count` replies by correlation id.
pub async fn replies(
    probe: &mut BusProbe,
    count: usize,
) -> std::collections::HashMap<String, CommandReply> {
    let mut answers = std::collections::HashMap::new();
    while answers.len() < count {
        let reply = probe.reply().await;
        answers.insert(reply.correlation_id.expect("correlation id"), reply.reply);
    }
    answers
}

/// The kind of a rejection, or a panic naming the case that was not rejected.
pub fn rejected(name: &str, reply: &CommandReply) -> (RejectionKind, Option<CommandId>) {
    match reply {
        CommandReply::Rejected {
            kind, command_id, ..
        } => (*kind, *command_id),
        other => panic!("{name} was not rejected: {other:?}"),
    }
}

/// A valid command that would change `image` if it were applied, claiming an admin.
pub fn harmful(image: ImageId, tag: &str) -> CommandEnvelope {
    envelope(admin(), add_tag(image, tag))
}
