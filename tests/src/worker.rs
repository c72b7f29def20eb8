//! Starting workers inside a test: each is a `run_fleet` task with its own connections,
//! stopped (gracefully) by its handle.

use shared::domain::DomainConfig;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workers::{FleetConfig, run_fleet};

use crate::{TestBus, TestDb};

/// Time between janitor rounds of test workers: short, so a test waits on the janitor
/// briefly (it still waits on the outcome, never on this time).
pub const JANITOR_INTERVAL: Duration = Duration::from_millis(200);

/// A running worker.
pub struct TestWorker {
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl TestWorker {
    /// Starts a worker on the test's database and topology.
    pub fn start(db: &TestDb, bus: &TestBus, name: &str) -> Self {
        Self::start_with(db, bus, name, DomainConfig::default())
    }

    /// Starts a worker deciding with `domain`.
    pub fn start_with(db: &TestDb, bus: &TestBus, name: &str, domain: DomainConfig) -> Self {
        Self::start_full(db, bus, name, domain, Some(JANITOR_INTERVAL))
    }

    /// Starts a worker without a janitor candidate, for tests that send the janitor's
    /// commands (purges, task expiry) themselves and must not race one.
    pub fn start_without_janitor(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
    ) -> Self {
        Self::start_full(db, bus, name, domain, None)
    }

    fn start_full(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
        janitor_interval: Option<Duration>,
    ) -> Self {
        let config = FleetConfig {
            database_url: db.url().to_owned(),
            pool_size: 8,
            amqp_url: bus.url().to_owned(),
            topology: bus.topology().clone(),
            domain,
            concurrency: 4,
            prefetch: 8,
            name: name.to_owned(),
            janitor_interval,
        };
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = run_fleet(config, token).await {
                eprintln!("test worker failed: {error}");
            }
        });
        Self { shutdown, task }
    }

    /// Asks the worker to stop and waits until its in-flight commands are settled.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Kills the worker without letting it settle anything (its connections drop).
    pub fn abort(self) {
        self.task.abort();
    }
}
