//! Sending one janitor command as the service, and sorting the answer: applied,
//! refused by the domain (the row moved on: skip it), or a failure that ends the round.
//! Every wait on the database, the pool's included, is bounded by [`Janitor::bound`],
//! so a database that stopped answering ends the round instead of parking it.
//! Command ids are derived (see [`crate::derived_command`]) from the row's id, its
//! version when read and what the janitor does to it, so two janitors that briefly
//! overlap (a leader whose session is being replaced) send the same command and it
//! applies once.

use apply::ApplyError;
use db::DbError;
use db::leader::LeaderError;
use db::pool::PgPooled;
use domain::{Actor, Command};
use store::StoreError;
use uuid::Uuid;

use super::Janitor;
use crate::derived_command::derived_command;

/// Names the janitor's command ids.
const JANITOR_NAMESPACE: Uuid = Uuid::from_u128(0x7d1c_9a4e_2b6f_4c83_9e05_a8f3_16d2_c470);

/// Correlation id of the janitor's commands and their events.
const CORRELATION_ID: &str = "janitor";

/// Why a round ended before its end.
#[derive(Debug, thiserror::Error)]
pub enum JanitorError {
    /// A read failed or no pooled connection was available.
    #[error("janitor read failed: {0}")]
    Database(#[from] DbError),
    /// Applying a command failed for a reason other than the domain's refusal.
    #[error("janitor command failed: {0}")]
    Apply(ApplyError),
    /// The image store failed to remove data.
    #[error("janitor could not remove data: {0}")]
    Store(#[from] StoreError),
    /// The lock session failed.
    #[error("janitor lock session: {0}")]
    Leader(#[from] LeaderError),
}

/// How one command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sent {
    /// Applied now, or by an overlapping janitor with the same command id before.
    Applied,
    /// Refused, or the row kept changing under it: it moved on, nothing to do.
    Skipped,
}

/// Applies `command` as the service under an id derived from `name` (what is done to
/// which row at which version).
pub(super) async fn send(
    janitor: &Janitor,
    name: &str,
    command: Command,
) -> Result<Sent, JanitorError> {
    let command_type = command.type_name();
    let envelope = derived_command(
        &JANITOR_NAMESPACE,
        name,
        Actor::service(),
        command,
        CORRELATION_ID,
    );
    match janitor
        .repository
        .apply_within(&envelope, janitor.bound)
        .await
    {
        Ok(_) => Ok(Sent::Applied),
        Err(ApplyError::Rejected(rejection)) => {
            tracing::debug!(command = command_type, name, %rejection, "janitor command refused; the row moved on");
            Ok(Sent::Skipped)
        }
        // Only this row is busy (users are changing it): leave it to the next round
        // rather than holding up the rest of the batch.
        Err(ApplyError::Contended { .. }) => {
            tracing::debug!(
                command = command_type,
                name,
                "janitor command contended; next round"
            );
            Ok(Sent::Skipped)
        }
        Err(error) => Err(JanitorError::Apply(error)),
    }
}

/// Runs `query` on a pooled connection within [`Janitor::bound`], the wait for the
/// connection included; `what` names it in the timeout's error.
pub(super) async fn read<T>(
    janitor: &Janitor,
    what: &'static str,
    query: impl AsyncFnOnce(&mut PgPooled) -> Result<T, DbError>,
) -> Result<T, JanitorError> {
    let work = async {
        // Returned to the pool at once, before the commands, which take their own.
        let mut conn = janitor
            .repository
            .pool()
            .get()
            .await
            .map_err(DbError::from)?;
        query(&mut conn).await
    };
    match tokio::time::timeout(janitor.bound, work).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(JanitorError::Database(DbError::TimedOut(what))),
    }
}
