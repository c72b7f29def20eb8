//! A consumer of one work queue: connects (and reconnects with backoff, re-declaring the
//! topology), consumes with `basic_qos(prefetch)`, and processes deliveries concurrently
//! up to a bound. On shutdown it stops consuming, lets in-flight deliveries finish and
//! ack, and closes cleanly; prefetched deliveries it never started go back to the queue.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::{FutureExt, StreamExt};
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Connection, message::Delivery};
use shared::messaging::connection::{connect_with_backoff, login_of};
use shared::messaging::intake::{Intake, IntakePolicy};
use shared::messaging::{Topology, WorkQueue};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::delivery;
use crate::handlers::HandlerContext;
use crate::publisher::Publisher;

/// What one consumer needs to know.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Names of exchanges and queues.
    pub topology: Topology,
    /// The queue to consume.
    pub queue: WorkQueue,
    /// Deliveries the broker sends ahead of acks.
    pub prefetch: u16,
    /// Deliveries processed at once.
    pub concurrency: usize,
    /// Connection name shown by the broker.
    pub name: String,
    /// What deliveries are admitted, and from whom.
    pub intake: IntakePolicy,
}

/// Consumes until `shutdown` is cancelled, reconnecting whenever the connection drops.
pub async fn run_consumer(
    config: ConsumerConfig,
    handlers: HandlerContext,
    shutdown: CancellationToken,
) {
    // The worker's own user is trusted as an operator: its retries come back signed so.
    let intake = Arc::new(config.intake.resolve(&login_of(&config.amqp_url)));
    while let Some(connection) =
        connect_with_backoff(&config.amqp_url, &config.name, &shutdown).await
    {
        match consume(&connection, &config, &handlers, &intake, &shutdown).await {
            Ok(()) => {
                if let Err(error) = connection.close(200, "shutting down".into()).await {
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

/// Pause between a failed consumer session and the next.
const SESSION_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

async fn consume(
    connection: &Connection,
    config: &ConsumerConfig,
    handlers: &HandlerContext,
    intake: &Arc<Intake>,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let channel = connection.create_channel().await?;
    config.topology.declare(&channel).await?;
    channel
        .basic_qos(config.prefetch, BasicQosOptions::default())
        .await?;
    let publisher = Publisher::new(
        connection.create_channel().await?,
        config.topology.clone(),
        Arc::clone(intake),
    )
    .await?;
    let queue = config.topology.queue(config.queue);
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            config.name.clone().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = ?config.queue, prefetch = config.prefetch, concurrency = config.concurrency, "consuming");
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut in_flight = JoinSet::new();
    // Cancelled when a delivery could not be settled: the publishing channel is broken,
    // so this session ends and a new one starts on a fresh connection.
    let broken = CancellationToken::new();
    let result = loop {
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
            next = consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                let (handlers, publisher, queue, broken, intake) = (
                    handlers.clone(),
                    publisher.clone(),
                    config.queue,
                    broken.clone(),
                    Arc::clone(intake),
                );
                in_flight.spawn(async move {
                    settle(delivery, queue, &handlers, &publisher, &intake, &broken).await;
                    drop(permit);
                });
            }
            Some(Err(error)) => break Err(error),
            None => {
                break Err(lapin::ErrorKind::InvalidConnectionState(
                    lapin::ConnectionState::Closed,
                )
                .into());
            }
        }
        while in_flight.try_join_next().is_some() {}
    };
    if result.is_ok() {
        // Stop the flow first; deliveries already prefetched but not started are
        // requeued by the broker when the channel closes.
        channel
            .basic_cancel(consumer.tag(), BasicCancelOptions::default())
            .await?;
    }
    while in_flight.join_next().await.is_some() {}
    if result.is_ok() {
        // Close both channels before the connection: lapin reports a channel it finds
        // still open at connection close as a connection error.
        channel.close(200, "shutting down".into()).await?;
        publisher.close().await?;
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
/// one that cannot be settled (the broker refused the reply or re-publish) is requeued
/// and ends the session, so the worker reconnects instead of silently holding deliveries.
async fn settle(
    delivery: Delivery,
    queue: WorkQueue,
    handlers: &HandlerContext,
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
        delivery, queue, handlers, publisher, intake,
    ))
    .catch_unwind()
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not settle a delivery; requeueing it and reconnecting");
            if let Err(error) = acker.nack(requeue).await {
                tracing::warn!(%error, "could not requeue; the broker redelivers on reconnect");
            }
            broken.cancel();
        }
        Err(_) => {
            tracing::error!("a handler panicked; requeueing its delivery");
            if let Err(error) = acker.nack(requeue).await {
                tracing::warn!(%error, "could not requeue after a panic");
            }
        }
    }
}
