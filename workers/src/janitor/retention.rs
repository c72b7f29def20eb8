//! Retention of `processed_commands`: a command's record answers its redeliveries and
//! replays, which arrive within minutes (retry queues, redelivery after a crash) or
//! days (`imagefleet dlq replay`); past `retention` (IMAGEFLEET_PROCESSED_RETENTION, 7
//! days by default) it goes, so the table grows with the traffic of one retention
//! period, not forever. A command delivered again after that is treated as new.
//! Deletes run in batches of [`PRUNE_BATCH`] rows, at most [`MAX_BATCHES`] per round,
//! so a backlog (a first run on a large table) drains over rounds in short statements.

use std::time::Duration;

use apply::sweep;
use db::leader::LeaderSession;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, read};
use super::{Janitor, Tally};

/// How long a command's record is kept by default: 7 days.
pub const DEFAULT_PROCESSED_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// Rows deleted per statement.
pub const PRUNE_BATCH: i64 = 1000;

/// Statements per round: a round deletes at most `PRUNE_BATCH * MAX_BATCHES` rows.
pub const MAX_BATCHES: usize = 100;

/// Deletes the records older than `retention`, batch by batch, until one comes back
/// short, [`MAX_BATCHES`] ran, or `shutdown` is cancelled; ends early (Err) once
/// `leader` no longer holds the janitor's lock.
pub(super) async fn sweep(
    janitor: &Janitor,
    leader: &mut LeaderSession,
    retention: Duration,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    for _ in 0..MAX_BATCHES {
        if shutdown.is_cancelled() {
            break;
        }
        let prune = read(janitor, "pruning command records", async |conn| {
            sweep::prune_processed(conn, retention, PRUNE_BATCH).await
        });
        let deleted = leader.while_working(prune).await?;
        tally.records_pruned += deleted;
        if deleted < PRUNE_BATCH as usize {
            break;
        }
        // Up to a hundred statements on pooled connections: the lock is proved
        // between them, and the round ends if it is gone.
        leader.prove().await?;
    }
    Ok(())
}
