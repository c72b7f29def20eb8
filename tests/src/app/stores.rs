//! `TestApp`'s stacks on stores other than the test's single local directory: given
//! stores (an S3 bucket, named stores) or named local stores made in the test's data
//! directory (multi-store mode); and its workers killed, added, or applying commands only
//! (so an import begins and its job waits).

use std::time::Duration;

use api_gateway::Settings;
use api_gateway::identity::AuthMode;
use domain::DomainConfig;
use fetch::ImportFilter;

use super::TestApp;
use crate::{TestDb, TestWorker};

/// Picks a stack's stores once its database (and data directory) exists, with the
/// janitor's grace for multipart uploads.
pub(super) type StoreChoice = Box<dyn FnOnce(&TestDb) -> (store::Stores, Duration) + Send>;

/// Local stores have no multipart uploads for the janitor to abort.
const NO_MULTIPART_GRACE: Duration = Duration::from_secs(3600);

impl TestApp {
    /// A stack whose gateway and worker keep image data in `stores` (an S3 bucket, or
    /// several named stores), the worker's janitor aborting uploads older than
    /// `multipart_grace`.
    pub async fn start_on_stores(stores: store::Stores, multipart_grace: Duration) -> Self {
        let on_store: StoreChoice = Box::new(move |_| (stores, multipart_grace));
        Self::on_stores(on_store, Settings::default(), ImportFilter::default()).await
    }

    /// A stack like [`TestApp::start_on_stores`] whose web-downloads are checked by
    /// `filter`.
    pub async fn start_on_stores_importing(stores: store::Stores, filter: ImportFilter) -> Self {
        let on_store: StoreChoice = Box::new(move |_| (stores, NO_MULTIPART_GRACE));
        Self::on_stores(on_store, Settings::default(), filter).await
    }

    /// A stack on named local stores in the test's data directory (multi-store mode,
    /// Glance's `enabled_backends`), the first being the default.
    pub async fn start_multi_store(ids: &[&str]) -> Self {
        Self::start_multi_store_with(ids, &[], Settings::default()).await
    }

    /// [`TestApp::start_multi_store`] whose web-downloads are checked by `filter`.
    pub async fn start_multi_store_importing(ids: &[&str], filter: ImportFilter) -> Self {
        let on_store = named_local_stores(ids, &[]);
        Self::on_stores(on_store, Settings::default(), filter).await
    }

    /// [`TestApp::start_multi_store`] with `(id, text)` store descriptions and these
    /// gateway settings.
    pub async fn start_multi_store_with(
        ids: &[&str],
        descriptions: &[(&str, &str)],
        settings: Settings,
    ) -> Self {
        let on_store = named_local_stores(ids, descriptions);
        Self::on_stores(on_store, settings, ImportFilter::default()).await
    }

    async fn on_stores(on_store: StoreChoice, settings: Settings, filter: ImportFilter) -> Self {
        Self::start_full(
            DomainConfig::default(),
            settings,
            AuthMode::Headers,
            None,
            filter,
            None,
            Some(on_store),
        )
        .await
    }

    /// The stores the gateway and workers keep image data in.
    pub fn stores(&self) -> store::Stores {
        self.worker_setup
            .on_store
            .as_ref()
            .map_or_else(|| self.db.stores(), |(stores, _)| stores.clone())
    }

    /// Kills the workers without letting them settle anything (their connections drop,
    /// their unacked deliveries go back to the queues).
    pub fn kill_workers(&mut self) {
        for worker in self.workers.drain(..) {
            worker.abort();
        }
    }

    /// Starts one more worker on the app's stores and import filter.
    pub fn start_worker(&mut self, name: &str) {
        let worker = match &self.worker_setup.on_store {
            Some((stores, grace)) => TestWorker::start_on_stores_importing(
                &self.db,
                &self.bus,
                name,
                stores.clone(),
                *grace,
                self.worker_setup.filter.clone(),
            ),
            None => TestWorker::start_importing(
                &self.db,
                &self.bus,
                name,
                DomainConfig::default(),
                self.worker_setup.filter.clone(),
            ),
        };
        self.workers.push(worker);
    }

    /// Starts a worker that applies commands and runs no jobs: with the other workers
    /// stopped, an import begins and its job waits.
    pub fn start_commands_worker(&mut self, name: &str) {
        let domain = DomainConfig {
            stores: self.stores().ids(),
            ..DomainConfig::default()
        };
        let worker = TestWorker::start_commands_only(&self.db, &self.bus, name, domain);
        self.workers.push(worker);
    }
}

/// Named local stores in the test's data directory (removed with it), the first the
/// default, with `(id, text)` descriptions.
fn named_local_stores(ids: &[&str], descriptions: &[(&str, &str)]) -> StoreChoice {
    let ids: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    let descriptions: Vec<(String, String)> = descriptions
        .iter()
        .map(|(id, text)| ((*id).to_owned(), (*text).to_owned()))
        .collect();
    Box::new(move |db| {
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let mut entries = db.named_stores(&ids).all().to_vec();
        for entry in &mut entries {
            entry.description = descriptions
                .iter()
                .find(|(id, _)| *id == entry.id)
                .map(|(_, text)| text.clone());
        }
        (store::Stores::named(entries, 0), NO_MULTIPART_GRACE)
    })
}
