//! `TestBus`: one test's own exchanges and queues on the real RabbitMQ, under a random
//! name prefix, declared at creation and deleted when the value is dropped, with the
//! exchange its relays send Glance notifications to (`<prefix>.glance`).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use bus::Topology;
use bus::connection::connect;
use notifications::NotificationConfig;
use tokio::sync::OnceCell;

/// Environment variable naming the broker tests use.
pub const AMQP_URL_ENV: &str = "IMAGEFLEET_TEST_AMQP_URL";

const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker URL tests use: `IMAGEFLEET_TEST_AMQP_URL`, or the local RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var(AMQP_URL_ENV).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// A topology older than this is a leftover of a killed test process (as for TestDb).
const LEFTOVER_AGE: u64 = 3600;

/// Set once this process has swept leftovers.
static SWEPT: OnceCell<()> = OnceCell::const_new();

/// Deletes the queues and exchanges of test topologies whose embedded start time is
/// older than [`LEFTOVER_AGE`]: a test killed before its `Drop` ran leaves them behind.
/// Best effort: listing needs `rabbitmqctl`, and a failure only leaves them for later.
async fn sweep_leftovers(url: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let listed = tokio::task::spawn_blocking(|| {
        let list = |what: &str| {
            std::process::Command::new("rabbitmqctl")
                .args([what, "name", "-q"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        (list("list_queues"), list("list_exchanges"))
    })
    .await
    .unwrap_or_default();
    let stale = |name: &str| {
        name.strip_prefix("test_")
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok())
            .is_some_and(|started| started + LEFTOVER_AGE < now)
    };
    let Ok(connection) = connect(url, "imagefleet-test-sweep").await else {
        return;
    };
    let Ok(channel) = connection.create_channel().await else {
        return;
    };
    for queue in listed.0.lines().map(str::trim).filter(|n| stale(n)) {
        let _ = channel.queue_delete(queue.into(), Default::default()).await;
    }
    for exchange in listed.1.lines().map(str::trim).filter(|n| stale(n)) {
        let _ = channel
            .exchange_delete(exchange.into(), Default::default())
            .await;
    }
    let _ = connection.close(0, "swept".into()).await;
}

/// A topology that exists for one test.
pub struct TestBus {
    topology: Topology,
    url: String,
}

impl TestBus {
    /// Declares a fresh topology under `test_<unix seconds>_<random>`; the first one of
    /// a test process also sweeps leftovers of killed runs.
    pub async fn new() -> anyhow::Result<Self> {
        Self::sharded(1).await
    }

    /// As [`TestBus::new`], with the commands queue split into `shards` queues (the
    /// broker needs the `rabbitmq_consistent_hash_exchange` plugin from 2).
    pub async fn sharded(shards: u16) -> anyhow::Result<Self> {
        let url = amqp_url();
        SWEPT
            .get_or_init(|| async { sweep_leftovers(&url).await })
            .await;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        // Short retry delays keep the retry tests quick; the mechanism is the same.
        let topology = Topology::new(format!("test_{now}_{:08x}", rand::random::<u32>()))
            .with_retry_delays(
                [100, 200, 300]
                    .map(std::time::Duration::from_millis)
                    .to_vec(),
            )
            .with_command_shards(shards);
        let connection = connect(&url, "imagefleet-test-setup")
            .await
            .context("connecting to RabbitMQ")?;
        topology
            .declare(&connection)
            .await
            .context("declaring the test topology")?;
        connection.close(0, "set up".into()).await?;
        Ok(Self { topology, url })
    }

    /// The test's topology.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The broker URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Glance notifications of this test: to `<prefix>.glance` (declared by the relay
    /// that publishes to it, deleted with the topology), with Glance's topic and
    /// publisher id.
    pub fn notifications(&self) -> NotificationConfig {
        NotificationConfig {
            exchange: format!("{}.glance", self.topology.prefix()),
            ..NotificationConfig::default()
        }
    }
}

impl Drop for TestBus {
    fn drop(&mut self) {
        let (topology, url) = (self.topology.clone(), self.url.clone());
        let notifications = self.notifications().exchange;
        // Drop cannot await: clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let connection = connect(&url, "imagefleet-test-cleanup").await?;
                let channel = connection.create_channel().await?;
                topology.delete(&channel).await?;
                channel
                    .exchange_delete(notifications.as_str().into(), Default::default())
                    .await?;
                connection.close(0, "cleaned up".into()).await?;
                anyhow::Ok(())
            })
        });
        if let Ok(Err(error)) = cleanup.join() {
            eprintln!(
                "could not delete the test topology {}: {error}",
                self.topology.prefix()
            );
        }
    }
}
