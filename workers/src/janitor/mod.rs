//! The janitor: the fleet's periodic housekeeping, run by exactly one worker at a time.
//! Every worker runs a candidate; the one holding a Postgres advisory lock (a
//! [`LeaderSession`](db::leader::LeaderSession) as the outbox relay's, with a key of its
//! own, see [`leadership`]) runs a round every `interval` ([`round`]):
//!
//! - [`leases`]: images whose upload, stage or import lease ran out (the gateway or
//!   worker holding them died) go back to queued, their partial data removed.
//! - [`expiry`]: finished tasks past `expires_at` are expired (Glance's task purge).
//! - [`scrubber`]: pending_delete images past `scrub_time` are purged (delayed delete);
//!   the `image.deleted` event's job then removes their data.
//! - [`retention`]: `processed_commands` rows older than the retention are deleted in
//!   bounded batches.
//! - [`uploads`]: multipart uploads of an S3 store abandoned by a killed process are
//!   aborted after a grace period.
//!
//! Each of the first three is one query of at most a batch of rows and one command per
//! row ([`sweep`]), sent as the service through the repository (see [`command`]). A command the domain refuses
//! (the row moved on since it was read) is skipped; a transient failure ends the round
//! and the next round tries again. Nothing here panics on data.

mod command;
mod expiry;
mod leadership;
mod leases;
pub mod retention;
mod round;
mod scrubber;
mod sweep;
pub mod uploads;

use std::time::Duration;

use apply::Repository;
use store::Stores;
use tokio_util::sync::CancellationToken;

pub use command::JanitorError;
pub use leases::{IMPORT_LEASE_EXPIRED, LEASE_EXPIRED};
pub use round::Tally;

use leadership::Leadership;

/// Settings of one janitor candidate. [`JanitorConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct JanitorConfig {
    /// Postgres URL for the dedicated lock session (never a pooled connection: the lock
    /// belongs to the session and must not go back to a pool with it).
    pub database_url: String,
    /// Time between rounds; also how often a follower tries the lock, so a follower
    /// takes over within about one interval of the leader's session ending.
    pub interval: Duration,
    /// Most rows of each kind handled per round.
    pub batch_size: i64,
    /// The advisory lock key; janitors of one deployment must agree on it.
    pub lock_key: i64,
    /// Bounds every statement on the lock session.
    pub io_timeout: Duration,
    /// How long a command's record is kept (its redeliveries answered from it).
    pub processed_retention: Duration,
    /// How long a multipart upload may run before it is aborted as abandoned.
    pub multipart_grace: Duration,
}

impl JanitorConfig {
    /// Defaults: batches of 100, the [`JANITOR_LOCK_KEY`](db::leader::JANITOR_LOCK_KEY), a 30 s I/O timeout, records
    /// kept [`retention::DEFAULT_PROCESSED_RETENTION`], uploads aborted after
    /// [`uploads::DEFAULT_MULTIPART_GRACE`].
    pub fn new(database_url: impl Into<String>, interval: Duration) -> Self {
        Self {
            database_url: database_url.into(),
            interval,
            batch_size: 100,
            lock_key: db::leader::JANITOR_LOCK_KEY,
            io_timeout: Duration::from_secs(30),
            processed_retention: retention::DEFAULT_PROCESSED_RETENTION,
            multipart_grace: uploads::DEFAULT_MULTIPART_GRACE,
        }
    }
}

/// What a round works with: the worker's repository (commands and reads) and store.
#[derive(Clone)]
pub struct Janitor {
    /// Applies the janitor's commands and runs its reads (pooled connections).
    pub repository: Repository,
    /// Where partial data of stale uploads and stages is removed.
    pub stores: Stores,
    /// Longest one command or read may take, the wait for a pooled connection
    /// included (`SessionSettings::transaction_bound`).
    pub bound: Duration,
}

/// Runs a janitor candidate until `shutdown` is cancelled: tries the lock (or, holding
/// it, checks it is still held) each interval, or each heartbeat of its lock session if
/// that is sooner (the server ends a leader session idle for longer, see
/// [`LeaderSession`](db::leader::LeaderSession)), and while it holds the
/// lock runs a round each interval, proving the lock all through it (see [`round`]).
/// Failures are logged and retried next time, never returned.
pub async fn run_janitor(config: JanitorConfig, janitor: Janitor, shutdown: CancellationToken) {
    let mut leadership = Leadership::new(&config);
    let mut last_round: Option<tokio::time::Instant> = None;
    loop {
        if !leadership.lead(&shutdown).await {
            last_round = None;
        } else if last_round.is_none_or(|at| at.elapsed() >= config.interval)
            && let Some(leader) = leadership.session()
        {
            last_round = Some(tokio::time::Instant::now());
            let round = round::run(
                &janitor,
                leader,
                config.batch_size,
                config.processed_retention,
                config.multipart_grace,
                &shutdown,
            );
            match round.await {
                Ok(tally) if tally.is_empty() => tracing::trace!("janitor round: nothing due"),
                Ok(tally) => tracing::info!(?tally, "janitor round done"),
                Err(error) => {
                    tracing::warn!(%error, "janitor round ended early; retried next round")
                }
            }
        }
        // The lock session's own heartbeat: the idle timeout it was opened with.
        let pause = leadership
            .heartbeat()
            .map_or(config.interval, |beat| beat.min(config.interval));
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
    leadership.release().await;
}
