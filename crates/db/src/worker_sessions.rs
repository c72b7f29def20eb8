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

impl WorkerSessions {
    /// Where the operations port answers, as another host reaches it: a worker bound to
    /// every interface (`0.0.0.0`, `::`) is reached at the address its sessions come
    /// from.
    pub fn reachable_ops_address(&self) -> String {
        let unspecified = ["0.0.0.0:", "[::]:"]
            .iter()
            .find_map(|any| self.ops_address.strip_prefix(any));
        match (unspecified, &self.client_addr) {
            (Some(port), Some(client)) if client.contains(':') => format!("[{client}]:{port}"),
            (Some(port), Some(client)) => format!("{client}:{port}"),
            _ => self.ops_address.clone(),
        }
    }
}

// The name is split at its last `@`, and only names ending in `@host:port` count, so an
// operator's name may hold an `@` and other applications' sessions are left out.
// Postgres cuts `application_name` at 63 bytes: a name cut inside its port still lists.
const WORKERS: &str = "SELECT regexp_replace(application_name, '@[^@]*$', '') AS worker, \
     substring(application_name from '@([^@]*)$') AS ops_address, \
     host(client_addr) AS client_addr, count(*) AS sessions, min(backend_start) AS since \
     FROM pg_stat_activity \
     WHERE datname = current_database() AND application_name ~ '@[^@]+:[0-9]+$' \
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// The workers with sessions on this database, by name.
pub async fn workers(conn: &mut AsyncPgConnection) -> Result<Vec<WorkerSessions>, DbError> {
    Ok(diesel::sql_query(WORKERS).load(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(ops_address: &str, client_addr: Option<&str>) -> WorkerSessions {
        WorkerSessions {
            worker: "imagefleet-worker".to_owned(),
            ops_address: ops_address.to_owned(),
            client_addr: client_addr.map(str::to_owned),
            sessions: 1,
            since: None,
        }
    }

    #[test]
    fn a_port_bound_to_every_interface_is_shown_at_the_sessions_address() {
        let reachable = |ops, client| sessions(ops, client).reachable_ops_address();
        assert_eq!(
            reachable("0.0.0.0:9464", Some("172.18.0.6")),
            "172.18.0.6:9464"
        );
        assert_eq!(reachable("[::]:9464", Some("fd00::6")), "[fd00::6]:9464");
        assert_eq!(
            reachable("127.0.0.1:9465", Some("127.0.0.1")),
            "127.0.0.1:9465"
        );
        assert_eq!(reachable("0.0.0.0:9464", None), "0.0.0.0:9464");
    }
}
