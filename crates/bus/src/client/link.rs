//! One connection of the [`CommandClient`](super::CommandClient) with its confirm-mode
//! channel, the callers waiting for replies under their correlation ids, and the task
//! that reads the replies and hands each to its caller.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use futures::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection, Consumer};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::confirm::Confirms;
use crate::connection::connect;
use crate::{Topology, WorkQueue};
use wire::CommandReply;

use super::{ClientError, DIRECT_REPLY_TO};

/// Callers waiting for a reply, by AMQP correlation id. `None` once the connection is
/// gone, so a late caller cannot register a waiter nobody will ever answer.
type Waiters = StdMutex<Option<HashMap<String, WaiterTx>>>;

/// Where one caller's answer goes.
type WaiterTx = oneshot::Sender<Result<CommandReply, ClientError>>;

/// One connection with its confirm-mode channel and the task reading replies.
pub(super) struct Link {
    pub(super) connection: Connection,
    pub(super) channel: Channel,
    pub(super) waiters: Arc<Waiters>,
    pub(super) reader: JoinHandle<()>,
    /// Set once a publish on this channel was nacked or never confirmed: the next call
    /// opens a fresh link instead (see [`Link::retire_after`]).
    pub(super) retired: AtomicBool,
    /// This channel's outstanding publisher confirms, each awaited by a task of its
    /// own so a caller that gives up leaves nothing behind in lapin.
    pub(super) confirms: Confirms,
}

impl Link {
    pub(super) async fn open(
        url: &str,
        name: &str,
        topology: &Topology,
    ) -> Result<Self, lapin::Error> {
        let connection = connect(url, name).await?;
        let channel = connection.create_channel().await?;
        topology.declare(&connection).await?;
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

    pub(super) fn is_alive(&self) -> bool {
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
    pub(super) fn retire_after<T>(&self, outcome: &Result<T, ClientError>) {
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

    pub(super) fn register(
        &self,
        correlation_id: &str,
        waiter: WaiterTx,
    ) -> Result<(), ClientError> {
        match lock(&self.waiters).as_mut() {
            Some(waiters) => {
                waiters.insert(correlation_id.to_owned(), waiter);
                Ok(())
            }
            None => Err(ClientError::Disconnected),
        }
    }

    /// Answers every waiting caller with an error and refuses new ones.
    pub(super) fn fail_waiters(&self, error: impl Fn() -> ClientError) {
        fail_all(&self.waiters, error);
    }

    /// Publishes to the commands queue (mandatory) and waits for the confirm. Nothing
    /// is sent while the broker blocks the connection or too many confirms are
    /// outstanding; the confirm is awaited by a task of its own (see [`Confirms`]).
    pub(super) async fn publish(
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
pub(super) struct Unregister<'a> {
    pub(super) link: &'a Link,
    pub(super) correlation_id: &'a str,
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
