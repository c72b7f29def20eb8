//! One janitor round: the three sweeps in a fixed order, each reading one batch and
//! sending one command per row ([`sweep`](super::sweep)), then the pruning of old
//! command records and the aborting of abandoned multipart uploads ([`super::uploads`],
//! S3 stores only). Leases come first: they block users (an image stuck in saving
//! cannot be uploaded again), while expiry, scrubbing and pruning only reclaim space.
//!
//! The round's commands and reads run on pooled connections, leaving the lock session
//! idle, and the server ends a leader session idle for its idle timeout, which
//! releases the lock to a follower. So the round proves the lock between sweeps (and
//! [`retention`] between batches), and every heartbeat while a sweep runs; once it
//! cannot, the round ends: two janitors must not sweep at once.

use std::time::Duration;

use db::leader::LeaderSession;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, Sent};
use super::expiry::Expiry;
use super::leases::Leases;
use super::scrubber::Scrubber;
use super::sweep::sweep;
use super::{Janitor, retention, uploads};

/// What a round did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Images whose stale lease was given back (queued, partial data removed).
    pub leases_reclaimed: usize,
    /// Tasks expired.
    pub tasks_expired: usize,
    /// pending_delete images purged.
    pub images_purged: usize,
    /// Rows whose command was refused because they moved on since they were read.
    pub skipped: usize,
    /// `processed_commands` rows past their retention deleted.
    pub records_pruned: usize,
    /// Abandoned multipart uploads aborted (S3 stores).
    pub uploads_aborted: usize,
}

impl Tally {
    /// Whether the round found nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == Tally::default()
    }

    /// Counts one command's outcome into `done` or `skipped`.
    pub(super) fn count(&mut self, sent: Sent, done: fn(&mut Tally) -> &mut usize) {
        match sent {
            Sent::Applied => *done(self) += 1,
            Sent::Skipped => self.skipped += 1,
        }
    }
}

/// Runs the sweeps in order; a transient failure ends the round (the rows stay due, so
/// the next round finds them again), and so does a lock `leader` no longer holds.
/// Stops between rows once `shutdown` is cancelled.
pub(super) async fn run(
    janitor: &Janitor,
    leader: &mut LeaderSession,
    batch_size: i64,
    retention: Duration,
    multipart_grace: Duration,
    shutdown: &CancellationToken,
) -> Result<Tally, JanitorError> {
    let mut tally = Tally::default();
    let batch = sweep::<Leases>(janitor, batch_size, shutdown, &mut tally);
    leader.while_working(batch).await?;
    leader.prove().await?;
    let batch = sweep::<Expiry>(janitor, batch_size, shutdown, &mut tally);
    leader.while_working(batch).await?;
    leader.prove().await?;
    let batch = sweep::<Scrubber>(janitor, batch_size, shutdown, &mut tally);
    leader.while_working(batch).await?;
    leader.prove().await?;
    retention::sweep(janitor, leader, retention, shutdown, &mut tally).await?;
    leader.prove().await?;
    let aborts = uploads::sweep(janitor, multipart_grace, shutdown, &mut tally);
    leader.while_working(aborts).await?;
    Ok(tally)
}
