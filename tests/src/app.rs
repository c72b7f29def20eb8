//! `TestApp`: the whole stack for one test — its own database and topology, workers,
//! and the gateway's router, called in-process with typed request helpers (`requests`),
//! on the test's single store or on others (`stores`).

use std::sync::Arc;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::Router;
use bus::client::CommandClient;
use domain::{Actor, DomainConfig};
use fetch::{ImportFilter, SafeFetcher};
use std::time::Duration;
use workers::jobs::ImportPlugins;

use crate::{TestBus, TestDb, TestWorker};

mod requests;

pub use requests::TestResponse;
mod stores;

use stores::StoreChoice;

/// The stack of one test.
pub struct TestApp {
    /// The test's database.
    pub db: TestDb,
    /// The test's topology.
    pub bus: TestBus,
    workers: Vec<TestWorker>,
    router: Router,
    /// What [`TestApp::start_worker`] starts another worker with.
    worker_setup: WorkerSetup,
}

/// The stores, import filter and multipart grace of an app started on stores of its
/// own, for workers started later.
#[derive(Clone)]
struct WorkerSetup {
    on_store: Option<(store::Stores, Duration)>,
    filter: ImportFilter,
}

impl TestApp {
    /// One worker, header identity, default settings.
    pub async fn start() -> Self {
        Self::start_with(
            DomainConfig::default(),
            Settings::default(),
            AuthMode::Headers,
            None,
        )
        .await
    }

    /// A stack with these settings.
    pub async fn start_with(
        domain: DomainConfig,
        settings: Settings,
        mode: AuthMode,
        default_actor: Option<Actor>,
    ) -> Self {
        Self::start_full(
            domain,
            settings,
            mode,
            default_actor,
            ImportFilter::default(),
            None,
            None,
        )
        .await
    }

    /// A stack whose web-downloads and locations are checked by `filter` (tests allow
    /// their own HTTP server on 127.0.0.1 through it).
    pub async fn start_importing(
        domain: DomainConfig,
        settings: Settings,
        filter: ImportFilter,
    ) -> Self {
        Self::start_full(
            domain,
            settings,
            AuthMode::Headers,
            None,
            filter,
            None,
            None,
        )
        .await
    }

    /// A stack like [`TestApp::start_importing`] whose imports run `plugins`.
    pub async fn start_with_plugins(
        domain: DomainConfig,
        filter: ImportFilter,
        plugins: ImportPlugins,
    ) -> Self {
        let mode = AuthMode::Headers;
        let settings = Settings::default();
        Self::start_full(domain, settings, mode, None, filter, Some(plugins), None).await
    }

    async fn start_full(
        domain: DomainConfig,
        settings: Settings,
        mode: AuthMode,
        default_actor: Option<Actor>,
        filter: ImportFilter,
        plugins: Option<ImportPlugins>,
        on_store: Option<StoreChoice>,
    ) -> Self {
        let db = TestDb::new().await.expect("test database");
        let bus = TestBus::new().await.expect("test bus");
        let plugins = plugins.unwrap_or_default();
        let on_store = on_store.map(|choose| choose(&db));
        let worker_setup = WorkerSetup {
            on_store: on_store.clone(),
            filter: filter.clone(),
        };
        let (stores, worker) = match on_store {
            None => (
                db.stores(),
                TestWorker::start_with_plugins(
                    &db,
                    &bus,
                    "app-worker",
                    domain,
                    filter.clone(),
                    plugins,
                ),
            ),
            Some((stores, grace)) => (
                stores.clone(),
                TestWorker::start_on_stores_importing(
                    &db,
                    &bus,
                    "app-worker",
                    stores,
                    grace,
                    filter.clone(),
                ),
            ),
        };

        let workers = vec![worker];
        let commands = CommandClient::connect(bus.url(), bus.topology().clone())
            .await
            .expect("command client");
        let state = AppState {
            reads: db.pool().clone(),
            commands,
            identity: Arc::new(Identity {
                mode,
                default_actor,
            }),
            settings: Arc::new(settings),
            stores,
            fetcher: SafeFetcher::new(filter, 1 << 40, Duration::from_secs(60), 5),
            send_notices: Some(Arc::new(api_gateway::send_notice::SendNotifier::new(
                bus.url(),
                bus.notifications(),
            ))),
        };
        let router = api_gateway::app(state);
        Self {
            db,
            bus,
            workers,
            router,
            worker_setup,
        }
    }
}

impl TestApp {
    /// Stops the workers gracefully (their janitor's lock released), keeping the
    /// database, the topology and the router.
    pub async fn stop_workers(&mut self) {
        for worker in self.workers.drain(..) {
            worker.stop().await;
        }
    }

    /// Stops the workers gracefully.
    pub async fn stop(self) {
        for worker in self.workers {
            worker.stop().await;
        }
    }
}
