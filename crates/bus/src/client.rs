//! `CommandClient`: how the gateway (and any Rust producer) puts commands on the bus.
//! [`CommandClient::publish`] is fire-and-forget but waits for the broker's publisher
//! confirm; [`CommandClient::send`] also waits for the worker's [`CommandReply`], over
//! RabbitMQ's direct reply-to (`amq.rabbitmq.reply-to`), so no reply queue is declared.
//!
//! One client serves many concurrent callers: they share one connection and one
//! confirm-mode channel, and one task reads every reply and hands it to the caller
//! waiting under its AMQP correlation id. lapin does not reconnect by itself: when the
//! connection drops, callers waiting for a reply fail with [`ClientError::Disconnected`]
//! and the next call reconnects (with backoff, within its own time limit) and declares
//! the topology again. A nacked or unconfirmed publish retires the link as well,
//! although its connection looks alive (see `Link::retire_after`). While the broker blocks the connection (a memory or disk alarm)
//! nothing is sent: calls fail at once with [`ClientError::Blocked`], and so does
//! [`CommandClient::check_connection`], the gateway's readiness.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, Consumer};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use crate::backoff::Backoff;
use crate::confirm::Confirms;
use crate::connection::connect;
use crate::{Topology, WorkQueue};
use wire::{CommandEnvelope, CommandReply};

/// RabbitMQ's direct reply-to pseudo-queue: replies go straight to this channel's
/// consumer without a queue of their own.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// How long [`CommandClient::publish`] may take, reconnection included, unless set
/// with [`CommandClient::with_publish_timeout`].
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// The connection name the broker shows for a client made by [`CommandClient::connect`].
pub const DEFAULT_CONNECTION_NAME: &str = "imagefleet-command-client";

/// Why a command could not be published, or its reply not received.
///
/// Retrying is always safe with the **same** `command_id`: a worker applies a command
/// once however often it is delivered, and a redelivery answers with the stored result.
/// [`ClientError::is_retryable`] says when a retry can help. The underlying error is
/// part of the message (not a `source`), so a log line or an anyhow chain shows it once.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// RabbitMQ could not be reached (or the topology not declared). Nothing was sent.
    #[error("cannot connect to RabbitMQ: {0}")]
    Connection(lapin::Error),
    /// The publish failed on the wire (typically the connection dropped). The broker
    /// may or may not have the command.
    #[error("publishing the command failed: {0}")]
    Publish(lapin::Error),
    /// The broker refused the message (a negative publisher confirm).
    #[error("the broker refused (nacked) the command")]
    Nacked,
    /// No queue is bound for the command's routing key (the message was returned).
    /// The topology is missing or broken: a retry alone does not help.
    #[error("the command could not be routed to a queue ({code} {text})")]
    Unroutable {
        /// The AMQP reply code (312 NO_ROUTE).
        code: u16,
        /// The broker's explanation.
        text: String,
    },
    /// No reply (or confirm) within the time allowed. The command's outcome is
    /// **unknown**: it may be queued, applied, or lost. Retry with the same
    /// `command_id` to learn it: a worker that already applied it replies with the
    /// stored result (`replayed: true`) instead of applying it twice.
    #[error("no answer within {0:?}; the command's outcome is unknown")]
    Timeout(Duration),
    /// The connection dropped while the caller waited for the reply; as with
    /// [`ClientError::Timeout`], the outcome is unknown and a retry with the same
    /// `command_id` is safe. The next call reconnects.
    #[error("the connection to RabbitMQ dropped before the reply arrived")]
    Disconnected,
    /// RabbitMQ blocks this client's connection (a memory or disk alarm): nothing was
    /// sent. Retrying helps once the alarm clears.
    #[error("RabbitMQ blocks publishing (a resource alarm); the command was not sent")]
    Blocked,
    /// Too many earlier publishes still await their confirm: nothing was sent.
    #[error("the command was not sent: {0}")]
    Backlog(super::confirm::TooManyPending),
    /// The reply was not a readable [`CommandReply`].
    #[error("the reply is not a valid command reply: {0}")]
    InvalidReply(serde_json::Error),
    /// The envelope could not be serialised (it never can in practice).
    #[error("the command cannot be serialised: {0}")]
    Encode(serde_json::Error),
    /// [`CommandClient::close`] was called.
    #[error("the command client is closed")]
    Closed,
}

