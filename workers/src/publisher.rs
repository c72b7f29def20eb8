//! What a worker publishes while settling a delivery: replies to producers, copies into
//! the retry queues, and dead letters with the reason in headers, on a connection of
//! its own: a broker that blocks publishers (a resource alarm) then blocks only this
//! one, and the consumer's acks still flow. Every publish waits, for at most the confirm
//! timeout, for the broker's confirm before the original delivery is acked; a timeout,
//! a nack or a return (retries and dead letters are `mandatory`) is an error, and the
//! original stays unacked; a nack or a lost confirm also retires the publishing session
//! (see [`Publisher::is_open`]). Retries and dead letters are counted once confirmed. Retries and dead letters are published as this
//! worker's own user, naming the producer they came from in `x-imagefleet-producer`:
//! the broker refuses a `user_id` other than the publisher's, and a replay must be
//! judged as the original producer, not as the worker or the operator replaying it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bus::confirm::Confirms;
use bus::failure_class::RETRYING;
use bus::flow::{PublishFlow, watch_blocking};
use bus::intake::Intake;
use bus::{FailureClass, QueueShard, Topology, headers};
use lapin::message::Delivery;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use shared::metrics::{COMMAND_RETRIES, DEAD_LETTERED, queue_label};
use wire::CommandReply;

/// Longest failure reason kept in a header.
const MAX_REASON: usize = 1000;

/// How long a worker waits for the broker's confirm of one publish unless told
/// otherwise.
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(10);

/// A confirm-mode channel on the publishing connection, and the names to publish under.
#[derive(Clone)]
pub struct Publisher {
    connection: Arc<Connection>,
    channel: Channel,
    topology: Topology,
    intake: Arc<Intake>,
    confirm_timeout: Duration,
    confirms: Confirms,
    /// True while the broker blocks the connection.
    blocked: tokio::sync::watch::Receiver<bool>,
    /// Set once a publish was nacked, or not confirmed while the connection was not
    /// blocked: [`Publisher::is_open`] then reads false, so the consumer ends the
    /// session and the next one publishes on a fresh connection. Why: after a quorum
    /// queue's leader moves (a cluster node stopped) the broker can keep nacking on the
    /// channel that was publishing to it, and every reply, retry and dead letter on it
    /// would fail from then on.
    retired: Arc<AtomicBool>,
}

/// What a [`Publisher`] is opened with besides its connection.
#[derive(Debug, Clone)]
pub struct PublisherSettings {
    /// Names of exchanges and queues.
    pub topology: Topology,
    /// Names this worker's user and judges whom a letter is from.
    pub intake: Arc<Intake>,
    /// Longest wait for one confirm.
    pub confirm_timeout: Duration,
    /// Where the connection's blocked state is reported (the worker's `/readyz`).
    pub flow: PublishFlow,
    /// The connection's name, in that report.
    pub name: String,
}

