//! Incomplete multipart uploads of an S3 store: a gateway or worker killed mid-write
//! leaves one behind (its parts stored, invisible, billed), and nothing else would ever
//! abort it. Uploads begun more than `grace` ago (IMAGEFLEET_MULTIPART_GRACE, a day by
//! default, an hour at the least) are aborted, at most [`MAX_ABORTS`] a round in each
//! store. No write
//! outlives its data lease, so with a grace of at least the lease every upload aborted
//! here is abandoned. Other stores list none.
//!
//! Not a [`Sweep`](super::sweep::Sweep): the uploads are neither Postgres rows nor
//! decided by a command, only listed from the store and aborted there.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::command::JanitorError;
use super::{Janitor, Tally};

/// How long an upload may run before it counts as abandoned, by default: a day.
pub const DEFAULT_MULTIPART_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Most uploads aborted per round (a backlog drains over rounds).
pub const MAX_ABORTS: usize = 1000;

/// Aborts the store's incomplete uploads begun more than `grace` ago, stopping between
/// uploads once `shutdown` is cancelled.
pub(super) async fn sweep(
    janitor: &Janitor,
    grace: Duration,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    let begun_before = chrono::Utc::now()
        .checked_sub_signed(grace)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    // A store that cannot be listed, or an upload that cannot be aborted, is skipped
    // for the rest: the round reports the first failure once it has tried them all.
    let mut first_failure = None;
    for named in janitor.stores.all() {
        let abandoned = match named.store.incomplete_uploads(begun_before).await {
            Ok(abandoned) => abandoned,
            Err(error) => {
                first_failure.get_or_insert(error);
                continue;
            }
        };
        for upload in abandoned.iter().take(MAX_ABORTS) {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            match named.store.abort_upload(upload).await {
                Ok(()) => {
                    tracing::info!(store = %named.id, key = %upload.key, initiated = %upload.initiated, "aborted an abandoned multipart upload");
                    tally.uploads_aborted += 1;
                }
                Err(error) => {
                    tracing::warn!(store = %named.id, key = %upload.key, %error, "could not abort an abandoned multipart upload");
                    first_failure.get_or_insert(error);
                }
            }
        }
    }
    first_failure.map_or(Ok(()), |error| Err(error.into()))
}