impl ClientError {
    /// True when the same call (with the same `command_id`) may succeed if retried.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Connection(_)
            | ClientError::Publish(_)
            | ClientError::Nacked
            | ClientError::Timeout(_)
            | ClientError::Disconnected
            | ClientError::Blocked
            | ClientError::Backlog(_) => true,
            ClientError::Unroutable { .. }
            | ClientError::InvalidReply(_)
            | ClientError::Encode(_)
            | ClientError::Closed => false,
        }
    }
}

/// A producer of commands; cheap to clone, and clones share one connection.
#[derive(Clone)]
pub struct CommandClient {
    inner: Arc<Inner>,
    publish_timeout: Duration,
}

struct Inner {
    url: String,
    name: String,
    /// The RabbitMQ user of `url`: every command names it as its `user_id`, which the
    /// broker checks and workers trust as the producer (see `intake`).
    user: String,
    topology: Topology,
    /// The current connection; the lock is held while reconnecting so that callers who
    /// find the connection dropped reconnect once, not once each.
    link: Mutex<Option<Arc<Link>>>,
    closed: AtomicBool,
}

impl std::fmt::Debug for CommandClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandClient")
            .field("name", &self.inner.name)
            .field("topology", &self.inner.topology)
            .finish_non_exhaustive()
    }
}

impl CommandClient {
    /// Connects once (no retry: the caller decides how to wait for a broker at start),
    /// declares `topology` and prepares the reply consumer.
    pub async fn connect(url: &str, topology: Topology) -> Result<Self, ClientError> {
        Self::connect_named(url, topology, DEFAULT_CONNECTION_NAME).await
    }

    /// [`CommandClient::connect`] with the connection name the broker shows.
    pub async fn connect_named(
        url: &str,
        topology: Topology,
        name: &str,
    ) -> Result<Self, ClientError> {
        let link = Link::open(url, name, &topology)
            .await
            .map_err(ClientError::Connection)?;
        Ok(Self {
            inner: Arc::new(Inner {
                url: url.to_owned(),
                user: super::connection::login_of(url),
                name: name.to_owned(),
                topology,
                link: Mutex::new(Some(Arc::new(link))),
                closed: AtomicBool::new(false),
            }),
            publish_timeout: DEFAULT_PUBLISH_TIMEOUT,
        })
    }

    /// The same client with another limit for [`CommandClient::publish`].
    pub fn with_publish_timeout(mut self, timeout: Duration) -> Self {
        self.publish_timeout = timeout;
        self
    }

    /// The topology commands are published into.
    pub fn topology(&self) -> &Topology {
        &self.inner.topology
    }

    /// Publishes a command to the commands queue and waits for the broker's confirm
    /// (so the message is on disk), but not for a worker.
    pub async fn publish(&self, envelope: &CommandEnvelope) -> Result<(), ClientError> {
        let deadline = Instant::now() + self.publish_timeout;
        let body = serde_json::to_vec(envelope).map_err(ClientError::Encode)?;
        let link = self.link(deadline, self.publish_timeout).await?;
        let properties = properties(envelope, &self.inner.user);
        let publish = link.publish(&self.inner.topology, &body, properties);
        let outcome = timeout_at(deadline, publish)
            .await
            .map_err(|_| ClientError::Timeout(self.publish_timeout))
            .and_then(|confirmed| confirmed);
        link.retire_after(&outcome);
        outcome
    }

