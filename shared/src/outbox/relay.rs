//! The relay loop. A session connects to Postgres, waits to become the single leader,
//! connects to RabbitMQ in confirm mode, declares the topology and then pumps batches:
//! read the unpublished tail in `seq` order, publish every row, wait for the broker's
//! confirms, stamp the confirmed rows in one statement, then sleep until a
//! notification or the poll interval. Each row's Glance notifications (when enabled)
//! are published right after its event, on the same channel, in the same batch. Any failure of either connection ends the
//! session; the loop backs off and starts a new one (lapin does not reconnect by itself,
//! and the lock and `LISTEN` must be taken again on a new Postgres session anyway).

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{Channel, Confirmation, PublisherConfirm};
use rand::Rng;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::batch::{OutboxRow, fetch_snapshot, fetch_unpublished, mark_published};
use super::leader::{LeaderSession, Wake};
use super::{RelayConfig, RelayError, bounded};
use crate::messaging::connection::{MAX_BACKOFF, connect};
use crate::notifications::{self, EventFacts, Notification, NotificationConfig, envelope};
use crate::telemetry;

/// First pause after a failed session; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// One relay process. Any number may run against one database; one leads.
pub struct Relay {
    config: RelayConfig,
    leader: watch::Sender<bool>,
}

/// Runs a relay with `config` until `shutdown` is cancelled.
pub async fn run_relay(config: RelayConfig, shutdown: CancellationToken) -> Result<(), RelayError> {
    Relay::new(config)?.run(shutdown).await
}

impl Relay {
    /// A relay with `config`; refuses a configuration that cannot work.
    pub fn new(config: RelayConfig) -> Result<Self, RelayError> {
        if config.batch_size == 0 {
            return Err(RelayError::InvalidConfig(
                "batch_size must be at least 1".into(),
            ));
        }
        let (leader, _) = watch::channel(false);
        Ok(Self { config, leader })
    }

    /// Whether this relay leads, as it changes (for metrics and tests). True from the
    /// moment the lock is held and the broker is ready until the session ends. During
    /// a network partition a stale leader may still read true for the time it takes
    /// to notice its session is gone.
    pub fn leadership(&self) -> watch::Receiver<bool> {
        self.leader.subscribe()
    }

