//! The janitor's side of the leader election: a dedicated Postgres session (a
//! [`LeaderSession`], as the outbox relay leads with) that takes the janitor's advisory lock and checks, before
//! every round, that it still holds it. The lock is session-level, so a worker that dies
//! or loses its connection releases it with the session, and a follower takes it at its
//! next attempt.

use db::leader::LeaderError;
use db::leader::LeaderSession;
use tokio_util::sync::CancellationToken;

use super::JanitorConfig;

/// The lock session of one janitor candidate, opened on demand.
pub(super) struct Leadership {
    database_url: String,
    key: i64,
    io_timeout: std::time::Duration,
    session: Option<LeaderSession>,
    leading: bool,
}

impl Leadership {
    pub(super) fn new(config: &JanitorConfig) -> Self {
        Self {
            database_url: config.database_url.clone(),
            key: config.lock_key,
            io_timeout: config.io_timeout,
            session: None,
            leading: false,
        }
    }

    /// True when this candidate holds the lock now and may run a round. Errors are
    /// logged and answered false: the session is dropped (which releases the lock if
    /// it was held) and the next call starts a new one.
    pub(super) async fn lead(&mut self, shutdown: &CancellationToken) -> bool {
        let outcome = tokio::select! {
            () = shutdown.cancelled() => return false,
            outcome = self.try_lead() => outcome,
        };
        match outcome {
            Ok(leading) => leading,
            Err(error) => {
                if self.leading {
                    tracing::warn!(%error, "the janitor lost its lock session; following");
                } else {
                    tracing::debug!(%error, "janitor lock session failed");
                }
                self.session = None;
                self.leading = false;
                false
            }
        }
    }

    async fn try_lead(&mut self) -> Result<bool, LeaderError> {
        let session = match &mut self.session {
            Some(session) => session,
            None => {
                let session =
                    LeaderSession::connect(&self.database_url, self.key, self.io_timeout).await?;
                self.session.insert(session)
            }
        };
        if self.leading {
            // Asked, not taken again: a second pg_try_advisory_lock would stack a hold.
            if session.holds_lock().await? {
                return Ok(true);
            }
            tracing::warn!("the janitor's lock is no longer held; following");
            self.leading = false;
        }
        if session.try_lock().await? {
            tracing::info!("this worker's janitor holds the leader lock");
            self.leading = true;
        }
        Ok(self.leading)
    }

    /// How often the lock session must run a statement (None before it is opened).
    pub(super) fn heartbeat(&self) -> Option<std::time::Duration> {
        self.session.as_ref().and_then(LeaderSession::heartbeat)
    }

    /// The lock session while this candidate leads, for a round to prove the lock with.
    pub(super) fn session(&mut self) -> Option<&mut LeaderSession> {
        self.session.as_mut().filter(|_| self.leading)
    }

    /// Hands the lock over at once on a graceful stop, instead of when the session
    /// closes; best effort, since closing the session releases it anyway.
    pub(super) async fn release(mut self) {
        if let (true, Some(session)) = (self.leading, self.session.as_mut())
            && let Err(error) = session.unlock().await
        {
            tracing::debug!(%error, "could not release the janitor lock; the session closes");
        }
    }
}
