//! A consumer of one work queue: connects (and reconnects with backoff, re-declaring the
//! topology), consumes with a prefetch equal to the deliveries it works on at once, and
//! processes them concurrently up to that bound. Replies, retries and dead letters go
//! out on a second connection (see [`Publisher`]): while the broker blocks it (a
//! resource alarm) the consumer takes no new delivery, and those in flight still ack.
//! On shutdown it stops consuming, lets in-flight deliveries finish and ack, and closes
//! cleanly; prefetched deliveries it never started go back to the queue.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use bus::connection::{connect_with_backoff, login_of};
use bus::flow::PublishFlow;
use bus::intake::{Intake, IntakePolicy};
use bus::{QueueShard, Topology, WorkQueue};
use futures::{FutureExt, StreamExt};
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, message::Delivery};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery::{self, DeliveryContext};
use crate::publisher::{Publisher, PublisherSettings};

/// What one consumer needs to know. A consumer of the commands queue consumes every
/// shard of it on one channel.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Names of exchanges and queues.
    pub topology: Topology,
    /// The queue to consume (all its shards).
    pub queue: WorkQueue,
    /// Deliveries processed at once, and so the prefetch: a delivery the broker sends
    /// ahead of the work comes back with every other when a session ends, and counts
    /// towards the queue's delivery limit each time.
    pub concurrency: usize,
    /// Connection name shown by the broker (the publishing one adds `-publish`).
    pub name: String,
    /// What deliveries are admitted, and from whom.
    pub intake: IntakePolicy,
    /// Longest wait for the broker's confirm of a reply, retry or dead letter.
    pub confirm_timeout: Duration,
    /// Where the publishing connection's blocked state is reported.
    pub flow: PublishFlow,
}

impl ConsumerConfig {
    /// The prefetch of the queue's shard `index` (a prefetch counts per consumer): the
    /// deliveries worked on at once, shared out so that the shards' prefetches add up to
    /// them, and each at least one (so with more shards than that, one each). One shard
    /// alone (a hot image, or the shard every command without the target header
    /// shares) fills only its part of the worker's concurrency.
    pub fn prefetch(&self, index: usize) -> u16 {
        let shards = self.topology.shards(self.queue).len().max(1);
        let concurrency = self.concurrency.max(1);
        let share = concurrency / shards + usize::from(index < concurrency % shards);
        u16::try_from(share.max(1)).unwrap_or(u16::MAX)
    }
}

/// Consumes until `shutdown` is cancelled, reconnecting whenever the connection drops.
pub async fn run_consumer(
    config: ConsumerConfig,
    context: DeliveryContext,
    shutdown: CancellationToken,
) {
    // The worker's own user is trusted as an operator: its retries come back signed so.
    let intake = Arc::new(config.intake.resolve(&login_of(&config.amqp_url)));
    let publishing = format!("{}-publish", config.name);
    while let Some(connection) =
        connect_with_backoff(&config.amqp_url, &config.name, &shutdown).await
    {
        let Some(publish) = connect_with_backoff(&config.amqp_url, &publishing, &shutdown).await
        else {
            return;
        };
        let settings = PublisherSettings {
            topology: config.topology.clone(),
            intake: Arc::clone(&intake),
            confirm_timeout: config.confirm_timeout,
            flow: config.flow.clone(),
            name: publishing.clone(),
        };
        let session = async {
            let publisher = Publisher::open(publish, settings).await?;
            consume(
                &connection,
                &publisher,
                &config,
                &context,
                &intake,
                &shutdown,
            )
            .await
        };
        match session.await {
            Ok(()) => {
                let close = connection.close(200, "shutting down".into());
                if let Err(error) = bounded_close(close).await {
                    tracing::debug!(%error, "closing the consumer connection");
                }
                return;
            }
            Err(error) => {
                // A session that connects but cannot consume (a refused declaration, a
                // broken channel) must not spin: pause before the next one.
                tracing::warn!(%error, queue = ?config.queue, pause = ?SESSION_PAUSE, "consumer session ended; reconnecting");
                drop(connection);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(SESSION_PAUSE) => {}
                }
            }
        }
    }
}

/// Longest a closing handshake (a consumer's cancel, a channel's or connection's close)
/// waits for the broker's answer at shutdown: a node that stopped answering must not
/// hold a stopping worker (the full test suite caught one that did, under load, after a
/// cluster node was stopped). What is left unclosed goes with the process.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// `close` within [`CLOSE_TIMEOUT`]; an unanswered close is an error like a refused one.
async fn bounded_close(
    close: impl Future<Output = Result<(), lapin::Error>>,
) -> Result<(), lapin::Error> {
    tokio::time::timeout(CLOSE_TIMEOUT, close)
        .await
        .unwrap_or_else(|_| {
            Err(lapin::ErrorKind::InvalidConnectionState(lapin::ConnectionState::Closing).into())
        })
}

/// Pause between a failed consumer session and the next.
const SESSION_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