    /// Runs sessions until `shutdown` is cancelled. A batch in flight is finished
    /// (published, confirmed and stamped) before returning. Connection failures are
    /// logged and retried with backoff, never returned.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), RelayError> {
        let mut backoff = FIRST_BACKOFF;
        loop {
            let outcome = self.session(&shutdown, &mut backoff).await;
            self.set_leader(false);
            match outcome {
                Ok(()) => return Ok(()),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "outbox relay session ended")
                }
            }
            let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(backoff + Duration::from_millis(jitter)) => {}
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn set_leader(&self, leading: bool) {
        let changed = self
            .leader
            .send_if_modified(|current| std::mem::replace(current, leading) != leading);
        if changed {
            crate::metrics::record_relay_leadership(leading);
        }
    }

    /// One Postgres session: follow until the lock is ours, then lead. Ok only on
    /// shutdown. Dropping `db` on an error closes the session, which releases the lock.
    async fn session(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), RelayError> {
        let config = &self.config;
        let connect =
            LeaderSession::connect(&config.database_url, config.lock_key, config.io_timeout);
        let Some(db) = until_shutdown(shutdown, connect).await else {
            return Ok(());
        };
        let mut db = db?;
        if !db.acquire(config.lock_retry_interval, shutdown).await? {
            return Ok(());
        }
        tracing::info!("outbox relay holds the leader lock");
        self.lead(&mut db, shutdown, backoff).await?;
        // A graceful stop hands over at once instead of when the session closes.
        if let Err(error) = db.unlock().await {
            tracing::warn!(
                %error,
                "could not release the leader lock; closing the session releases it"
            );
        }
        Ok(())
    }

    /// Leads with the lock held: connects to the broker and pumps until shutdown or a
    /// failure.
    async fn lead(
        &self,
        db: &mut LeaderSession,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), RelayError> {
        let config = &self.config;
        // Re-armed on every session, and before the first read: see `LeaderSession::listen`.
        db.listen().await?;
        let limit = config.io_timeout;
        let broker = connect(&config.amqp_url, &config.connection_name);
        let Some(broker) =
            until_shutdown(shutdown, bounded(limit, "connecting to RabbitMQ", broker)).await
        else {
            return Ok(());
        };
        let broker = broker?;
        let channel = bounded(limit, "opening a channel", broker.create_channel()).await?;
        let confirm = channel.confirm_select(ConfirmSelectOptions::default());
        bounded(limit, "enabling publisher confirms", confirm).await?;
        bounded(
            limit,
            "declaring the topology",
            config.topology.declare(&channel),
        )
        .await?;
        if let Some(notifications) = &config.notifications {
            let declare = notifications.declare(&broker);
            bounded(limit, "declaring the notifications exchange", declare).await?;
        }
        self.set_leader(true);
        *backoff = FIRST_BACKOFF;
        let outcome = self.pump(db, &channel, shutdown).await;
        // Best effort: on a broken connection there is nothing left to close.
        let close = broker.close(200, "outbox relay stopping".into());
        if let Err(error) = bounded(Duration::from_secs(5), "closing the connection", close).await {
            tracing::debug!(%error, "closing the RabbitMQ connection");
        }
        outcome
    }

    /// Publishes batches until shutdown (Ok) or a failure (Err).
    async fn pump(
        &self,
        db: &mut LeaderSession,
        channel: &Channel,
        shutdown: &CancellationToken,
    ) -> Result<(), RelayError> {
        let config = &self.config;
        let limit = db.io_timeout();
        loop {
            // Notifications received so far announce commits this read will see.
            db.drain_notifications()?;
            let read = fetch_unpublished(db.conn(), config.batch_size);
            let rows = bounded(limit, "reading the outbox", read).await?;
            // The read already has the oldest unpublished row: the lag costs no query.
            crate::metrics::record_outbox_lag(rows.first().map(|r| r.occurred_at), Utc::now());
            let full = rows.len() >= config.batch_size as usize;
            let mut progress = false;
            if !rows.is_empty() {
                let notifications = self.notifications(db, &rows).await?;
                let confirmed = self.publish(channel, &rows, &notifications).await?;
                // Marked only now that the broker confirmed: a crash before this line
                // publishes the batch again (at least once), never loses it.
                let mark = mark_published(db.conn(), &confirmed);
                let stamped = bounded(limit, "stamping published events", mark).await?;
                tracing::debug!(read = rows.len(), stamped, "outbox batch published");
                progress = !confirmed.is_empty();
            }
            if shutdown.is_cancelled() {
                return Ok(());
            }
            // A full batch that moved suggests more is waiting; a full batch that could
            // not move (rows left unpublished) must not spin.
            if full && progress {
                continue;
            }
            if db.wait(config.poll_interval, shutdown).await? == Wake::Shutdown {
                return Ok(());
            }
        }
    }

    /// The Glance notifications of each row (empty lists when they are off). A
    /// membership change reads the aggregate's previous snapshot to name the member.
    async fn notifications(
        &self,
        db: &mut LeaderSession,
        rows: &[OutboxRow],
    ) -> Result<Vec<Vec<Notification>>, RelayError> {
        let mut all = Vec::with_capacity(rows.len());
        if self.config.notifications.is_none() {
            all.resize_with(rows.len(), Vec::new);
            return Ok(all);
        }
        for row in rows {
            let mut previous = None;
            if notifications::needs_previous(&row.event_type) {
                let limit = db.io_timeout();
                let read = fetch_snapshot(db.conn(), row.aggregate_id, row.version - 1);
                previous = bounded(limit, "reading a previous snapshot", read).await?;
            }
            let facts = EventFacts {
                event_type: &row.event_type,
                snapshot: &row.snapshot,
                previous: previous.as_ref(),
            };
            // An event that cannot be mapped never will be: retrying would block the
            // aggregate's events for good over a notification, so it goes without.
            all.push(notifications::notifications(facts).unwrap_or_else(|error| {
                tracing::error!(
                    seq = row.seq,
                    event_id = %row.event_id,
                    %error,
                    "no Glance notification for this event"
                );
                Vec::new()
            }));
        }
        Ok(all)
    }

    /// Publishes `rows` in order, each followed by its `notifications`, and waits for
    /// all their confirms. Returns the `seq` of the rows that may be stamped: the event
    /// and every one of its notifications confirmed, and no earlier row of the same
    /// aggregate in this batch left unconfirmed (stamping a later version while an
    /// earlier one is retried would let the retry overtake it for good).
    ///
    /// Why a row waits for its notifications' confirms too: the stamp is the only
    /// record of what was sent. Stamping on the event's confirm alone would lose a
    /// notification the broker nacked, or that was in flight when the relay died; not
    /// stamping publishes event and notifications again (at least once for both:
    /// listeners see a duplicate with the same `message_id`, subscribers the same
    /// `event_id`).
    async fn publish(
        &self,
        channel: &Channel,
        rows: &[OutboxRow],
        notifications: &[Vec<Notification>],
    ) -> Result<Vec<i64>, RelayError> {
        let config = &self.config;
        let exchange = config.topology.events_exchange();
        let mut pending = Vec::with_capacity(rows.len());
        for (row, notes) in rows.iter().zip(notifications) {
            let span = publish_span(row);
            let Some(body) = encode(row) else {
                pending.push((row, span, None));
                continue;
            };
            // The publish is a span of the trace that wrote the event: the header names
            // it as the parent of whatever the subscriber does next.
            let trace = telemetry::continue_trace(&span, row.trace());
            let publish = channel.basic_publish(
                exchange.as_str().into(),
                row.routing_key.as_str().into(),
                BasicPublishOptions::default(),
                &body,
                row.properties(Some(&trace)),
            );
            let confirm = bounded(config.io_timeout, "publishing an event", publish)
                .instrument(span.clone())
                .await?;
            let mut confirms = vec![confirm];
            if let Some(target) = &config.notifications {
                for note in notes {
                    let notify = self.notify(channel, target, row, note);
                    confirms.extend(notify.instrument(span.clone()).await?);
                }
            }
            pending.push((row, span, Some(confirms)));
        }
        // One deadline for the whole batch: the broker confirms in batches too.
        let deadline = tokio::time::Instant::now() + config.io_timeout;
        let mut blocked = HashSet::new();
        let mut confirmed = Vec::with_capacity(pending.len());
        for (row, span, confirms) in pending {
            let mut acked = confirms.is_some();
            for confirm in confirms.into_iter().flatten() {
                match tokio::time::timeout_at(deadline, confirm).await {
                    Err(_) => return Err(RelayError::Timeout("waiting for publisher confirms")),
                    Ok(result) => match result? {
                        Confirmation::Ack(_) => {}
                        Confirmation::Nack(_) => {
                            tracing::warn!(
                                parent: &span,
                                seq = row.seq,
                                "broker nacked an event or its notification; both will be \
                                 published again"
                            );
                            acked = false;
                        }
                        Confirmation::NotRequested => return Err(RelayError::NotConfirming),
                    },
                }
            }
            if acked && !blocked.contains(&row.aggregate_id) {
                tracing::debug!(parent: &span, seq = row.seq, "event published");
                confirmed.push(row.seq);
            } else {
                blocked.insert(row.aggregate_id);
            }
        }
        Ok(confirmed)
    }
}

