//! `imagefleet dlq`: look into a dead-letter queue and move its messages back.
//!
//! `dlq list` reads messages without removing them: it takes up to `--limit` messages
//! unacknowledged (so each `basic.get` returns the next one), prints them, then hands
//! them all back with `nack(requeue)`. If it dies half-way, the broker requeues them
//! anyway when the channel closes. A quorum queue takes nacked messages back through
//! its log, so they reappear a moment after `list` returns; each look also counts in
//! the message's `x-delivery-count`, which is harmless because the dead-letter queues
//! have no delivery limit.
//!
//! `dlq replay` moves messages back to their work queue: each is republished (confirmed,
//! mandatory) through the commands exchange with its attempt count and failure headers
//! removed, and only then acked in the dead-letter queue. A crash between the two
//! leaves a copy in both queues; that is harmless because a command is applied once per
//! `command_id`. Replay takes at most as many messages as the queue held when it
//! started, so a message that fails again and returns to the queue is not replayed in
//! a loop.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};
use shared::config::AmqpArgs;
use shared::messaging::connection::connect;
use shared::messaging::{Topology, WorkQueue, headers};

/// `imagefleet dlq` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// Print dead-lettered messages (one JSON object per line) without removing them.
    List(ListArgs),
    /// Move dead-lettered messages back to their work queue to be tried again.
    Replay(ReplayArgs),
}

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

/// Arguments of `imagefleet dlq replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// The dead-letter queue of which work queue; messages go back to that work queue.
    #[arg(long, value_enum, default_value_t = WorkQueue::Commands)]
    pub queue: WorkQueue,
    /// Most messages to replay (default: all the queue holds when replay starts).
    #[arg(long)]
    pub limit: Option<usize>,
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
    /// `permanent` or `retryable`.
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
        let Some(message) = channel
            .basic_get(name.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {name}"))?
        else {
            break;
        };
        held.push(message.delivery);
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

/// Moves up to `limit` messages (at most as many as the dead-letter queue holds now)
/// back to `queue`; returns how many were moved.
pub async fn replay(
    channel: &Channel,
    topology: &Topology,
    queue: WorkQueue,
    limit: Option<usize>,
) -> anyhow::Result<usize> {
    let name = topology.dead_letter_queue(queue);
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let waiting = channel
        .queue_declare(name.as_str().into(), passive, FieldTable::default())
        .await
        .with_context(|| format!("the dead-letter queue {name} does not exist"))?
        .message_count();
    let limit = limit.map_or(waiting as usize, |limit| limit.min(waiting as usize));
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut moved = 0;
    while moved < limit {
        let Some(message) = channel
            .basic_get(name.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {name}"))?
        else {
            break;
        };
        let delivery = message.delivery;
        if let Err(error) = republish(channel, topology, queue, &delivery).await {
            let requeue = BasicNackOptions {
                multiple: false,
                requeue: true,
            };
            delivery.nack(requeue).await?;
            return Err(error.context(format!("replayed {moved} before failing")));
        }
        // Ack only after the broker confirmed the copy in the work queue.
        delivery.ack(BasicAckOptions::default()).await?;
        moved += 1;
    }
    Ok(moved)
}

async fn republish(
    channel: &Channel,
    topology: &Topology,
    queue: WorkQueue,
    delivery: &Delivery,
) -> anyhow::Result<()> {
    let confirmation = channel
        .basic_publish(
            topology.commands_exchange().into(),
            topology.queue(queue).into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &delivery.data,
            replay_properties(&delivery.properties),
        )
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => bail!(
            "the work queue {} is not bound: {}",
            topology.queue(queue),
            returned.reply_text
        ),
        Confirmation::Nack(None) => bail!("the broker refused (nacked) the replayed message"),
    }
}

/// Headers a replayed message starts without: the attempt count and the record of the
/// failure, ours and the broker's.
const RESET_HEADERS: [&str; 6] = [
    headers::ATTEMPTS,
    headers::FAILURE_REASON,
    headers::FAILURE_CLASS,
    headers::ORIGIN_QUEUE,
    "x-death",
    "x-delivery-count",
];

/// The properties of a replayed message: those that describe the command, kept; the
/// failure record, the expired caller's `reply_to`/`correlation_id`, any TTL and the
/// `user_id` (the broker checks it against our login) dropped.
pub fn replay_properties(original: &BasicProperties) -> BasicProperties {
    let kept: BTreeMap<ShortString, AMQPValue> = original
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter(|(key, _)| !RESET_HEADERS.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_headers(FieldTable::from(kept));
    if let Some(value) = original.content_type() {
        properties = properties.with_content_type(value.clone());
    }
    if let Some(value) = original.content_encoding() {
        properties = properties.with_content_encoding(value.clone());
    }
    if let Some(value) = original.message_id() {
        properties = properties.with_message_id(value.clone());
    }
    if let Some(value) = original.kind() {
        properties = properties.with_type(value.clone());
    }
    if let Some(value) = original.timestamp() {
        properties = properties.with_timestamp(*value);
    }
    if let Some(value) = original.app_id() {
        properties = properties.with_app_id(value.clone());
    }
    properties
}

fn text(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(value) => Some(String::from_utf8_lossy(value.as_bytes()).into()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

fn integer(table: &FieldTable, key: &str) -> Option<i64> {
    match table.inner().get(key)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        _ => None,
    }
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

/// Runs `imagefleet dlq list` or `imagefleet dlq replay`.
pub async fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    let amqp = match &command {
        DlqCommand::List(args) => &args.amqp,
        DlqCommand::Replay(args) => &args.amqp,
    };
    let topology = amqp.topology();
    let connection = connect(&amqp.amqp_url, "imagefleet-cli-dlq")
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    match &command {
        DlqCommand::List(args) => {
            let letters = list(&channel, &topology, args.queue, args.limit).await?;
            for letter in &letters {
                println!("{}", letter.to_json());
            }
        }
        DlqCommand::Replay(args) => {
            let queue = args.queue;
            let moved = replay(&channel, &topology, queue, args.limit).await?;
            println!(
                "replayed {moved} message(s) from {} to {}",
                topology.dead_letter_queue(queue),
                topology.queue(queue)
            );
        }
    }
    connection.close(200, "done".into()).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_resets_the_failure_record_and_keeps_the_command() {
        let mut table = FieldTable::default();
        table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(3));
        table.insert(
            headers::FAILURE_REASON.into(),
            AMQPValue::LongString("boom".into()),
        );
        table.insert("x-custom".into(), AMQPValue::LongString("kept".into()));
        let original = BasicProperties::default()
            .with_headers(table)
            .with_message_id("m-1".into())
            .with_type("delete_image".into())
            .with_reply_to("amq.rabbitmq.reply-to.gone".into())
            .with_user_id("someone".into());
        let replayed = replay_properties(&original);
        let kept = replayed.headers().clone().unwrap_or_default();
        assert_eq!(integer(&kept, headers::ATTEMPTS), None);
        assert_eq!(text(&kept, headers::FAILURE_REASON), None);
        assert_eq!(text(&kept, "x-custom").as_deref(), Some("kept"));
        assert_eq!(
            replayed.message_id().as_ref().map(|m| m.as_str()),
            Some("m-1")
        );
        assert_eq!(
            replayed.kind().as_ref().map(|m| m.as_str()),
            Some("delete_image")
        );
        assert_eq!(replayed.delivery_mode(), &Some(2));
        assert!(replayed.reply_to().is_none());
        assert!(replayed.user_id().is_none());
    }
}
