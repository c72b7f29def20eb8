//! The outbox relay: moves the events that accepted commands wrote to the `events` table
//! (the transactional outbox) onto the events exchange. One relay of the fleet leads at a
//! time, holding a session-level Postgres advisory lock; it wakes on `LISTEN/NOTIFY`
//! with a poll as fallback, publishes each batch in seq order in confirm mode and marks
//! the rows published only after the broker confirmed them. Delivery is at least once:
//! a relay that dies between the broker's confirm and the marking leaves the rows to
//! its successor, which publishes them again (subscribers drop duplicates by
//! `event_id`). Glance notifications (see [`notifications`]) ride in the same
//! batches under the same rule: a row is marked only once its event and all its
//! notifications are confirmed.
//!
//!
//! Order and liveness: an aggregate's version n+1 is never published before the
//! broker confirmed version n. A row whose publish fails (nacked, or it does not
//! encode) holds its aggregate back and is tried again after a delay that doubles with
//! each failure; after [`RelayConfig::max_publish_attempts`] failures (at once for a
//! row that does not encode) it is quarantined until an operator releases it
//! (`imagefleet outbox retry`). Every other aggregate keeps flowing. A nack also ends
//! the relay's broker session: the next one publishes on a fresh connection and
//! channel (to the next node of the list if need be), because after a quorum queue's
//! leader moves the broker may go on nacking on the old channel.
//!
//! - [`batch`]: reading the rows that may go out, turning them into envelopes, marking them.
//! - [`publish`]: publishing a batch in waves, one row per aggregate per wave.
//! - [`quarantine`]: failed publishes, quarantine and release, the outbox's health.
//! - [`gauges`]: the leader's gauges of that health.
//! - [`relay`]: the loop that ties them to the broker, with reconnects and shutdown.

pub mod batch;
pub mod gauges;
pub mod publish;
pub mod quarantine;
pub mod relay;

use std::time::Duration;

pub use relay::{Relay, run_relay};

use bus::Topology;
use db::leader::{LeaderError, OUTBOX_LOCK_KEY};
use notifications::NotificationConfig;

/// Settings of one relay. [`RelayConfig::new`] fills in the defaults; tests change
/// fields directly.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Postgres URL. The relay opens one dedicated connection (not a pooled one): the
    /// advisory lock and `LISTEN` belong to a session and must stay with it.
    pub database_url: String,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Where the events exchange is; declared (idempotently) on every connect.
    pub topology: Topology,
    /// Most rows read and published per batch.
    pub batch_size: u32,
    /// Longest sleep without a notification before the table is read anyway (covers a
    /// notification lost while the session was being re-established).
    pub poll_interval: Duration,
    /// How often a follower tries to take the lock.
    pub lock_retry_interval: Duration,
    /// The advisory lock key; relays of one deployment must agree on it.
    pub lock_key: i64,
    /// Bounds every database statement and every wait for a batch of confirms; a
    /// session that exceeds it is considered lost (half-open TCP, stuck broker).
    pub io_timeout: Duration,
    /// Name of the AMQP connection, shown in the broker's management UI.
    pub connection_name: String,
    /// Where Glance notifications go, published with each event's batch; None sends
    /// none. Tests point it at an exchange of their own.
    pub notifications: Option<NotificationConfig>,
    /// Failed publishes (broker nacks) after which a row is quarantined; at least 1.
    /// With the growing delay below, the default spans about ten minutes, so a node
    /// failover (tens of seconds of nacks) never quarantines a row.
    pub max_publish_attempts: u32,
    /// How long a row whose publish failed waits (and its aggregate with it) before
    /// the next attempt; doubled for each failure on record.
    pub retry_delay: Duration,
    /// The longest wait between two attempts, however many failed.
    pub max_retry_delay: Duration,
}

impl RelayConfig {
    /// Defaults: batches of 256, a 1 s poll fallback, a 1 s lock retry, 30 s I/O
    /// timeout, Glance notifications on Glance's exchange (`glance`), quarantine after
    /// 8 failed publishes, waiting 5 s, 10 s, 20 s ... (at most 5 min) between them:
    /// the 8th failure comes no sooner than about 10 min after the first.
    pub fn new(
        database_url: impl Into<String>,
        amqp_url: impl Into<String>,
        topology: Topology,
    ) -> Self {
        Self {
            database_url: database_url.into(),
            amqp_url: amqp_url.into(),
            topology,
            batch_size: 256,
            poll_interval: Duration::from_secs(1),
            lock_retry_interval: Duration::from_secs(1),
            lock_key: OUTBOX_LOCK_KEY,
            io_timeout: Duration::from_secs(30),
            connection_name: "imagefleet-outbox-relay".to_owned(),
            notifications: Some(NotificationConfig::default()),
            max_publish_attempts: 8,
            retry_delay: Duration::from_secs(5),
            max_retry_delay: Duration::from_secs(300),
        }
    }
}

/// Why a relay session ended. All of these are retryable from the relay's point of
/// view: [`Relay::run`] logs them, backs off and starts a new session. Only
/// [`RelayError::InvalidConfig`] and an unusable database URL
/// ([`LeaderError::InvalidUrl`]) are returned to the caller.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The configuration cannot work (e.g. a batch size of zero).
    #[error("invalid relay configuration: {0}")]
    InvalidConfig(String),
    /// The leader's session failed: it could not be opened, a statement on it failed,
    /// or it ended.
    #[error(transparent)]
    Leader(#[from] LeaderError),
    /// An outbox statement on the leader's session failed (the session may be gone).
    #[error("outbox query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// Connecting, declaring, publishing or confirming on RabbitMQ failed.
    #[error("RabbitMQ failed: {0}")]
    Broker(#[from] lapin::Error),
    /// The broker answered a publish without a confirm: the channel is not in confirm
    /// mode, so nothing could ever be stamped.
    #[error("the channel is not in confirm mode")]
    NotConfirming,
    /// The broker nacked a publish: the session ends so the next one publishes on a
    /// fresh connection and channel. The rows stay unpublished, in order.
    #[error("the broker nacked {0} publish(es); reconnecting")]
    Nacked(usize),
    /// An operation took longer than [`RelayConfig::io_timeout`].
    #[error("timed out while {0}")]
    Timeout(&'static str),
}

impl RelayError {
    /// False for errors a new session cannot fix.
    pub fn is_retryable(&self) -> bool {
        !matches!(
            self,
            RelayError::InvalidConfig(_) | RelayError::Leader(LeaderError::InvalidUrl(_))
        )
    }
}

/// Runs `future` under `limit`, turning the elapsed case into [`RelayError::Timeout`].
pub(crate) async fn bounded<T, E>(
    limit: Duration,
    what: &'static str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, RelayError>
where
    RelayError: From<E>,
{
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(RelayError::from),
        Err(_) => Err(RelayError::Timeout(what)),
    }
}
