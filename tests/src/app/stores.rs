//! `TestApp` on named stores (multi-store mode) and its workers: stacks on local stores
//! made for the test, the stores an app keeps data in, and workers killed, added, or
//! applying commands only (so an import begins and its job waits).

use std::time::Duration;

use domain::DomainConfig;
use fetch::ImportFilter;

use super::TestApp;
use crate::{ScratchDir, TestWorker};

impl TestApp {
    /// A stack on named local stores (multi-store mode), the first the default, in a
    /// directory of the test's own: [`TestApp::start_on_stores`] on them.
    pub async fn start_multi_store(ids: &[&str]) -> Self {
        let (stores, dir) = named_local_stores(ids);
        let app = Self::start_on_stores(stores, Duration::from_secs(3600)).await;
        Self {
            _store_dir: Some(dir),
            ..app
        }
    }

    /// [`TestApp::start_multi_store`] whose web-downloads are checked by `filter`.
    pub async fn start_multi_store_importing(ids: &[&str], filter: ImportFilter) -> Self {
        let (stores, dir) = named_local_stores(ids);
        let app = Self::start_on_stores_importing(stores, filter).await;
        Self {
            _store_dir: Some(dir),
            ..app
        }
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

    /// Starts one more worker on the app's stores (one started on stores of its own)
    /// and import filter.
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

/// Named local stores in a fresh directory under the system's temporary directory, the
/// first the default, with the directory (removed when dropped).
fn named_local_stores(ids: &[&str]) -> (store::Stores, ScratchDir) {
    let scratch = ScratchDir::create("stores").expect("a directory for the test's stores");
    let root = scratch.path().to_owned();
    let entries = ids
        .iter()
        .map(|id| {
            let dir = root.join(id);
            store::NamedStore {
                id: (*id).to_owned(),
                description: None,
                store: store::ImageStore::local(&dir).expect("the test's store directory opens"),
                kind: store::StoreKind::File { dir },
            }
        })
        .collect();
    (store::Stores::named(entries, 0), scratch)
}
