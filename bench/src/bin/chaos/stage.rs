//! Everything a run acts on, in one place shared by the traffic, the faults and the
//! checks: the private services, the processes, the runner's clients and its ledger.
//! Field order is teardown order: the processes go first, then the broker, then
//! Postgres (the run's directory is removed after all of them, by its own guard).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ::bus::client::CommandClient;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::fleet::{Fleet, Role};
use crate::http::Gateway;
use crate::ledger::Ledger;
use imagefleet_tests::{FaultProxy, PrivateBroker as Rabbit, PrivatePostgres as Postgres};

/// The database the service uses on the private Postgres.
pub const DATABASE: &str = "imagefleet";

/// The run's world.
pub struct Stage {
    /// The gateway and the workers (locked while one is killed or restarted).
    pub fleet: tokio::sync::Mutex<Fleet>,
    /// The private broker (locked while it restarts).
    pub rabbit: Arc<Mutex<Rabbit>>,
    /// The fault proxy between the fleet and Postgres.
    pub pg_proxy: FaultProxy,
    /// The private Postgres.
    pub postgres: Arc<Postgres>,
    /// Its database's URL, straight (not through the proxy).
    pub database_url: String,
    /// The gateway, as the runner's HTTP client sees it.
    pub gateway: Gateway,
    /// The runner's producer on the bus.
    pub client: CommandClient,
    /// What the runner did and received.
    pub ledger: Ledger,
    /// The image probe commands change.
    pub probe_image: Uuid,
    /// How many workers run.
    pub workers: usize,
    /// The image store.
    pub data_dir: PathBuf,
    /// The end of everything: no loop runs past it.
    pub deadline: Instant,
    /// Exits nobody caused (a process that stopped by itself), restarted.
    pub unexpected_exits: Mutex<Vec<String>>,
    /// Work that must end before the checks (uploads finishing after a fault).
    pending: Mutex<Vec<JoinHandle<()>>>,
}

impl Stage {
    /// Puts the parts together.
    #[expect(clippy::too_many_arguments, reason = "one constructor of one struct")]
    pub fn new(
        fleet: Fleet,
        rabbit: Rabbit,
        (pg_proxy, postgres): (FaultProxy, Postgres),
        gateway: Gateway,
        client: CommandClient,
        ledger: Ledger,
        probe_image: Uuid,
        data_dir: PathBuf,
        deadline: Instant,
    ) -> Self {
        let workers = fleet.workers();
        Self {
            fleet: tokio::sync::Mutex::new(fleet),
            rabbit: Arc::new(Mutex::new(rabbit)),
            pg_proxy,
            database_url: postgres.url(DATABASE),
            postgres: Arc::new(postgres),
            gateway,
            client,
            ledger,
            probe_image,
            workers,
            data_dir,
            deadline,
            unexpected_exits: Mutex::new(Vec::new()),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Keeps `handle` to be awaited before the checks.
    pub fn background(&self, handle: JoinHandle<()>) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Waits for the background work (each bounded by the deadline itself).
    pub async fn settle_background(&self) {
        let handles: Vec<_> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        for handle in handles {
            let _ = handle.await;
        }
    }

    /// Restarts processes that exited by themselves and notes them.
    pub async fn restart_exited(&self) {
        let mut fleet = self.fleet.lock().await;
        for (role, status) in fleet.exited() {
            self.unexpected_exits
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{role:?} exited by itself ({status})"));
            if let Err(error) = fleet.restart(role) {
                eprintln!("chaos: restarting {role:?} failed: {error:#}");
            }
        }
    }

    /// The operations URL of one process.
    pub async fn ops_url(&self, role: Role) -> String {
        let fleet = self.fleet.lock().await;
        fleet
            .ops_urls()
            .into_iter()
            .find_map(|(r, url)| (r == role).then_some(url))
            .unwrap_or_default()
    }

    /// Events in the outbox not yet published (None while Postgres is down).
    pub fn unpublished(&self) -> Option<u64> {
        let sql = "SELECT count(*) FROM events WHERE published_at IS NULL";
        let rows = tokio::task::block_in_place(|| self.postgres.query(DATABASE, sql)).ok()?;
        rows.first()?.first()?.parse().ok()
    }

    /// An image's status straight from Postgres (None while it is down, or no image).
    pub fn image_status(&self, image: Uuid) -> Option<String> {
        let sql = format!("SELECT status FROM images WHERE id = '{image}'");
        let rows = tokio::task::block_in_place(|| self.postgres.query(DATABASE, &sql)).ok()?;
        rows.into_iter().next()?.into_iter().next()
    }
}
