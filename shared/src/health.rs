//! Readiness checks shared by the gateway's and a worker's `/readyz`: Postgres answers a
//! `SELECT 1`, the schema has every embedded migration, RabbitMQ is reachable (and, on
//! a worker, that it applies commands: [`COMMANDS`]). Each
//! check is time-boxed ([`CHECK_TIMEOUT`]) so a probe never hangs on a half-open
//! connection, and the report names every check with its result, so a 503 says which
//! dependency is missing. Liveness (`/healthz`) needs no check: answering is the proof.

use std::time::Duration;

use lapin::Connection;
use tokio::sync::Mutex;

use bus::connection::connect;
use db::PgPool;
use db::migrate::unapplied_migrations;
use db::pool::select_one;

/// The longest one check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Name of the Postgres check in reports.
pub const POSTGRES: &str = "postgres";
/// Name of the migrations check in reports.
pub const MIGRATIONS: &str = "migrations";
/// Name of the RabbitMQ check in reports.
pub const RABBITMQ: &str = "rabbitmq";
/// Name of a worker's check that it applies what it is given (commands waiting or
/// failing with none applied for too long: a database that answers nothing, a lane
/// parked on a lock).
pub const COMMANDS: &str = "commands";

/// The result of one check: `Err` carries what failed, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// Which dependency ([`POSTGRES`], [`MIGRATIONS`], [`RABBITMQ`], [`COMMANDS`]).
    pub name: &'static str,
    /// Ok, or why not.
    pub result: Result<(), String>,
}

impl Check {
    /// Runs `check` under [`CHECK_TIMEOUT`]; running out of time is a failure.
    pub async fn run(name: &'static str, check: impl Future<Output = Result<(), String>>) -> Self {
        let result = match tokio::time::timeout(CHECK_TIMEOUT, check).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        Self { name, result }
    }
}

/// Every check of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// In the order they were listed.
    pub checks: Vec<Check>,
}

impl Readiness {
    /// Ready when every check passed.
    pub fn is_ready(&self) -> bool {
        self.checks.iter().all(|c| c.result.is_ok())
    }

    /// The JSON body: `{"status": "ready" | "not ready", "failed": [names], "checks":
    /// {name: "ok" | reason}}`.
    pub fn body(&self) -> serde_json::Value {
        let checks: serde_json::Map<String, serde_json::Value> = self
            .checks
            .iter()
            .map(|c| {
                let value = match &c.result {
                    Ok(()) => "ok".to_owned(),
                    Err(reason) => reason.clone(),
                };
                (c.name.to_owned(), value.into())
            })
            .collect();
        let failed: Vec<&str> = self
            .checks
            .iter()
            .filter(|c| c.result.is_err())
            .map(|c| c.name)
            .collect();
        serde_json::json!({
            "status": if self.is_ready() { "ready" } else { "not ready" },
            "failed": failed,
            "checks": checks,
        })
    }
}

/// The Postgres and migrations checks over `pool`, run side by side.
pub async fn database_checks(pool: &PgPool) -> [Check; 2] {
    let (postgres, migrations) = tokio::join!(
        Check::run(POSTGRES, async {
            select_one(pool).await.map_err(|e| e.to_string())
        }),
        Check::run(MIGRATIONS, migrations_current(pool)),
    );
    [postgres, migrations]
}

/// Every embedded migration applied (nothing is applied here).
async fn migrations_current(pool: &PgPool) -> Result<(), String> {
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let missing = unapplied_migrations(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("not applied: {}", missing.join(", ")))
    }
}

/// A worker's RabbitMQ check: one connection of its own, kept open between probes and
/// opened again when it dropped, so a probe costs nothing while the broker is up and
/// a failed probe shows the broker is unreachable now.
pub struct BrokerProbe {
    url: String,
    name: String,
    connection: Mutex<Option<Connection>>,
}

impl std::fmt::Debug for BrokerProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerProbe")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl BrokerProbe {
    /// A probe for the broker at `url`; its connection is named `name` on the broker.
    /// Nothing is opened until the first check.
    pub fn new(url: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            name: name.into(),
            connection: Mutex::new(None),
        }
    }

    /// The [`RABBITMQ`] check.
    pub async fn check(&self) -> Check {
        Check::run(RABBITMQ, self.reachable()).await
    }

    async fn reachable(&self) -> Result<(), String> {
        let mut slot = self.connection.lock().await;
        if slot.as_ref().is_some_and(|c| c.status().connected()) {
            return Ok(());
        }
        // Dropping a dead connection releases what is left of it.
        *slot = None;
        let connection = connect(&self.url, &self.name)
            .await
            .map_err(|e| e.to_string())?;
        *slot = Some(connection);
        Ok(())
    }
}
