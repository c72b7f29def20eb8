//! The leader's dedicated session: taking, proving and releasing its advisory lock,
//! keeping the session alive while its holder works, and (for the outbox relay)
//! listening on the outbox channel.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;

use super::{LeaderError, OUTBOX_CHANNEL, bounded};
use crate::SessionSettings;

/// Why [`LeaderSession::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// A transaction inserted events (or a notification was already waiting).
    Notified,
    /// The poll interval passed without a notification.
    Polled,
    /// The shutdown token was cancelled.
    Shutdown,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// A dedicated connection (never from a pool: a pooled connection would go back to the
/// pool still holding the lock and the `LISTEN`).
pub struct LeaderSession {
    conn: AsyncPgConnection,
    key: i64,
    io_timeout: Duration,
    heartbeat: Option<Duration>,
}

impl LeaderSession {
    /// Opens a leader's session (the relay's, the janitor's): the server ends it once
    /// it has been idle for the URL's idle timeout, so its holder must run a statement
    /// every [`LeaderSession::heartbeat`]. Nothing is locked yet.
    pub async fn connect(
        database_url: &str,
        key: i64,
        io_timeout: Duration,
    ) -> Result<Self, LeaderError> {
        // The URL's own timeouts (a binary puts its configured ones there) set the idle
        // timeout too: with the defaults, a configured idle timeout above 30 s would
        // give a heartbeat slower than the 10 s the server allows.
        let url = SessionSettings::from_url(database_url)
            .and_then(|settings| settings.leader_url(database_url))
            .map_err(|e| LeaderError::InvalidUrl(e.to_string()))?;
        let settings =
            SessionSettings::from_url(&url).map_err(|e| LeaderError::InvalidUrl(e.to_string()))?;
        Self::open(&url, key, io_timeout, Some(settings.heartbeat())).await
    }

    /// Opens a claim's session: a lock held while a job works elsewhere, idle for as
    /// long as the job takes, so the server does not end it for idling (it does end it
    /// on a connection that stopped answering TCP). Nothing is locked yet.
    pub async fn connect_claim(
        database_url: &str,
        key: i64,
        io_timeout: Duration,
    ) -> Result<Self, LeaderError> {
        let url = SessionSettings::from_url(database_url)
            .and_then(|settings| settings.url(database_url))
            .map_err(|e| LeaderError::InvalidUrl(e.to_string()))?;
        Self::open(&url, key, io_timeout, None).await
    }

    async fn open(
        url: &str,
        key: i64,
        io_timeout: Duration,
        heartbeat: Option<Duration>,
    ) -> Result<Self, LeaderError> {
        let conn = bounded(
            io_timeout,
            "connecting to Postgres",
            AsyncPgConnection::establish(url),
        )
        .await?;
        Ok(Self {
            conn,
            key,
            io_timeout,
            heartbeat,
        })
    }

    /// How often a leader session must run a statement to keep its session (None for
    /// a claim's, which may idle).
    pub fn heartbeat(&self) -> Option<Duration> {
        self.heartbeat
    }

    /// `wait` shortened to the heartbeat, so a session is never idle long enough for
    /// the server to end it.
    fn within_heartbeat(&self, wait: Duration) -> Duration {
        self.heartbeat.map_or(wait, |beat| wait.min(beat))
    }

    /// One attempt at the lock; true when this session holds it now. Session-level, so
    /// Postgres releases it when the session ends, however the process dies.
    pub async fn try_lock(&mut self) -> Result<bool, LeaderError> {
        let query = diesel::sql_query("SELECT pg_try_advisory_lock($1) AS locked")
            .bind::<BigInt, _>(self.key);
        let row: Locked = bounded(
            self.io_timeout,
            "trying the leader lock",
            query.get_result(&mut self.conn),
        )
        .await?;
        Ok(row.locked)
    }

    /// Tries the lock every `retry` until it is held (true) or `shutdown` is cancelled
    /// (false). A follower thus takes over within about `retry` of the leader's session
    /// ending.
    pub async fn acquire(
        &mut self,
        retry: Duration,
        shutdown: &CancellationToken,
    ) -> Result<bool, LeaderError> {
        let mut logged = false;
        loop {
            if shutdown.is_cancelled() {
                return Ok(false);
            }
            if self.try_lock().await? {
                return Ok(true);
            }
            if !logged {
                tracing::info!(key = self.key, "another session holds the lock; following");
                logged = true;
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(false),
                () = tokio::time::sleep(self.within_heartbeat(retry)) => {}
            }
        }
    }

