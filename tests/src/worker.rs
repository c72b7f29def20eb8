//! Starting workers inside a test: each is a `run_fleet` task with its own connections,
//! stopped (gracefully) by its handle.

use bus::intake::IntakePolicy;
use bus::{Topology, WorkQueue};
use domain::DomainConfig;
use fetch::{ImportFilter, SafeFetcher};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workers::jobs::ImportPlugins;
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
        Self::start_importing(db, bus, name, domain, ImportFilter::default())
    }

    /// Starts a worker whose imports read URLs through `filter`.
    pub fn start_importing(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
        filter: ImportFilter,
    ) -> Self {
        Self::start_full(db, bus, name, domain, filter, Some(JANITOR_INTERVAL))
    }

    /// Starts a worker whose imports read URLs through `filter` and run `plugins`.
    pub fn start_with_plugins(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
        filter: ImportFilter,
        plugins: ImportPlugins,
    ) -> Self {
        let mut config = Self::config(db, bus, name, domain, filter, Some(JANITOR_INTERVAL));
        config.plugins = plugins;
        Self::run(config)
    }

    /// Starts a worker keeping image data in `stores` (an S3 bucket, or several
    /// named stores), its janitor aborting multipart uploads begun more than
    /// `multipart_grace` ago.
    pub fn start_on_stores(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        stores: store::Stores,
        multipart_grace: Duration,
    ) -> Self {
        let filter = ImportFilter::default();
        Self::start_on_stores_importing(db, bus, name, stores, multipart_grace, filter)
    }

    /// [`TestWorker::start_on_stores`] reading web-download URLs through `filter`.
    pub fn start_on_stores_importing(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        stores: store::Stores,
        multipart_grace: Duration,
        filter: ImportFilter,
    ) -> Self {
        let domain = DomainConfig {
            stores: stores.ids(),
            ..DomainConfig::default()
        };
        let mut config = Self::config(db, bus, name, domain, filter, Some(JANITOR_INTERVAL));
        config.stores = stores;
        config.multipart_grace = multipart_grace;
        Self::run(config)
    }

    /// Starts a worker committing up to `commit_batch` commands per transaction, with 4
    /// transactions open at once (the benchmark compares settings).
    pub fn start_batched(db: &TestDb, bus: &TestBus, name: &str, commit_batch: usize) -> Self {
        let mut config = Self::config(
            db,
            bus,
            name,
            DomainConfig::default(),
            ImportFilter::default(),
            Some(JANITOR_INTERVAL),
        );
        config.commit_batch = commit_batch;
        Self::run(config)
    }

    /// Starts a worker that only applies commands: no janitor candidate and no jobs
    /// consumer, for tests that send the janitor's and the jobs' commands (purges, task
    /// expiry, task steps) themselves and must not race them.
    pub fn start_commands_only(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
    ) -> Self {
        let mut config = Self::config(db, bus, name, domain, ImportFilter::default(), None);
        config.queues = vec![WorkQueue::Commands];
        Self::run(config)
    }

    /// Starts a worker admitting commands by `intake` (the hostile-bus tests trust
    /// producers of their own).
    pub fn start_trusting(db: &TestDb, bus: &TestBus, name: &str, intake: IntakePolicy) -> Self {
        let filter = ImportFilter::default();
        let domain = DomainConfig::default();
        let mut config = Self::config(db, bus, name, domain, filter, Some(JANITOR_INTERVAL));
        config.intake = intake;
        Self::run(config)
    }

    /// Starts a worker that reaches the broker through `amqp_url` (a list of nodes, in
    /// the failover tests) instead of the test bus's own URL.
    pub fn start_via(db: &TestDb, bus: &TestBus, name: &str, amqp_url: &str) -> Self {
        let filter = ImportFilter::default();
        let domain = DomainConfig::default();
        let mut config = Self::config(db, bus, name, domain, filter, Some(JANITOR_INTERVAL));
        config.amqp_url = amqp_url.to_owned();
        Self::run(config)
    }

    /// Starts a worker on a broker of the test's own (a private node or cluster, named
    /// by `amqp_url`, one node or a list) and its `topology`, without Glance
    /// notifications.
    pub fn start_on(db: &TestDb, amqp_url: &str, topology: &Topology, name: &str) -> Self {
        Self::run(Self::config_on(
            db,
            amqp_url,
            topology,
            name,
            DomainConfig::default(),
            ImportFilter::default(),
            Some(JANITOR_INTERVAL),
        ))
    }

    fn start_full(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
        filter: ImportFilter,
        janitor_interval: Option<Duration>,
    ) -> Self {
        Self::run(Self::config(
            db,
            bus,
            name,
            domain,
            filter,
            janitor_interval,
        ))
    }

    /// The configuration [`TestWorker::start`] runs with, for a test that changes a
    /// few fields (`FleetConfig { field, ..TestWorker::default_config(..) }`) and runs
    /// the fleet itself.
    pub fn default_config(db: &TestDb, bus: &TestBus, name: &str) -> FleetConfig {
        let filter = ImportFilter::default();
        Self::config(db, bus, name, DomainConfig::default(), filter, None)
    }

    /// [`TestWorker::default_config`] on a broker of the test's own (named by
    /// `amqp_url`) and its `topology`, without Glance notifications, as
    /// [`TestWorker::start_on`] runs.
    pub fn default_config_on(
        db: &TestDb,
        amqp_url: &str,
        topology: &Topology,
        name: &str,
    ) -> FleetConfig {
        let filter = ImportFilter::default();
        Self::config_on(
            db,
            amqp_url,
            topology,
            name,
            DomainConfig::default(),
            filter,
            None,
        )
    }

    fn config(
        db: &TestDb,
        bus: &TestBus,
        name: &str,
        domain: DomainConfig,
        filter: ImportFilter,
        janitor_interval: Option<Duration>,
    ) -> FleetConfig {
        let mut config = Self::config_on(
            db,
            bus.url(),
            bus.topology(),
            name,
            domain,
            filter,
            janitor_interval,
        );
        config.notifications = Some(bus.notifications());
        config
    }

    fn config_on(
        db: &TestDb,
        amqp_url: &str,
        topology: &Topology,
        name: &str,
        domain: DomainConfig,
        filter: ImportFilter,
        janitor_interval: Option<Duration>,
    ) -> FleetConfig {
        let max_bytes = u64::try_from(domain.image_size_cap).unwrap_or(0);
        FleetConfig {
            queues: WorkQueue::ALL.to_vec(),
            stores: db.stores(),
            fetcher: SafeFetcher::new(filter, max_bytes, Duration::from_secs(60), 5),
            database_url: db.url().to_owned(),
            pool_size: 8,
            amqp_url: amqp_url.to_owned(),
            topology: topology.clone(),
            domain,
            concurrency: 4,
            commit_batch: workers::group_commit::DEFAULT_COMMIT_BATCH.into(),
            confirm_timeout: workers::publisher::DEFAULT_CONFIRM_TIMEOUT,
            flow: Default::default(),
            name: name.to_owned(),
            janitor_interval,
            processed_retention: workers::janitor::retention::DEFAULT_PROCESSED_RETENTION,
            multipart_grace: workers::janitor::uploads::DEFAULT_MULTIPART_GRACE,
            notifications: None,
            intake: IntakePolicy::default(),
            progress: Default::default(),
            plugins: Default::default(),
        }
    }

    /// Starts a worker on `config` (from [`TestWorker::default_config`], changed).
    pub fn run(config: FleetConfig) -> Self {
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
