//! The leading relay's gauges of the outbox's health: quarantined rows and the age of
//! the oldest unpublished row (held back or not). Read with one statement at most
//! once per poll interval, and at once after a batch recorded failures, so the
//! relay's batches stay one read and one stamp.

use std::time::Duration;

use tokio::time::Instant;

use super::quarantine::stats;
use super::{RelayError, bounded};
use db::leader::LeaderSession;

/// When the gauges were last read.
#[derive(Debug, Default)]
pub struct Gauges {
    refreshed: Option<Instant>,
}

impl Gauges {
    /// Reads them again at the next [`Gauges::refresh`], whatever the interval.
    pub fn stale(&mut self) {
        self.refreshed = None;
    }

    /// Reads the stats and sets the gauges if `interval` passed since the last read.
    pub async fn refresh(
        &mut self,
        db: &mut LeaderSession,
        interval: Duration,
    ) -> Result<(), RelayError> {
        if self.refreshed.is_some_and(|at| at.elapsed() < interval) {
            return Ok(());
        }
        let limit = db.io_timeout();
        let read = bounded(limit, "reading the outbox's health", stats(db.conn())).await?;
        shared::metrics::record_outbox_health(read.quarantined, read.oldest_unpublished_age);
        self.refreshed = Some(Instant::now());
        Ok(())
    }
}
