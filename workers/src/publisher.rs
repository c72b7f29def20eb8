//! What a worker publishes while settling a delivery: replies to producers, copies into
//! the retry queues, and dead letters with the reason in headers. Every publish waits
//! for the broker's confirm before the original delivery is acked; retries and dead
//! letters are counted once confirmed. Retries and dead letters are published as this
//! worker's own user, naming the producer they came from in `x-imagefleet-producer`:
//! the broker refuses a `user_id` other than the publisher's, and a replay must be
//! judged as the original producer, not as the worker or the operator replaying it.

use std::sync::Arc;

use lapin::message::Delivery;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};
use shared::messaging::failure_class::RETRYING;
use shared::messaging::intake::Intake;
use shared::messaging::{CommandReply, FailureClass, Topology, WorkQueue, headers};
use shared::metrics::{COMMAND_RETRIES, DEAD_LETTERED, queue_label};

/// Longest failure reason kept in a header.
const MAX_REASON: usize = 1000;

/// A confirm-mode channel and the names to publish under.
#[derive(Clone)]
pub struct Publisher {
    channel: Channel,
    topology: Topology,
    intake: Arc<Intake>,
}

/// How many attempts a message has had, from its header (0 when first delivered).
pub fn attempts_of(properties: &BasicProperties) -> i64 {
    properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get(headers::ATTEMPTS))
        .and_then(|v| match v {
            AMQPValue::LongLongInt(n) => Some(*n),
            AMQPValue::LongInt(n) => Some(i64::from(*n)),
            AMQPValue::ShortInt(n) => Some(i64::from(*n)),
            _ => None,
        })
        .unwrap_or(0)
}

fn text(value: &str) -> AMQPValue {
    let mut value = value.to_owned();
    if value.len() > MAX_REASON {
        let mut end = MAX_REASON;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    AMQPValue::LongString(value.into())
}

impl Publisher {
    /// Puts `channel` in confirm mode; `intake` names this worker's user and judges
    /// whom a letter is from.
    pub async fn new(
        channel: Channel,
        topology: Topology,
        intake: Arc<Intake>,
    ) -> Result<Self, lapin::Error> {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Self {
            channel,
            topology,
            intake,
        })
    }

    async fn publish(
        &self,
        exchange: &str,
        key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), lapin::Error> {
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?
            .await?;
        if confirm.is_nack() {
            return Err(lapin::Error::from(lapin::ErrorKind::InvalidChannelState(
                lapin::ChannelState::Error,
                "the broker refused (nacked) a publish",
            )));
        }
        Ok(())
    }

    /// Closes the publishing channel (graceful shutdown, after the last settle).
    pub async fn close(&self) -> Result<(), lapin::Error> {
        self.channel.close(200, "shutting down".into()).await
    }

    /// Answers a producer that set `reply_to`; does nothing otherwise, or when
    /// `reply_to` names a queue of the fleet's topology.
    pub async fn reply(
        &self,
        request: &BasicProperties,
        reply: &CommandReply,
    ) -> Result<(), lapin::Error> {
        let Some(reply_to) = request.reply_to() else {
            return Ok(());
        };
        // A reply goes through the default exchange to whichever queue `reply_to` names:
        // no producer may make a worker write into the fleet's own work, retry or
        // dead-letter queues.
        let fleet_queue = reply_to
            .as_str()
            .strip_prefix(self.topology.prefix())
            .is_some_and(|rest| rest.starts_with('.'));
        if fleet_queue {
            tracing::warn!(%reply_to, "not replying into one of the fleet's own queues");
            return Ok(());
        }
        // A reply always serialises: it is plain data with string keys.
        let body = serde_json::to_vec(reply).unwrap_or_default();
        let mut properties =
            BasicProperties::default().with_content_type("application/json".into());
        if let Some(correlation_id) = request.correlation_id() {
            properties = properties.with_correlation_id(correlation_id.clone());
        }
        self.publish("", reply_to.as_str(), &body, properties).await
    }

    /// The original message with its failure and its producer recorded in headers,
    /// published as this worker's user.
    fn annotated(
        &self,
        delivery: &Delivery,
        queue_name: &str,
        class: &str,
        reason: &str,
        attempts: i64,
    ) -> BasicProperties {
        let mut table = delivery.properties.headers().clone().unwrap_or_default();
        table.insert(headers::ATTEMPTS.into(), AMQPValue::LongLongInt(attempts));
        table.insert(headers::FAILURE_CLASS.into(), text(class));
        table.insert(headers::FAILURE_REASON.into(), text(reason));
        table.insert(headers::ORIGIN_QUEUE.into(), text(queue_name));
        let producer = self.intake.provenance(&delivery.properties);
        table.insert(headers::PRODUCER.into(), text(&producer));
        delivery
            .properties
            .clone()
            .with_headers(FieldTable::from(table.inner().clone()))
            .with_user_id(self.intake.own_user().into())
            .with_delivery_mode(2)
    }

    /// Moves the delivery to its queue's dead-letter queue with the reason.
    pub async fn dead_letter(
        &self,
        delivery: &Delivery,
        queue: WorkQueue,
        class: &str,
        reason: &str,
        attempts: i64,
    ) -> Result<(), lapin::Error> {
        let origin = self.topology.queue(queue);
        tracing::warn!(queue = %origin, class, reason, attempts, "dead-lettering a command");
        let properties = self.annotated(delivery, &origin, class, reason, attempts);
        let target: ShortString = self.topology.dead_letter_queue(queue).into();
        self.publish(
            &self.topology.dead_letter_exchange(),
            target.as_str(),
            &delivery.data,
            properties,
        )
        .await?;
        // The class, not the free-text reason: label values must stay a small set.
        let reason = FailureClass::from_header(class).map_or("other", FailureClass::metric_label);
        metrics::counter!(DEAD_LETTERED, "queue" => queue_label(queue), "reason" => reason)
            .increment(1);
        Ok(())
    }

    /// Sends a retryable failure to the next retry queue, or dead-letters it once the
    /// retry steps are used up.
    pub async fn retry_or_dead_letter(
        &self,
        delivery: &Delivery,
        queue: WorkQueue,
        reason: &str,
    ) -> Result<(), lapin::Error> {
        let attempts = attempts_of(&delivery.properties);
        let step = usize::try_from(attempts).unwrap_or(usize::MAX);
        if step >= self.topology.retry_delays().len() {
            let reason = format!("gave up after {attempts} retries: {reason}");
            return self
                .dead_letter(
                    delivery,
                    queue,
                    FailureClass::RetriesExhausted.as_str(),
                    &reason,
                    attempts,
                )
                .await;
        }
        tracing::info!(attempt = attempts + 1, reason, "retrying a command later");
        let origin = self.topology.queue(queue);
        let properties = self.annotated(delivery, &origin, RETRYING, reason, attempts + 1);
        self.publish(
            "",
            &self.topology.retry_queue(queue, step),
            &delivery.data,
            properties,
        )
        .await?;
        metrics::counter!(COMMAND_RETRIES, "queue" => queue_label(queue)).increment(1);
        Ok(())
    }
}
