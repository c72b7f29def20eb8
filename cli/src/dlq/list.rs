//! `imagefleet dlq list`: reads messages without removing them. It takes up to
//! `--limit` messages unacknowledged (so each `basic.get` returns the next one), prints
//! them, then hands them all back with `nack(requeue)`. If it dies half-way, the broker
//! requeues them anyway when the channel closes. A quorum queue takes nacked messages
//! back through its log, so they reappear a moment after `list` returns; each look
//! also counts in the message's `x-delivery-count`, which is harmless because the
//! dead-letter queues have no delivery limit.

use anyhow::Context as _;
use bus::AmqpArgs;
use bus::{Topology, WorkQueue, headers};
use clap::Args;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::BasicNackOptions;
use lapin::types::{AMQPValue, FieldTable};

use super::{integer, next_message, text};

/// Arguments of `imagefleet dlq list`.
#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// The dead-letter queue of which work queue.
    #[arg(long, value_enum, default_value_t = WorkQueue::Commands)]
    pub queue: WorkQueue,
    /// Most messages to print (they stay unacknowledged until all are printed).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// A dead-lettered message as `dlq list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The AMQP `message_id`: the command id for commands imagefleet published.
    pub message_id: Option<String>,
    /// The AMQP `type`: the command's type name.
    pub command_type: Option<String>,
    /// Why it was dead-lettered (our header, else the broker's `x-death` reason).
    pub reason: Option<String>,
    /// `unreadable`, `forbidden`, `retries-exhausted` or `unprocessable` (`permanent` or
    /// `retryable` on letters of earlier versions).
    pub class: Option<String>,
    /// How many retries it had.
    pub attempts: Option<i64>,
    /// The work queue it failed in.
    pub origin_queue: Option<String>,
    /// The body: JSON if it parses, else the text as it came.
    pub body: serde_json::Value,
}

impl DeadLetter {
    /// Reads the headers and body of a delivery.
    pub fn from_delivery(delivery: &Delivery) -> Self {
        let properties = &delivery.properties;
        let table = properties.headers().clone().unwrap_or_default();
        let reason = text(&table, headers::FAILURE_REASON).or_else(|| death_reason(&table));
        let body = serde_json::from_slice(&delivery.data).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&delivery.data).into_owned())
        });
        Self {
            message_id: properties.message_id().as_ref().map(ToString::to_string),
            command_type: properties.kind().as_ref().map(ToString::to_string),
            reason,
            class: text(&table, headers::FAILURE_CLASS),
            attempts: integer(&table, headers::ATTEMPTS),
            origin_queue: text(&table, headers::ORIGIN_QUEUE),
            body,
        }
    }

    /// The line `dlq list` prints.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "message_id": self.message_id,
            "type": self.command_type,
            "reason": self.reason,
            "class": self.class,
            "attempts": self.attempts,
            "origin_queue": self.origin_queue,
            "body": self.body,
        })
    }
}

/// Reads up to `limit` messages of `queue`'s dead-letter queue and puts them back.
pub async fn list(
    channel: &Channel,
    topology: &Topology,
    queue: WorkQueue,
    limit: usize,
) -> anyhow::Result<Vec<DeadLetter>> {
    let name = topology.dead_letter_queue(queue);
    let mut held = Vec::new();
    // Hold every message unacknowledged until the end: a message handed back at once
    // would be the next one `basic.get` returns.
    while held.len() < limit {
        let Some(delivery) = next_message(channel, &name, false).await? else {
            break;
        };
        held.push(delivery);
    }
    let letters = held.iter().map(DeadLetter::from_delivery).collect();
    // Hand them back in the order they came, so the queue keeps its order.
    for delivery in &held {
        let requeue = BasicNackOptions {
            multiple: false,
            requeue: true,
        };
        delivery
            .nack(requeue)
            .await
            .context("handing a message back")?;
    }
    Ok(letters)
}

/// The reason of the broker's latest dead-lettering (e.g. `delivery_limit` when a
/// worker crashed on the message too often), from the `x-death` header.
fn death_reason(table: &FieldTable) -> Option<String> {
    let AMQPValue::FieldArray(deaths) = table.inner().get("x-death")? else {
        return None;
    };
    match deaths.as_slice().first()? {
        AMQPValue::FieldTable(death) => text(death, "reason").map(|r| format!("broker: {r}")),
        _ => None,
    }
}