async fn consume(
    connection: &Connection,
    publisher: &Publisher,
    config: &ConsumerConfig,
    context: &DeliveryContext,
    intake: &Arc<Intake>,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    config.topology.declare(connection).await?;
    let mut tags = Vec::new();
    let mut streams = Vec::new();
    let mut prefetches = Vec::new();
    for (index, shard) in config.topology.shards(config.queue).into_iter().enumerate() {
        // A prefetch applies to the consumers the channel starts after it.
        let prefetch = config.prefetch(index);
        channel
            .basic_qos(prefetch, BasicQosOptions::default())
            .await?;
        prefetches.push(prefetch);
        let consumer = channel
            .basic_consume(
                config.topology.shard_queue(shard).into(),
                format!("{}-{}", config.name, shard.shard).into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tags.push(consumer.tag());
        // Each shard's stream ends with a `None` of its own: one shard's consumer that
        // the broker cancels (its queue deleted) ends the session, as the one queue's
        // did before shards, instead of leaving that shard unconsumed.
        let stream = consumer
            .map(move |delivery| (shard, Some(delivery)))
            .chain(futures::stream::iter([(shard, None)]));
        streams.push(stream);
    }
    let mut deliveries = futures::stream::select_all(streams);
    tracing::info!(queue = ?config.queue, ?prefetches, concurrency = config.concurrency, "consuming");
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    // Cancelled when a delivery could not be settled: the publishing channel is broken,
    // so this session ends and a new one starts on a fresh connection.
    let broken = CancellationToken::new();
    let result = loop {
        // While the broker blocks publishing, a new delivery could not be answered,
        // retried or dead-lettered: leave it with the broker (not even prefetched ones
        // are started) until publishing may go on.
        if publisher.is_blocked() {
            tracing::warn!(queue = ?config.queue, "publishing is blocked; consuming paused");
            tokio::select! {
                () = shutdown.cancelled() => break Ok(()),
                () = broken.cancelled() => break Err(session_broken()),
                () = publisher.unblocked() => {
                    tracing::info!(queue = ?config.queue, "publishing unblocked; consuming again");
                }
            }
        }
        // A permit first: in-flight work stays bounded whatever the prefetch.
        let permit = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            () = broken.cancelled() => break Err(session_broken()),
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break Ok(()),
            },
        };
        let next = tokio::select! {
            () = shutdown.cancelled() => break Ok(()),
            () = broken.cancelled() => break Err(session_broken()),
            next = deliveries.next() => next,
        };
        match next {
            Some((queue, Some(Ok(delivery)))) => {
                let (context, publisher, broken, intake) = (
                    context.clone(),
                    publisher.clone(),
                    broken.clone(),
                    Arc::clone(intake),
                );
                in_flight.spawn(async move {
                    settle(delivery, queue, &context, &publisher, &intake, &broken).await;
                    drop(permit);
                });
            }
            Some((_, Some(Err(error)))) => break Err(error),
            Some((_, None)) | None => {
                tracing::warn!(queue = ?config.queue, "a consumer's stream ended");
                break Err(lapin::ErrorKind::InvalidConnectionState(
                    lapin::ConnectionState::Closed,
                )
                .into());
            }
        }
        while in_flight.try_join_next().is_some() {}
    };
    let cancelled = if result.is_ok() {
        // Stop the flow first; deliveries already prefetched but not started are
        // requeued by the broker when the channel closes. Every shard's cancel at once,
        // under one bound, and the work in flight finishes whatever they answer.
        let cancels = tags
            .into_iter()
            .map(|tag| channel.basic_cancel(tag, BasicCancelOptions::default()));
        bounded_close(async {
            futures::future::join_all(cancels)
                .await
                .into_iter()
                .collect::<Result<(), _>>()
        })
        .await
    } else {
        Ok(())
    };
    while in_flight.join_next().await.is_some() {}
    cancelled?;
    if result.is_ok() {
        // Close the channel before the connection: lapin reports a channel it finds
        // still open at connection close as a connection error.
        bounded_close(channel.close(200, "shutting down".into())).await?;
        bounded_close(publisher.close()).await?;
    }
    result
}

/// The error a session ends with when it cannot settle deliveries any more.
fn session_broken() -> lapin::Error {
    lapin::ErrorKind::InvalidChannelState(
        lapin::ChannelState::Error,
        "a delivery could not be settled",
    )
    .into()
}

/// Processes a delivery. A handler that panics gets its delivery requeued (the quorum
/// queue's delivery limit dead-letters it if it keeps doing so) instead of holding it;
/// one that cannot be settled (its publish was refused, returned or not confirmed in
/// time) is requeued. The session ends only when the publishing connection is gone:
/// a nack, a return or a blocked broker leaves it usable, and a new session would send
/// every delivery it holds back to the queue, each a step towards its delivery limit.
async fn settle(
    delivery: Delivery,
    queue: QueueShard,
    context: &DeliveryContext,
    publisher: &Publisher,
    intake: &Intake,
    broken: &CancellationToken,
) {
    let acker = delivery.acker.clone();
    let requeue = BasicNackOptions {
        requeue: true,
        ..Default::default()
    };
    match AssertUnwindSafe(delivery::process(
        delivery, queue, context, publisher, intake,
    ))
    .catch_unwind()
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not settle a delivery; requeueing it");
            if let Err(error) = acker.nack(requeue).await {
                tracing::warn!(%error, "could not requeue; the broker redelivers on reconnect");
                broken.cancel();
            }
            if !publisher.is_open() {
                tracing::warn!("the publishing connection is gone; reconnecting");
                broken.cancel();
            }
        }
        Err(_) => {
            tracing::error!("a handler panicked; requeueing its delivery");
            if let Err(error) = acker.nack(requeue).await {
                tracing::warn!(%error, "could not requeue after a panic");
            }
        }
    }
}
