//! The runner on the bus: `set_property` commands published straight to the commands
//! exchange (through the same `CommandClient` the gateway uses, which reconnects), each
//! sent again with the same command id until a worker's accepted reply arrives; and the
//! event tap, a durable queue bound to the events exchange with `#` that outlives a
//! broker restart, read with manual acks into the ledger.

use std::time::Duration;

use ::bus::Topology;
use ::bus::client::CommandClient;
use ::bus::connection::connect;
use domain::command::{PatchOperation, UpdateImage};
use domain::{Actor, Command, ImageId};
use futures::StreamExt as _;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wire::{CommandEnvelope, CommandReply, EventEnvelope};

use crate::ledger::{Issued, Ledger, Via};

/// The queue the event tap reads.
const TAP_QUEUE: &str = "chaos.events";
/// How long one try waits for its reply before the command is sent again.
const REPLY_WAIT: Duration = Duration::from_secs(15);

/// The project of every command (the gateway's default project, so that images made
/// over HTTP are this actor's).
pub fn actor() -> Actor {
    Actor::new("chaos", "chaos", &["member", "reader"])
}

/// A `set_property` envelope and its ledger entry.
pub fn set_property(image: Uuid, property: String, value: String) -> (CommandEnvelope, Issued) {
    let command = Command::UpdateImage(UpdateImage {
        image_id: ImageId::from_uuid(image),
        operations: vec![PatchOperation::Add {
            attribute: property.clone(),
            value: value.clone().into(),
        }],
        expected_version: None,
    });
    let envelope = CommandEnvelope::new(actor(), command);
    let issued = Issued {
        key: envelope.command_id.as_uuid(),
        via: Via::Bus,
        image,
        property,
        value,
        sends: 0,
        confirmed: false,
        during: None,
    };
    (envelope, issued)
}

/// What sending a command came to.
pub enum Outcome {
    /// Accepted; the ids of the events it recorded.
    Accepted(Vec<Uuid>),
    /// Refused for good, with the reason.
    Refused(String),
    /// No accepted reply before the deadline.
    Unconfirmed,
}

/// Sends `envelope` (already in the ledger) until a worker accepts it, the same id every
/// time: an unknown outcome is simply sent again; any refusal is final.
pub async fn send(
    client: &CommandClient,
    ledger: &Ledger,
    envelope: &CommandEnvelope,
    deadline: Instant,
) -> anyhow::Result<Outcome> {
    let key = envelope.command_id.as_uuid();
    while Instant::now() < deadline {
        ledger.sent(key);
        let wait = REPLY_WAIT.min(deadline.saturating_duration_since(Instant::now()));
        match client.send(envelope, wait).await {
            Ok(CommandReply::Accepted { result, .. }) => {
                ledger.confirm(key);
                return Ok(Outcome::Accepted(
                    result.events.iter().map(|e| e.event_id).collect(),
                ));
            }
            // A conflict too: a command that lost a race is decided again under the
            // image's row lock, so no set_property is ever out of races.
            Ok(CommandReply::Rejected { kind, message, .. }) => {
                return Ok(Outcome::Refused(format!("{kind:?}: {message}")));
            }
            Err(error) if error.is_retryable() => {}
            Err(error) => anyhow::bail!("sending a command: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(Outcome::Unconfirmed)
}

/// Reads the event tap into the ledger until `stop`, reconnecting after every drop.
/// Declares the tap first, so that no event published after this returns is missed.
pub async fn start_tap(
    url: String,
    topology: Topology,
    ledger: Ledger,
    stop: CancellationToken,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let consumer = open_tap(&url, &topology).await?;
    Ok(tokio::spawn(async move {
        let mut consumer = Some(consumer);
        while !stop.is_cancelled() {
            let current = match consumer.take() {
                Some(current) => current,
                None => match open_tap(&url, &topology).await {
                    Ok(current) => current,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(300)).await;
                        continue;
                    }
                },
            };
            drain(current, &ledger, &stop).await;
        }
    }))
}

async fn open_tap(url: &str, topology: &Topology) -> anyhow::Result<lapin::Consumer> {
    let connection = connect(url, "chaos-tap").await?;
    let channel = connection.create_channel().await?;
    channel.basic_qos(256, BasicQosOptions::default()).await?;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(TAP_QUEUE.into(), durable, FieldTable::default())
        .await?;
    channel
        .queue_bind(
            TAP_QUEUE.into(),
            topology.events_exchange().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let consumer = channel
        .basic_consume(
            TAP_QUEUE.into(),
            "chaos-tap".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    // The connection lives as long as its consumer is read (lapin keeps it open).
    Ok(consumer)
}

/// Records deliveries until the consumer ends (the connection dropped) or `stop`.
async fn drain(mut consumer: lapin::Consumer, ledger: &Ledger, stop: &CancellationToken) {
    loop {
        let next = tokio::select! {
            () = stop.cancelled() => return,
            next = consumer.next() => next,
        };
        let Some(Ok(delivery)) = next else {
            return;
        };
        // Recorded before the ack: a delivery acked but not recorded would be missing.
        match serde_json::from_slice::<EventEnvelope>(&delivery.data) {
            Ok(event) => ledger.event(&event),
            Err(error) => eprintln!("chaos: unreadable event on the tap: {error}"),
        }
        if delivery
            .acker
            .ack(BasicAckOptions::default())
            .await
            .is_err()
        {
            return;
        }
    }
}
