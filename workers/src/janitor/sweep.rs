//! The one shape of the janitor's row sweeps ([`leases`](super::leases),
//! [`expiry`](super::expiry), [`scrubber`](super::scrubber)): read one batch of due
//! rows (one query, within [`Janitor::bound`]), then act on each row in turn (one
//! command, see [`send`](super::command::send)), counting what was done and what was
//! skipped, and stop between rows once shutdown is asked for.

use db::DbError;
use db::pool::PgPooled;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, Sent, read};
use super::{Janitor, Tally};

/// One kind of row the janitor sweeps: which rows are due and what is done to each.
pub(super) trait Sweep {
    /// A due row, as the query reads it.
    type Row;

    /// Names the query in its timeout's error.
    const READING: &'static str;

    /// The tally's count of the rows this sweep acted on.
    fn done(tally: &mut Tally) -> &mut usize;

    /// At most `limit` due rows.
    async fn due(
        janitor: &Janitor,
        conn: &mut PgPooled,
        limit: i64,
    ) -> Result<Vec<Self::Row>, DbError>;

    /// Acts on one row: how its command went, or None when the row was left alone.
    async fn act(janitor: &Janitor, row: &Self::Row) -> Result<Option<Sent>, JanitorError>;
}

/// Sweeps one batch of at most `limit` rows of kind `S`.
pub(super) async fn sweep<S: Sweep>(
    janitor: &Janitor,
    limit: i64,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    let due = read(janitor, S::READING, async |conn| {
        S::due(janitor, conn, limit).await
    })
    .await?;
    for row in due {
        if shutdown.is_cancelled() {
            break;
        }
        if let Some(sent) = S::act(janitor, &row).await? {
            tally.count(sent, S::done);
        }
    }
    Ok(())
}
