//! The relay loop. A session connects to Postgres, waits to become the single leader,
//! connects to RabbitMQ in confirm mode, declares the topology and then pumps batches:
//! read the unpublished rows that may go out, in `seq` order (one statement), publish
//! them in waves (see [`super::publish`]), stamp the confirmed rows in one statement,
//! record the failed ones (which holds their aggregates back, see
//! [`super::quarantine`]), then sleep until a notification or the poll interval. Each
//! row's Glance notifications (when enabled) are published right after its event, on
//! the same channel, in the same batch. Any failure of either connection ends the
//! session, and so does a nacked publish (once the failures are recorded); the loop
//! backs off and starts a new one (lapin does not reconnect by itself, and the lock
//! and `LISTEN` must be taken again on a new Postgres session anyway).

use std::time::Duration;

use chrono::Utc;
use lapin::Channel;
use lapin::options::ConfirmSelectOptions;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::batch::{OutboxRow, fetch_snapshot, fetch_unpublished, mark_published};
use super::gauges::Gauges;
use super::publish::publish_batch;
use super::quarantine::{Failure, record_failures};
use super::{RelayConfig, RelayError, bounded};
use bus::Backoff;
use bus::connection::connect;
use db::leader::{LeaderSession, Wake};
use notifications::{EventFacts, Notification};

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
        if config.max_publish_attempts == 0 {
            return Err(RelayError::InvalidConfig(
                "max_publish_attempts must be at least 1".into(),
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
        let mut backoff = Backoff::new();
        loop {
            let outcome = self.session(&shutdown, &mut backoff).await;
            self.set_leader(false);
            let error = match outcome {
                Ok(()) => return Ok(()),
                Err(error) if !error.is_retryable() => return Err(error),
                Err(error) => error,
            };
            let pause = backoff.next_pause();
            tracing::warn!(%error, retry_in = ?pause, "outbox relay session ended");
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    fn set_leader(&self, leading: bool) {
        let changed = self
            .leader
            .send_if_modified(|current| std::mem::replace(current, leading) != leading);
        if changed {
            shared::metrics::record_relay_leadership(leading);
        }
    }

    /// One Postgres session: follow until the lock is ours, then lead. Ok only on
    /// shutdown. Dropping `db` on an error closes the session, which releases the lock.
    async fn session(
        &self,
        shutdown: &CancellationToken,
        backoff: &mut Backoff,
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
        backoff: &mut Backoff,
    ) -> Result<(), RelayError> {
        // Re-armed on every session, and before the first read: see `LeaderSession::listen`.
        db.listen().await?;
        // Connecting and declaring are round trips to the broker, which on a slow link
        // outlast the session's idle timeout: the lock is proved meanwhile.
        let Some((broker, channel)) = db.while_working(self.open_broker(shutdown)).await? else {
            return Ok(());
        };
        self.set_leader(true);
        backoff.reset();
        let outcome = self.pump(db, &channel, shutdown).await;
        // Best effort: on a broken connection there is nothing left to close.
        let close = broker.close(200, "outbox relay stopping".into());
        if let Err(error) = bounded(Duration::from_secs(5), "closing the connection", close).await {
            tracing::debug!(%error, "closing the RabbitMQ connection");
        }
        outcome
    }

    /// Connects to the broker in confirm mode and declares the topology; None on
    /// shutdown.
    async fn open_broker(
        &self,
        shutdown: &CancellationToken,
    ) -> Result<Option<(lapin::Connection, Channel)>, RelayError> {
        let config = &self.config;
        let limit = config.io_timeout;
        let broker = connect(&config.amqp_url, &config.connection_name);
        let Some(broker) =
            until_shutdown(shutdown, bounded(limit, "connecting to RabbitMQ", broker)).await
        else {
            return Ok(None);
        };
        let broker = broker?;
        let channel = bounded(limit, "opening a channel", broker.create_channel()).await?;
        let confirm = channel.confirm_select(ConfirmSelectOptions::default());
        bounded(limit, "enabling publisher confirms", confirm).await?;
        bounded(
            limit,
            "declaring the topology",
            config.topology.declare(&broker),
        )
        .await?;
        if let Some(notifications) = &config.notifications {
            let declare = notifications.declare(&broker);
            bounded(limit, "declaring the notifications exchange", declare).await?;
        }
        Ok(Some((broker, channel)))
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
        let mut gauges = Gauges::default();
        loop {
            // Notifications received so far announce commits this read will see.
            db.drain_notifications()?;
            let read = fetch_unpublished(
                db.conn(),
                config.batch_size,
                config.retry_delay,
                config.max_retry_delay,
            );
            let rows = bounded(limit, "reading the outbox", read).await?;
            // The read already has the oldest row that can move: the lag costs no query.
            shared::metrics::record_outbox_lag(rows.first().map(|r| r.occurred_at), Utc::now());
            let full = rows.len() >= config.batch_size as usize;
            let mut progress = false;
            if !rows.is_empty() {
                let notifications = self.notifications(db, &rows).await?;
                // A batch of many waves, or slow confirms, outlasts the session's idle
                // timeout: the lock is proved meanwhile, or the server would end the
                // session mid-batch and a follower would publish the same rows.
                let publish = publish_batch(config, channel, &rows, &notifications);
                let published = db.while_working(publish).await?;
                // Marked only now that the broker confirmed: a crash before this line
                // publishes the batch again (at least once), never loses it.
                let mark = mark_published(db.conn(), &published.confirmed);
                let stamped = bounded(limit, "stamping published events", mark).await?;
                tracing::debug!(read = rows.len(), stamped, "outbox batch published");
                progress = !published.confirmed.is_empty();
                if !published.failures.is_empty() {
                    self.record(db, &published.failures).await?;
                    gauges.stale();
                }
                // Recorded first (so the row waits its delay and counts towards
                // quarantine), then the session ends: a channel that was nacked may
                // go on nacking, a fresh one may not (see `RelayError::Nacked`).
                let nacked = published.failures.iter().filter(|f| !f.permanent).count();
                if nacked > 0 {
                    return Err(RelayError::Nacked(nacked));
                }
            }
            gauges.refresh(db, config.poll_interval).await?;
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

    /// Records failed publishes (one statement) before the next read, which then holds
    /// their aggregates back.
    async fn record(&self, db: &mut LeaderSession, failures: &[Failure]) -> Result<(), RelayError> {
        let limit = db.io_timeout();
        let record = record_failures(db.conn(), failures, self.config.max_publish_attempts);
        let quarantined = bounded(limit, "recording failed publishes", record).await?;
        for seq in quarantined {
            let error = failures
                .iter()
                .find(|f| f.seq == seq)
                .map(|f| f.error.as_str());
            tracing::error!(
                seq,
                error,
                "outbox row quarantined: its aggregate's later events are held back until \
                 `imagefleet outbox retry`"
            );
        }
        Ok(())
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