    /// Publishes a command and waits up to `timeout` (reconnection included) for the
    /// worker's reply. A rejection is a successful call: `Ok(CommandReply::Rejected)`.
    pub async fn send(
        &self,
        envelope: &CommandEnvelope,
        timeout: Duration,
    ) -> Result<CommandReply, ClientError> {
        let deadline = Instant::now() + timeout;
        let body = serde_json::to_vec(envelope).map_err(ClientError::Encode)?;
        let link = self.link(deadline, timeout).await?;
        let correlation_id = uuid::Uuid::new_v4().to_string();
        // Register before publishing: a fast worker may answer before the confirm.
        let (waiter, reply) = oneshot::channel();
        link.register(&correlation_id, waiter)?;
        let _unregister = Unregister {
            link: &link,
            correlation_id: &correlation_id,
        };
        let properties = properties(envelope, &self.inner.user)
            .with_reply_to(DIRECT_REPLY_TO.into())
            .with_correlation_id(correlation_id.as_str().into());
        let publish = link.publish(&self.inner.topology, &body, properties);
        let confirmed = timeout_at(deadline, publish)
            .await
            .map_err(|_| ClientError::Timeout(timeout))
            .and_then(|confirmed| confirmed);
        link.retire_after(&confirmed);
        confirmed?;
        match timeout_at(deadline, reply).await {
            Err(_) => Err(ClientError::Timeout(timeout)),
            // The reader dropped the waiter without an answer: the connection is gone.
            Ok(Err(_)) => Err(ClientError::Disconnected),
            Ok(Ok(answer)) => answer,
        }
    }

    /// Whether the client has a live connection that may publish, reopening it (as the
    /// next command would) if it dropped, within `timeout`: the gateway's readiness
    /// check. Reopening here matters: a gateway taken out of rotation gets no commands,
    /// so a dropped connection would otherwise never come back and the gateway never
    /// ready again. A connection the broker blocks (resource alarm) is not ready:
    /// commands could not be sent.
    pub async fn check_connection(&self, timeout: Duration) -> Result<(), ClientError> {
        let link = self.link(Instant::now() + timeout, timeout).await?;
        if link.connection.status().blocked() {
            return Err(ClientError::Blocked);
        }
        Ok(())
    }

    /// Publishes of the current connection still awaiting the broker's confirm,
    /// whether or not their callers still wait: bounded, and back to zero once the
    /// broker has answered them all.
    pub async fn pending_confirms(&self) -> usize {
        let slot = self.inner.link.lock().await;
        slot.as_ref().map_or(0, |link| link.confirms.pending())
    }

    /// Closes the connection; callers still waiting fail with [`ClientError::Closed`],
    /// and later calls too.
    pub async fn close(&self) {
        self.inner.closed.store(true, Ordering::SeqCst);
        let link = self.inner.link.lock().await.take();
        if let Some(link) = link {
            link.fail_waiters(|| ClientError::Closed);
            if let Err(error) = link.connection.close(200, "client closed".into()).await {
                tracing::debug!(%error, "closing the command client's connection");
            }
        }
    }

    /// The live connection, reconnecting with backoff (until `deadline`) if it dropped.
    async fn link(&self, deadline: Instant, timeout: Duration) -> Result<Arc<Link>, ClientError> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(ClientError::Closed);
        }
        let mut slot = timeout_at(deadline, self.inner.link.lock())
            .await
            .map_err(|_| ClientError::Timeout(timeout))?;
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(ClientError::Closed);
        }
        if let Some(link) = slot.as_ref().filter(|link| link.is_alive()) {
            return Ok(Arc::clone(link));
        }
        // Dropping the dead link closes what is left of it (and stops its reader).
        *slot = None;
        let mut backoff = Backoff::new();
        loop {
            let attempt = Link::open(&self.inner.url, &self.inner.name, &self.inner.topology);
            let error = match timeout_at(deadline, attempt).await {
                Ok(Ok(link)) => {
                    tracing::info!(name = %self.inner.name, "command client reconnected");
                    let link = Arc::new(link);
                    *slot = Some(Arc::clone(&link));
                    return Ok(link);
                }
                Ok(Err(error)) => error,
                Err(_) => return Err(ClientError::Timeout(timeout)),
            };
            let pause = backoff.next_pause();
            if Instant::now() + pause >= deadline {
                return Err(ClientError::Connection(error));
            }
            tracing::warn!(%error, retry_in = ?pause, "command client cannot reconnect");
            tokio::time::sleep(pause).await;
        }
    }
}

