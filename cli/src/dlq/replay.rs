//! `imagefleet dlq replay`: moves dead letters back to their work queue. Each message
//! is republished (confirmed, mandatory) through the commands exchange with its attempt
//! count and failure headers removed, and only then acked in the dead-letter queue. A
//! crash between the two leaves a copy in both queues; that is harmless because a
//! command is applied once per `command_id`. The copy is signed with the operator's
//! RabbitMQ user (`user_id`) and names the producer it first came from in
//! `x-imagefleet-producer`, so workers judge it as that producer: a replay never gains
//! rights the original lacked (README, "Producers and trust"). `--class` replays only
//! the dead letters of one failure class, say those whose retries ran out while
//! Postgres was down, and leaves the others in place.

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::{Context as _, bail};
use bus::AmqpArgs;
use bus::{FailureClass, Topology, WorkQueue, headers};
use clap::Args;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation};

use super::{class_of, dead_letters, next_message};
use crate::progress::Progress;

/// Arguments of `imagefleet dlq replay`.
#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// The dead-letter queue of which work queue; messages go back to that work queue.
    #[arg(long, value_enum, default_value_t = WorkQueue::Commands)]
    pub queue: WorkQueue,
    /// Replay only dead letters of this class (default: every class): `unreadable`,
    /// `forbidden`, `retries-exhausted` (e.g. after Postgres came back) or `unprocessable`
    /// (once the data is mended).
    #[arg(long, value_enum)]
    pub class: Option<FailureClass>,
    /// Most messages to replay, oldest first (default: all the queue holds when replay
    /// starts).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// Moves up to `limit` messages (at most as many as the dead-letter queue holds now)
/// of `class` (any class when none) back to `queue` as `user` (the channel's RabbitMQ
/// user), counting each message looked at in `progress`; returns how many were moved.
/// Messages of another class are held unacknowledged while the queue is read, so each
/// `basic.get` returns the next one, then handed back in their order.
pub async fn replay<W: Write>(
    channel: &Channel,
    topology: &Topology,
    user: &str,
    queue: WorkQueue,
    class: Option<FailureClass>,
    limit: Option<usize>,
    progress: &mut Progress<W>,
) -> anyhow::Result<usize> {
    let (name, waiting, limit) = dead_letters(channel, topology, queue, limit).await?;
    // Without a filter every message looked at moves; with one, finding `limit` of
    // its class may take reading the whole queue as it is now.
    let examine = if class.is_some() { waiting } else { limit };
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    progress.begin(examine);
    let mut moved = 0;
    let mut kept = Vec::new();
    let result = async {
        while progress.done() < examine && moved < limit {
            let Some(delivery) = next_message(channel, &name, false).await? else {
                break;
            };
            if class.is_some_and(|class| class_of(&delivery.properties) != Some(class)) {
                kept.push(delivery);
                progress.tick();
                continue;
            }
            if let Err(error) = republish(channel, topology, user, queue, &delivery).await {
                delivery.nack(REQUEUE).await?;
                return Err(error.context(format!("replayed {moved} before failing")));
            }
            // Ack only after the broker confirmed the copy in the work queue.
            delivery.ack(BasicAckOptions::default()).await?;
            moved += 1;
            progress.tick();
        }
        Ok(())
    }
    .await;
    for delivery in &kept {
        delivery
            .nack(REQUEUE)
            .await
            .context("handing a message of another class back")?;
    }
    result?;
    progress.finish();
    Ok(moved)
}

/// Hands a message back to its queue.
const REQUEUE: BasicNackOptions = BasicNackOptions {
    multiple: false,
    requeue: true,
};

async fn republish(
    channel: &Channel,
    topology: &Topology,
    user: &str,
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
            replay_properties(&delivery.properties, user),
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
/// failure record, the expired caller's `reply_to`/`correlation_id` and any TTL
/// dropped. The `user_id` becomes `user` (the broker checks it against our login); the
/// producer the message came from stays in `x-imagefleet-producer`: the one a worker
/// recorded when it dead-lettered it, else the original `user_id` (empty for none,
/// which workers refuse as unidentified).
pub fn replay_properties(original: &BasicProperties, user: &str) -> BasicProperties {
    let mut kept: BTreeMap<ShortString, AMQPValue> = original
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
    if !kept.contains_key(headers::PRODUCER) {
        let producer = original
            .user_id()
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default();
        kept.insert(
            headers::PRODUCER.into(),
            AMQPValue::LongString(producer.into()),
        );
    }
    let mut properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_user_id(user.into())
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

#[cfg(test)]
mod tests {
    use super::super::{integer, text};
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
        let replayed = replay_properties(&original, "operator");
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
        assert_eq!(
            replayed.user_id().as_ref().map(|u| u.as_str()),
            Some("operator")
        );
        assert_eq!(text(&kept, headers::PRODUCER).as_deref(), Some("someone"));
    }

    #[test]
    fn replay_keeps_the_producer_a_worker_recorded() {
        let mut table = FieldTable::default();
        table.insert(headers::PRODUCER.into(), AMQPValue::LongString("gw".into()));
        let original = BasicProperties::default()
            .with_headers(table)
            .with_user_id("worker".into());
        let replayed = replay_properties(&original, "operator");
        let kept = replayed.headers().clone().unwrap_or_default();
        assert_eq!(text(&kept, headers::PRODUCER).as_deref(), Some("gw"));
    }
}
