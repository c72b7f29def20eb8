//! The fleet's workers as Postgres sees them, for `imagefleet status`: a worker names
//! its sessions `<worker name>@<operations address>` (`application_name`), so the
//! sessions of this database say which workers run and where each one's operations
//! port (`/metrics`, `/healthz`, `/readyz`) answers.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;

/// What a worker's sessions' name says: the worker and its operations address.
pub fn session_name(worker: &str, ops_address: std::net::SocketAddr) -> String {
    format!("{worker}@{ops_address}")
}

/// One worker with sessions open on this database.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct WorkerSessions {
    /// The worker's name (before the `@`).
    #[diesel(sql_type = Text)]
    pub worker: String,
    /// Where its operations port listens (after the `@`).
    #[diesel(sql_type = Text)]
    pub ops_address: String,
    /// The client address its sessions come from; none over a Unix socket.
    #[diesel(sql_type = Nullable<Text>)]
    pub client_addr: Option<String>,
    /// How many sessions it has open.
    #[diesel(sql_type = BigInt)]
    pub sessions: i64,
    /// When its oldest open session started.
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub since: Option<DateTime<Utc>>,
}

// Postgres cuts `application_name` at 63 bytes: a name cut inside its address still
// lists, with the address as far as it goes.
const WORKERS: &str = "SELECT split_part(application_name, '@', 1) AS worker, \
     substr(application_name, strpos(application_name, '@') + 1) AS ops_address, \
     host(client_addr) AS client_addr, count(*) AS sessions, min(backend_start) AS since \
     FROM pg_stat_activity \
     WHERE datname = current_database() AND application_name LIKE '%@%' \
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// The workers with sessions on this database, by name.
pub async fn workers(conn: &mut AsyncPgConnection) -> Result<Vec<WorkerSessions>, DbError> {
    Ok(diesel::sql_query(WORKERS).load(conn).await?)
}