/// The AMQP properties of a command message from `user` (the connection's login), with
/// the envelope's trace context in the `traceparent` header when it has one. Every Rust
/// producer (gateway, `imagefleet publish`, tests) publishes through here.
pub fn properties(envelope: &CommandEnvelope, user: &str) -> BasicProperties {
    let issued_at = u64::try_from(envelope.issued_at.timestamp()).unwrap_or_default();
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_user_id(user.into())
        .with_content_type("application/json".into())
        .with_message_id(envelope.command_id.to_string().into())
        .with_type(envelope.command.type_name().into())
        .with_timestamp(issued_at);
    match &envelope.trace {
        Some(context) => super::headers::with_traceparent(properties, context),
        None => properties,
    }
}

/// Callers waiting for a reply, by AMQP correlation id. `None` once the connection is
/// gone, so a late caller cannot register a waiter nobody will ever answer.
type Waiters = StdMutex<Option<HashMap<String, WaiterTx>>>;

/// Where one caller's answer goes.
type WaiterTx = oneshot::Sender<Result<CommandReply, ClientError>>;

/// One connection with its confirm-mode channel and the task reading replies.
struct Link {
    connection: Connection,
    channel: Channel,
    waiters: Arc<Waiters>,
    reader: JoinHandle<()>,
    /// Set once a publish on this channel was nacked or never confirmed: the next call
    /// opens a fresh link instead (see [`Link::retire_after`]).
    retired: AtomicBool,
    /// This channel's outstanding publisher confirms, each awaited by a task of its
    /// own so a caller that gives up leaves nothing behind in lapin.
    confirms: Confirms,
}

