//! `TestBus`: one test's own exchanges and queues on the real RabbitMQ, under a random
//! name prefix, declared at creation and deleted when the value is dropped.

use anyhow::Context as _;
use shared::messaging::Topology;
use shared::messaging::connection::connect;

/// Environment variable naming the broker tests use.
pub const AMQP_URL_ENV: &str = "IMAGEFLEET_TEST_AMQP_URL";

const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// The broker URL tests use: `IMAGEFLEET_TEST_AMQP_URL`, or the local RabbitMQ.
pub fn amqp_url() -> String {
    std::env::var(AMQP_URL_ENV).unwrap_or_else(|_| DEFAULT_AMQP_URL.to_owned())
}

/// A topology that exists for one test.
pub struct TestBus {
    topology: Topology,
    url: String,
}

impl TestBus {
    /// Declares a fresh topology under `test_<random>`.
    pub async fn new() -> anyhow::Result<Self> {
        let url = amqp_url();
        // Short retry delays keep the retry tests quick; the mechanism is the same.
        let topology = Topology::new(format!("test_{:016x}", rand::random::<u64>()))
            .with_retry_delays(
                [100, 200, 300]
                    .map(std::time::Duration::from_millis)
                    .to_vec(),
            );
        let connection = connect(&url, "imagefleet-test-setup")
            .await
            .context("connecting to RabbitMQ")?;
        let channel = connection.create_channel().await?;
        topology
            .declare(&channel)
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
}

impl Drop for TestBus {
    fn drop(&mut self) {
        let (topology, url) = (self.topology.clone(), self.url.clone());
        // Drop cannot await: clean up on a thread with a runtime of its own.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let connection = connect(&url, "imagefleet-test-cleanup").await?;
                let channel = connection.create_channel().await?;
                topology.delete(&channel).await?;
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
