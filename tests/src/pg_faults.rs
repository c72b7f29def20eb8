//! Postgres faults made by a second session, as a stuck client or a forgotten `psql`
//! would make them: [`HeldLock`] keeps an open transaction holding an image row's lock
//! (`SELECT ... FOR UPDATE`), or holds an advisory lock (the relay's or the janitor's
//! leader key), until it is released or dropped.

use anyhow::Context as _;
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use uuid::Uuid;

/// A session holding a lock; dropping it closes the session, which releases the lock.
pub struct HeldLock {
    conn: AsyncPgConnection,
}

impl HeldLock {
    /// Opens a session on `database_url` and locks image `image_id`'s row in a
    /// transaction left open.
    pub async fn image_row(database_url: &str, image_id: Uuid) -> anyhow::Result<Self> {
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .context("connecting the lock-holding session")?;
        conn.batch_execute(&format!(
            "BEGIN; SELECT id FROM images WHERE id = '{image_id}' FOR UPDATE"
        ))
        .await
        .context("locking the image row")?;
        Ok(Self { conn })
    }

    /// Opens a session on `database_url` and takes the session-level advisory lock
    /// `key` (e.g. `db::leader::OUTBOX_LOCK_KEY`), waiting for it if another session
    /// holds it.
    pub async fn advisory(database_url: &str, key: i64) -> anyhow::Result<Self> {
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .context("connecting the lock-holding session")?;
        conn.batch_execute(&format!("SELECT pg_advisory_lock({key})"))
            .await
            .context("taking the advisory lock")?;
        Ok(Self { conn })
    }

    /// Ends the session, releasing the lock (a row lock's transaction is rolled back).
    pub async fn release(mut self) -> anyhow::Result<()> {
        // Unlocking every advisory lock is harmless on a session holding a row lock,
        // and rolling back is harmless outside a transaction (a warning only).
        self.conn
            .batch_execute("ROLLBACK; SELECT pg_advisory_unlock_all()")
            .await
            .context("releasing the lock")
    }
}