    /// Whether this session still holds the lock, read from `pg_locks`. A periodic
    /// leader (the janitor) asks before each round instead of taking the lock again,
    /// which would stack a second hold that a single unlock does not release. Postgres
    /// files a bigint key as `classid` (high half) and `objid` (low half).
    pub async fn holds_lock(&mut self) -> Result<bool, LeaderError> {
        let query = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = pg_backend_pid() AND objsubid = 1 \
             AND ((classid::bigint << 32) | objid::bigint) = $1) AS locked",
        )
        .bind::<BigInt, _>(self.key);
        let row: Locked = bounded(
            self.io_timeout,
            "checking the leader lock",
            query.get_result(&mut self.conn),
        )
        .await?;
        Ok(row.locked)
    }

    /// Fails unless this session still holds the lock: a leader's check, between
    /// steps of its work, that it still leads, and a statement that keeps the session
    /// from idling.
    pub async fn prove(&mut self) -> Result<(), LeaderError> {
        if self.holds_lock().await? {
            Ok(())
        } else {
            Err(LeaderError::SessionLost(
                "the leader lock is no longer held".into(),
            ))
        }
    }

    /// Runs `work`, which does not use this session (publishing a batch, a janitor's
    /// commands on pooled connections), proving the lock every heartbeat meanwhile, so
    /// the server never ends the session for idling however long the work takes: at
    /// most one statement per heartbeat, none for work shorter than one. Once the lock
    /// cannot be proved the work is dropped and the failure returned; a leader must not
    /// go on without its lock. The work is not polled while a proof runs (a statement
    /// of milliseconds), so the session never sees a statement dropped half-way.
    pub async fn while_working<T, E>(
        &mut self,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E>
    where
        E: From<LeaderError>,
    {
        let Some(beat) = self.heartbeat else {
            return work.await;
        };
        let mut work = std::pin::pin!(work);
        let mut next = tokio::time::Instant::now() + beat;
        loop {
            tokio::select! {
                done = &mut work => return done,
                () = tokio::time::sleep_until(next) => {
                    self.prove().await?;
                    next = tokio::time::Instant::now() + beat;
                }
            }
        }
    }

    /// Releases the lock (on a graceful stop, so a follower need not wait for the
    /// session to close).
    pub async fn unlock(&mut self) -> Result<(), LeaderError> {
        let query = diesel::sql_query("SELECT pg_advisory_unlock($1) AS locked")
            .bind::<BigInt, _>(self.key);
        let _: Locked = bounded(
            self.io_timeout,
            "releasing the leader lock",
            query.get_result(&mut self.conn),
        )
        .await?;
        Ok(())
    }

    /// Subscribes to the outbox channel. Called on every new session, before the first
    /// read: a commit after this point notifies us, one before it is seen by the read.
    pub async fn listen(&mut self) -> Result<(), LeaderError> {
        let sql = format!("LISTEN {OUTBOX_CHANNEL}");
        bounded(
            self.io_timeout,
            "subscribing to outbox notifications",
            self.conn.batch_execute(&sql),
        )
        .await
    }

    /// Discards the notifications already received. Called right before a read: every
    /// transaction they announce committed before the read starts, so the read sees its
    /// rows and the notification has nothing more to say.
    pub fn drain_notifications(&mut self) -> Result<usize, LeaderError> {
        let mut stream = std::pin::pin!(self.conn.notifications_stream());
        let mut drained = 0;
        loop {
            match stream.next().now_or_never() {
                None => return Ok(drained),
                Some(Some(Ok(_))) => drained += 1,
                Some(Some(Err(error))) => return Err(LeaderError::SessionLost(error.to_string())),
                Some(None) => return Err(LeaderError::SessionLost("connection closed".into())),
            }
        }
    }

    /// Sleeps until a notification arrives, `poll` (at most the heartbeat) passes, or
    /// `shutdown` is cancelled. Also notices a session that died while idle (the
    /// notification stream ends).
    pub async fn wait(
        &mut self,
        poll: Duration,
        shutdown: &CancellationToken,
    ) -> Result<Wake, LeaderError> {
        let poll = self.within_heartbeat(poll);
        let mut stream = std::pin::pin!(self.conn.notifications_stream());
        tokio::select! {
            () = shutdown.cancelled() => Ok(Wake::Shutdown),
            () = tokio::time::sleep(poll) => Ok(Wake::Polled),
            next = stream.next() => match next {
                Some(Ok(_)) => Ok(Wake::Notified),
                Some(Err(error)) => Err(LeaderError::SessionLost(error.to_string())),
                None => Err(LeaderError::SessionLost("connection closed".into())),
            },
        }
    }

    /// The connection, for the relay's reads and writes (the outbox crate's `batch` module).
    pub fn conn(&mut self) -> &mut AsyncPgConnection {
        &mut self.conn
    }

    /// The bound applied to each statement.
    pub fn io_timeout(&self) -> Duration {
        self.io_timeout
    }
}