impl Relay {
    /// Publishes one notification of `row`; None (logged) if it does not serialise,
    /// which a JSON value never fails to.
    async fn notify(
        &self,
        channel: &Channel,
        target: &NotificationConfig,
        row: &OutboxRow,
        note: &Notification,
    ) -> Result<Option<PublisherConfirm>, RelayError> {
        let message_id = envelope::message_id(row.event_id, note.event_type);
        let body = match envelope::body(target, note, message_id, &row.occurred_at) {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(seq = row.seq, %error, "a notification does not serialise");
                return Ok(None);
            }
        };
        let publish = channel.basic_publish(
            target.exchange.as_str().into(),
            envelope::routing_key(target, note.priority).into(),
            BasicPublishOptions::default(),
            &body,
            envelope::properties(message_id),
        );
        let limit = self.config.io_timeout;
        Ok(Some(
            bounded(limit, "publishing a notification", publish).await?,
        ))
    }
}

/// The JSON body of `row`, or None (logged) for a row that cannot be published: it
/// stays unpublished, and blocks its aggregate's later events, until an operator
/// repairs it.
fn encode(row: &OutboxRow) -> Option<Vec<u8>> {
    match row.body() {
        Ok(body) => Some(body),
        Err(error) => {
            tracing::error!(
                seq = row.seq,
                event_id = %row.event_id,
                %error,
                "outbox row does not decode; left unpublished"
            );
            None
        }
    }
}

/// The span of publishing one event: its log lines show the event, the request it
/// came from and its trace.
fn publish_span(row: &OutboxRow) -> tracing::Span {
    tracing::info_span!(
        "publish",
        event.id = %row.event_id,
        event.r#type = %row.event_type,
        correlation.id = row.correlation_id.as_deref().unwrap_or(""),
        trace.id = tracing::field::Empty,
    )
}

/// `future`'s output, or None if `shutdown` is cancelled first.
async fn until_shutdown<T>(
    shutdown: &CancellationToken,
    future: impl Future<Output = T>,
) -> Option<T> {
    tokio::select! {
        () = shutdown.cancelled() => None,
        output = future => Some(output),
    }
}
