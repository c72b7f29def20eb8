//! The connection pool every binary uses: deadpool over diesel-async's
//! `AsyncPgConnection`, with bounded size and timeouts so a database outage shows up
//! as a prompt, retryable error instead of a hung request or handler.

use std::time::Duration;

use deadpool::Runtime;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::{Object, Pool};

use super::error::DbError;
use super::session::SessionSettings;

/// A pool of Postgres connections; cheap to clone (all clones share the connections).
pub type PgPool = Pool<AsyncPgConnection>;

/// A connection borrowed from a [`PgPool`]; it returns to the pool when dropped.
pub type PgPooled = Object<AsyncPgConnection>;

/// Size and timeouts of a [`PgPool`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: usize,
    /// Longest wait for a free connection when all are in use.
    pub wait_timeout: Duration,
    /// Longest time to open a new connection; also bounds the liveness check done
    /// before an idle connection is handed out again.
    pub create_timeout: Duration,
}

impl Default for PoolOptions {
    /// Sixteen connections, five seconds for each timeout: long enough to ride out a
    /// busy moment, short enough for a caller to report the outage within a request.
    fn default() -> Self {
        Self {
            max_size: 16,
            wait_timeout: Duration::from_secs(5),
            create_timeout: Duration::from_secs(5),
        }
    }
}

/// Builds a pool for `database_url` (`postgres://user:password@host:port/db`). Every
/// connection runs with the timeouts of [`SessionSettings`]: those the URL names (a
/// binary puts its configured ones there), the defaults for the rest.
///
/// No connection is opened here: the first `get()` connects, so a service can start
/// (and report itself not ready) while the database is still coming up.
pub fn build_pool(database_url: &str, options: PoolOptions) -> Result<PgPool, DbError> {
    let url = SessionSettings::default().url(database_url)?;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    let pool = Pool::builder(manager)
        .max_size(options.max_size)
        .wait_timeout(Some(options.wait_timeout))
        .create_timeout(Some(options.create_timeout))
        .recycle_timeout(Some(options.create_timeout))
        // deadpool refuses timeouts without a runtime to run the timers on.
        .runtime(Runtime::Tokio1)
        .build()?;
    Ok(pool)
}

#[derive(diesel::QueryableByName)]
struct One {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    one: i32,
}

/// `SELECT 1` on a pooled connection: the readiness probe's proof that the pool hands
/// out connections and Postgres answers on them.
pub async fn select_one(pool: &PgPool) -> Result<(), DbError> {
    use diesel_async::RunQueryDsl;
    let mut conn = pool.get().await?;
    let row: One = diesel::sql_query("SELECT 1 AS one")
        .get_result(&mut conn)
        .await?;
    if row.one == 1 {
        Ok(())
    } else {
        Err(DbError::Unavailable(format!(
            "SELECT 1 answered {}",
            row.one
        )))
    }
}

/// One connection of its own, outside any pool, with the session settings of the URL
/// (a command-line tool's single session).
pub async fn connect(database_url: &str) -> Result<AsyncPgConnection, DbError> {
    use diesel_async::AsyncConnection;
    Ok(AsyncPgConnection::establish(database_url).await?)
}