impl Link {
    async fn open(url: &str, name: &str, topology: &Topology) -> Result<Self, lapin::Error> {
        let connection = connect(url, name).await?;
        let channel = connection.create_channel().await?;
        topology.declare(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        // Direct reply-to requires the consumer (no-ack) on the very channel that
        // publishes, started before the first publish naming it.
        let consumer = channel
            .basic_consume(
                DIRECT_REPLY_TO.into(),
                "".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        let waiters: Arc<Waiters> = Arc::new(StdMutex::new(Some(HashMap::new())));
        let reader = tokio::spawn(read_replies(consumer, Arc::clone(&waiters)));
        Ok(Self {
            connection,
            channel,
            waiters,
            reader,
            retired: AtomicBool::new(false),
            confirms: Confirms::default(),
        })
    }

    fn is_alive(&self) -> bool {
        self.connection.status().connected()
            && self.channel.status().connected()
            && lock(&self.waiters).is_some()
            && !self.retired.load(Ordering::SeqCst)
    }

    /// Retires the link after a nacked or unconfirmed publish, although its connection
    /// looks alive. Why: after a quorum queue's leader moves (a cluster node stopped),
    /// the broker can keep nacking on the channel that was publishing to it, and a
    /// client that kept the link would fail every command from then on. The next call
    /// reconnects (to the next node of the list if this one is gone); callers already
    /// waiting on this link keep it until they are answered or give up, and the last
    /// of them to let go closes it.
    fn retire_after<T>(&self, outcome: &Result<T, ClientError>) {
        // A confirm held up by a resource alarm is the broker's flow control, not a
        // broken channel: a new connection would be blocked all the same.
        let stale = match outcome {
            Err(ClientError::Nacked) => true,
            Err(ClientError::Timeout(_)) => !self.connection.status().blocked(),
            _ => false,
        };
        if stale && !self.retired.swap(true, Ordering::SeqCst) {
            tracing::warn!("command client drops its channel after a nack or a missing confirm");
        }
    }

    fn register(&self, correlation_id: &str, waiter: WaiterTx) -> Result<(), ClientError> {
        match lock(&self.waiters).as_mut() {
            Some(waiters) => {
                waiters.insert(correlation_id.to_owned(), waiter);
                Ok(())
            }
            None => Err(ClientError::Disconnected),
        }
    }

    /// Answers every waiting caller with an error and refuses new ones.
    fn fail_waiters(&self, error: impl Fn() -> ClientError) {
        fail_all(&self.waiters, error);
    }

    /// Publishes to the commands queue (mandatory) and waits for the confirm. Nothing
    /// is sent while the broker blocks the connection or too many confirms are
    /// outstanding; the confirm is awaited by a task of its own (see [`Confirms`]).
    async fn publish(
        &self,
        topology: &Topology,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), ClientError> {
        if self.connection.status().blocked() {
            return Err(ClientError::Blocked);
        }
        let reservation = self.confirms.reserve().map_err(ClientError::Backlog)?;
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let (channel, body) = (self.channel.clone(), body.to_vec());
        let (exchange, key) = (
            topology.commands_exchange(),
            topology.queue(WorkQueue::Commands),
        );
        let publish = async move {
            channel
                .basic_publish(exchange.into(), key.into(), options, &body, properties)
                .await
        };
        let confirmation = self
            .confirms
            .spawn(reservation, publish)
            .await
            .map_err(|_| ClientError::Disconnected)?
            .map_err(ClientError::Publish)?;
        match confirmation {
            // The channel is in confirm mode, so `NotRequested` does not happen.
            Confirmation::Ack(None) | Confirmation::NotRequested => Ok(()),
            Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                Err(ClientError::Unroutable {
                    code: returned.reply_code,
                    text: returned.reply_text.to_string(),
                })
            }
            Confirmation::Nack(None) => Err(ClientError::Nacked),
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.reader.abort();
        fail_all(&self.waiters, || ClientError::Disconnected);
    }
}

/// Removes a caller's waiter when it stops waiting (answered, timed out or cancelled).
struct Unregister<'a> {
    link: &'a Link,
    correlation_id: &'a str,
}

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        if let Some(waiters) = lock(&self.link.waiters).as_mut() {
            waiters.remove(self.correlation_id);
        }
    }
}

fn lock(waiters: &Waiters) -> std::sync::MutexGuard<'_, Option<HashMap<String, WaiterTx>>> {
    // A panic while holding this lock cannot leave the map half-updated.
    waiters.lock().unwrap_or_else(PoisonError::into_inner)
}

fn fail_all(waiters: &Waiters, error: impl Fn() -> ClientError) {
    let pending = lock(waiters).take();
    for (_, waiter) in pending.into_iter().flatten() {
        // The caller may have given up already; nothing to do then.
        let _ = waiter.send(Err(error()));
    }
}

/// Hands each reply to the caller waiting under its correlation id, until the
/// consumer ends (the channel or connection closed); then fails those still waiting.
async fn read_replies(mut consumer: Consumer, waiters: Arc<Waiters>) {
    while let Some(delivery) = consumer.next().await {
        let delivery = match delivery {
            Ok(delivery) => delivery,
            Err(error) => {
                tracing::warn!(%error, "the command client's reply consumer failed");
                break;
            }
        };
        let Some(correlation_id) = delivery.properties.correlation_id().as_ref() else {
            tracing::warn!("dropping a reply without a correlation id");
            continue;
        };
        let waiter = lock(&waiters)
            .as_mut()
            .and_then(|waiters| waiters.remove(correlation_id.as_str()));
        match waiter {
            Some(waiter) => {
                let reply =
                    serde_json::from_slice(&delivery.data).map_err(ClientError::InvalidReply);
                let _ = waiter.send(reply);
            }
            // The caller timed out, or this is a reply to a redelivered command.
            None => tracing::debug!(%correlation_id, "dropping a reply nobody waits for"),
        }
    }
    fail_all(&waiters, || ClientError::Disconnected);
}
