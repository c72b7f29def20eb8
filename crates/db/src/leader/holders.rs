//! Who leads: the session holding a leadership key, read from `pg_locks`, for
//! `imagefleet status`.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;

/// The session holding a key.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct LockHolder {
    /// Its backend's process id.
    #[diesel(sql_type = Integer)]
    pub pid: i32,
    /// Its `application_name` (the process that opened it names itself there).
    #[diesel(sql_type = Text)]
    pub application_name: String,
    /// The client's address; none over a Unix socket.
    #[diesel(sql_type = Nullable<Text>)]
    pub client_addr: Option<String>,
    /// When the session started.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub backend_start: Option<DateTime<Utc>>,
}

// Advisory locks are per database, and `pg_locks` lists every database's: only this
// database's count. A bigint key is filed as `classid` (high half) and `objid` (low
// half), `objsubid` 1.
const HOLDER: &str = "SELECT a.pid, coalesce(a.application_name, '') AS application_name, \
     host(a.client_addr) AS client_addr, a.backend_start \
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 \
     LIMIT 1";

/// The session holding `key` in this database, if any.
pub async fn holder(conn: &mut AsyncPgConnection, key: i64) -> Result<Option<LockHolder>, DbError> {
    let rows: Vec<LockHolder> = diesel::sql_query(HOLDER)
        .bind::<BigInt, _>(key)
        .load(conn)
        .await?;
    Ok(rows.into_iter().next())
}