/// The error a publish ends with when it was not confirmed; the reason is logged.
fn refused(what: &'static str) -> lapin::Error {
    lapin::ErrorKind::InvalidChannelState(lapin::ChannelState::Error, what).into()
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
    /// Opens a confirm-mode channel on `connection` (the worker's publishing connection,
    /// which this publisher owns from now on) and follows its blocked state.
    pub async fn open(
        connection: Connection,
        settings: PublisherSettings,
    ) -> Result<Self, lapin::Error> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let blocked = watch_blocking(&connection, &settings.name, &settings.flow);
        Ok(Self {
            connection: Arc::new(connection),
            channel,
            topology: settings.topology,
            intake: settings.intake,
            confirm_timeout: settings.confirm_timeout,
            confirms: Confirms::default(),
            blocked,
            retired: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Whether the broker blocks the publishing connection now.
    pub fn is_blocked(&self) -> bool {
        *self.blocked.borrow()
    }

    /// Returns once the broker no longer blocks the publishing connection.
    pub async fn unblocked(&self) {
        let mut blocked = self.blocked.clone();
        // An error means the watch ended with its connection: nothing blocks any more.
        let _ = blocked.wait_for(|blocked| !blocked).await;
    }

    /// Whether the publishing connection and channel are still open and fit to publish
    /// on (no nack or lost confirm so far).
    pub fn is_open(&self) -> bool {
        self.connection.status().connected()
            && self.channel.status().connected()
            && !self.retired.load(Ordering::SeqCst)
    }

    /// Publishes and waits at most the confirm timeout for the broker's confirm. A
    /// `mandatory` message the broker could not route comes back as an error.
    async fn publish(
        &self,
        exchange: &str,
        key: &str,
        body: &[u8],
        properties: BasicProperties,
        mandatory: bool,
    ) -> Result<(), lapin::Error> {
        let reservation = self
            .confirms
            .reserve()
            .map_err(|_| refused("too many publishes await their confirm"))?;
        let options = BasicPublishOptions {
            mandatory,
            ..Default::default()
        };
        let (channel, exchange, routing_key, body) = (
            self.channel.clone(),
            exchange.to_owned(),
            key.to_owned(),
            body.to_vec(),
        );
        let publish = async move {
            channel
                .basic_publish(
                    exchange.into(),
                    routing_key.into(),
                    options,
                    &body,
                    properties,
                )
                .await
        };
        // The confirm is awaited by a task of its own, so giving up here leaves
        // nothing behind in lapin (see `Confirms`).
        let confirm = self.confirms.spawn(reservation, publish);
        let confirmation = match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Err(_) => {
                tracing::warn!(key, timeout = ?self.confirm_timeout, blocked = self.is_blocked(), "no publisher confirm in time");
                if !self.is_blocked() {
                    self.retired.store(true, Ordering::SeqCst);
                }
                return Err(refused("no publisher confirm in time"));
            }
            Ok(Err(_)) => return Err(refused("the publish ended without a confirm")),
            Ok(Ok(confirmation)) => confirmation?,
        };
        match confirmation {
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                tracing::warn!(key, code = returned.reply_code, text = %returned.reply_text, "the broker returned a mandatory publish");
                Err(refused("the broker returned an unroutable publish"))
            }
            Confirmation::Nack(None) => {
                tracing::warn!(
                    key,
                    "the broker refused (nacked) a publish; this channel is retired"
                );
                self.retired.store(true, Ordering::SeqCst);
                Err(refused("the broker refused (nacked) a publish"))
            }
        }
    }

    /// Closes the publishing channel and connection (graceful shutdown, after the last
    /// settle).
    pub async fn close(&self) -> Result<(), lapin::Error> {
        self.channel.close(200, "shutting down".into()).await?;
        self.connection.close(200, "shutting down".into()).await
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
        // Not mandatory: a producer that stopped waiting has no queue any more, and that
        // must not keep the command from being acked.
        self.publish("", reply_to.as_str(), &body, properties, false)
            .await
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
        source: QueueShard,
        class: &str,
        reason: &str,
        attempts: i64,
    ) -> Result<(), lapin::Error> {
        let origin = self.topology.shard_queue(source);
        tracing::warn!(queue = %origin, class, reason, attempts, "dead-lettering a command");
        let properties = self.annotated(delivery, &origin, class, reason, attempts);
        let target: ShortString = self.topology.dead_letter_queue(source.queue).into();
        self.publish(
            &self.topology.dead_letter_exchange(),
            target.as_str(),
            &delivery.data,
            properties,
            true,
        )
        .await?;
        // The class, not the free-text reason: label values must stay a small set.
        let reason = FailureClass::from_header(class).map_or("other", FailureClass::metric_label);
        metrics::counter!(DEAD_LETTERED, "queue" => queue_label(source.queue), "reason" => reason)
            .increment(1);
        Ok(())
    }

    /// Sends a retryable failure to the next retry queue of its shard, or dead-letters
    /// it once the retry steps are used up.
    pub async fn retry_or_dead_letter(
        &self,
        delivery: &Delivery,
        source: QueueShard,
        reason: &str,
    ) -> Result<(), lapin::Error> {
        let attempts = attempts_of(&delivery.properties);
        let step = usize::try_from(attempts).unwrap_or(usize::MAX);
        if step >= self.topology.retry_delays().len() {
            let reason = format!("gave up after {attempts} retries: {reason}");
            return self
                .dead_letter(
                    delivery,
                    source,
                    FailureClass::RetriesExhausted.as_str(),
                    &reason,
                    attempts,
                )
                .await;
        }
        tracing::info!(attempt = attempts + 1, reason, "retrying a command later");
        let origin = self.topology.shard_queue(source);
        let properties = self.annotated(delivery, &origin, RETRYING, reason, attempts + 1);
        self.publish(
            "",
            &self.topology.shard_retry_queue(source, step),
            &delivery.data,
            properties,
            true,
        )
        .await?;
        metrics::counter!(COMMAND_RETRIES, "queue" => queue_label(source.queue)).increment(1);
        Ok(())
    }
}
