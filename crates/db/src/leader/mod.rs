//! Leadership: a dedicated Postgres session that holds a session-level advisory lock,
//! the one election mechanism of the fleet. The outbox relay leads with it (and also
//! listens on the outbox channel and runs its reads and writes on it), the janitor
//! leads with its own key, and an import job claims its task with a key derived from
//! the task id ([`claim_key`]). One connection for lock and work on purpose: the lock
//! lives exactly as long as the session, so a statement that succeeds on it proves the
//! lock is still held, and a dead session shows up as a failed statement or an ended
//! notification stream, never as a leader that goes on working after its lock was
//! released. The keys are here, beside the session, so whoever reads `pg_locks` (the
//! CLI's status) names the holders with the same constants.
//!
//! A leader whose host or network vanishes must lose the lock soon, or no follower can
//! lead. TCP alone does not see every such loss: a proxy or load balancer in between
//! that stops forwarding still acknowledges both ends, so neither side's keepalives
//! fail. So a leader session runs with `idle_session_timeout` (with
//! `idle_in_transaction_session_timeout` and `statement_timeout`, whichever state it
//! was left in): once the server hears nothing from it for that long it ends the
//! session, which releases the lock, and a follower's next attempt takes it. The
//! holder keeps the session busy more often than that (every
//! [`SessionSettings::heartbeat`](crate::SessionSettings::heartbeat): the relay's poll, the janitor's lock check, and a
//! lock check while either works, see [`LeaderSession::while_working`]), and every
//! statement it runs is bounded, so a leader cut off notices within its I/O timeout
//! and stops.

mod holders;
mod session;

use std::time::Duration;

use domain::TaskId;

pub use holders::{LockHolder, holder};
pub use session::{LeaderSession, Wake};

/// Advisory lock key ("imgfoutb") held by the leading outbox relay. Advisory locks are
/// per database, so every relay on one database competes for it.
pub const OUTBOX_LOCK_KEY: i64 = 0x696d_6766_6f75_7462;

/// Advisory lock key ("imgfjani") held by the leading janitor.
pub const JANITOR_LOCK_KEY: i64 = 0x696d_6766_6a61_6e69;

/// Salt of the keys that claim tasks ([`claim_key`]), apart from the leaders' keys.
const TASK_CLAIM_SALT: i64 = 0x7461_736b_0000_0000;

/// The channel the `events` insert trigger notifies (migration `create_events`).
pub const OUTBOX_CHANNEL: &str = "imagefleet_outbox";

/// The claim lock's key of a task: one job at a time runs a task's import.
pub fn claim_key(task_id: TaskId) -> i64 {
    let bytes = task_id.as_uuid().as_u64_pair().0;
    TASK_CLAIM_SALT ^ i64::from_ne_bytes(bytes.to_ne_bytes())
}

/// Why a leader's session failed. Every case but [`LeaderError::InvalidUrl`] ends the
/// session (and with it the lock): the holder opens a new one and competes again.
#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    /// The database URL or its session settings cannot be used.
    #[error("leader session: {0}")]
    InvalidUrl(String),
    /// The dedicated connection could not be opened.
    #[error("cannot connect to Postgres: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A statement on the dedicated connection failed (the session may be gone).
    #[error("leader session query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// The session is gone, or no longer holds its lock.
    #[error("the Postgres session ended: {0}")]
    SessionLost(String),
    /// A statement took longer than the session's I/O timeout.
    #[error("timed out while {0}")]
    Timeout(&'static str),
}

/// Runs `future` under `limit`, turning the elapsed case into [`LeaderError::Timeout`].
pub(crate) async fn bounded<T, E>(
    limit: Duration,
    what: &'static str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, LeaderError>
where
    LeaderError: From<E>,
{
    match tokio::time::timeout(limit, future).await {
        Ok(result) => result.map_err(LeaderError::from),
        Err(_) => Err(LeaderError::Timeout(what)),
    }
}
