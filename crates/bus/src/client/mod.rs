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

mod error;
mod link;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use lapin::BasicProperties;
use tokio::sync::{Mutex, oneshot};
use tokio::time::{Instant, timeout_at};

use crate::Topology;
use crate::backoff::Backoff;
use wire::{CommandEnvelope, CommandReply};

pub use error::ClientError;
use link::{Link, Unregister};

/// RabbitMQ's direct reply-to pseudo-queue: replies go straight to this channel's
/// consumer without a queue of their own.
pub const DIRECT_REPLY_TO: &str = "amq.rabbitmq.reply-to";

/// How long [`CommandClient::publish`] may take, reconnection included, unless set
/// with [`CommandClient::with_publish_timeout`].
pub const DEFAULT_PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest [`CommandClient::close`] waits for the broker to answer its close.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The connection name the broker shows for a client made by [`CommandClient::connect`].
pub const DEFAULT_CONNECTION_NAME: &str = "imagefleet-command-client";

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
            // Bounded: a broker that stopped answering must not hold a stopping gateway.
            let close = link.connection.close(200, "client closed".into());
            match tokio::time::timeout(CLOSE_TIMEOUT, close).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::debug!(%error, "closing the command client's connection")
                }
                Err(_) => tracing::debug!("the broker did not answer the client's close in time"),
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
/// the command's target in the `x-imagefleet-target` header (the shard key) and the
/// envelope's trace context in the `traceparent` header when it has one. Every Rust
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
    let properties = super::headers::with_target(properties, envelope);
    match &envelope.trace {
        Some(context) => super::headers::with_traceparent(properties, context),
        None => properties,
    }
}
