//! Starts a worker: a consumer for each work queue over one shared repository, an
//! outbox relay candidate and a janitor candidate, and runs them until shutdown. Any
//! number of workers may run against the same Postgres and
//! RabbitMQ; they compete for deliveries.

use std::time::Duration;

use db::{PoolOptions, SessionSettings, build_pool};

use apply::Repository;
use bus::flow::PublishFlow;
use bus::intake::IntakePolicy;
use bus::{Topology, WorkQueue};
use domain::DomainConfig;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use notifications::NotificationConfig;
use outbox::{RelayConfig, run_relay};

use crate::consumer::{ConsumerConfig, run_consumer};
use crate::delivery::DeliveryContext;
use crate::group_commit::{CommitterConfig, GroupCommitter};
use crate::janitor::{Janitor, JanitorConfig, run_janitor};
use crate::jobs::{ImportPlugins, JobContext};
use crate::progress::Progress;
use fetch::SafeFetcher;
use store::Stores;

/// Everything a worker needs; the binary builds it from flags, tests directly.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Postgres URL.
    pub database_url: String,
    /// Postgres connections of this worker.
    pub pool_size: usize,
    /// RabbitMQ URL.
    pub amqp_url: String,
    /// Names of exchanges and queues.
    pub topology: Topology,
    /// How commands are decided.
    pub domain: DomainConfig,
    /// Commands applied at once per queue: on the command queue, the transactions open
    /// at once (each may group up to `commit_batch` commands).
    pub concurrency: usize,
    /// The most commands one transaction commits (group commit); 1 commits each alone.
    /// The command queue takes `concurrency` x `commit_batch` deliveries at once.
    pub commit_batch: usize,
    /// Longest wait for the broker's confirm of a reply, retry or dead letter
    /// ([`crate::publisher::DEFAULT_CONFIRM_TIMEOUT`] unless told otherwise).
    pub confirm_timeout: Duration,
    /// Where the consumers' publishing connections report being blocked by the broker:
    /// give the same value to the operations port ([`crate::ops::OpsConfig`]).
    pub flow: PublishFlow,
    /// Name of this worker, shown on its broker connections.
    pub name: String,
    /// The work queues it consumes: both by default; a site may keep long imports off
    /// the workers that answer commands.
    pub queues: Vec<WorkQueue>,
    /// Time between janitor rounds (stale leases, task expiry, scrubber); one worker of
    /// the fleet leads them. None runs no janitor candidate: only for tests that send
    /// the janitor's commands themselves.
    pub janitor_interval: Option<Duration>,
    /// How long the janitor keeps a command's record (`processed_commands`): a
    /// redelivery later than that is treated as a new command.
    pub processed_retention: Duration,
    /// How long a multipart upload of an S3 store may run before the janitor aborts it
    /// as abandoned.
    pub multipart_grace: Duration,
    /// Where image data is.
    pub stores: Stores,
    /// Reads web-download and location URLs behind the import filter.
    pub fetcher: SafeFetcher,
    /// Where this worker's relay candidate sends Glance notifications; None sends none.
    pub notifications: Option<NotificationConfig>,
    /// What the consumers admit, and from which producers.
    pub intake: IntakePolicy,
    /// Where the worker counts what it applies; the operations port's `/readyz` reads
    /// the same (pass a clone to [`crate::ops::OpsConfig`]).
    pub progress: Progress,
    /// The import plugins import jobs run.
    pub plugins: ImportPlugins,
}

/// Why a worker could not start.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The database pool could not be built.
    #[error(transparent)]
    Database(#[from] db::DbError),
}

/// Runs the worker until `shutdown` is cancelled and every in-flight command is settled.
pub async fn run_fleet(config: FleetConfig, shutdown: CancellationToken) -> Result<(), FleetError> {
    // Idempotent: `imagefleet up` and tests start several workers (and a gateway) in
    // one process, all recording into the one recorder.
    shared::metrics::install();
    let pool = build_pool(
        &config.database_url,
        PoolOptions {
            max_size: config.pool_size,
            ..PoolOptions::default()
        },
    )?;
    let repository = Repository::new(pool, config.domain.clone());
    let commit_batch = config
        .commit_batch
        .clamp(1, usize::from(crate::group_commit::MAX_COMMIT_BATCH));
    let bound = SessionSettings::from_url(&config.database_url)?.transaction_bound();
    let committer = CommitterConfig {
        lanes: config.concurrency,
        batch: commit_batch,
        bound,
        progress: config.progress.clone(),
    };
    let context = DeliveryContext {
        committer: GroupCommitter::start(repository.clone(), committer),
        jobs: JobContext {
            // A job runs its steps again under the same ids after a transient failure:
            // a step out of races must not be found refused for good then.
            repository: repository.clone().leaving_contention_unrecorded(),
            stores: config.stores.clone(),
            fetcher: config.fetcher.clone(),
            image_size_cap: u64::try_from(config.domain.image_size_cap).unwrap_or(0),
            database_url: config.database_url.clone(),
            trace: None,
            bound,
            plugins: std::sync::Arc::new(config.plugins.clone()),
        },
    };
    let mut tasks = JoinSet::new();
    for &queue in &config.queues {
        // Groups form from the deliveries waiting for a lane, so the command queue
        // takes enough of them to fill every lane's batch.
        let concurrency = match queue {
            WorkQueue::Commands => config.concurrency.saturating_mul(commit_batch),
            WorkQueue::Jobs => config.concurrency,
        };
        let consumer = ConsumerConfig {
            amqp_url: config.amqp_url.clone(),
            topology: config.topology.clone(),
            queue,
            concurrency,
            name: format!("{}-{}", config.name, config.topology.queue(queue)),
            intake: config.intake.clone(),
            confirm_timeout: config.confirm_timeout,
            flow: config.flow.clone(),
        };
        tasks.spawn(run_consumer(consumer, context.clone(), shutdown.clone()));
    }
    let mut relay = RelayConfig::new(
        &config.database_url,
        &config.amqp_url,
        config.topology.clone(),
    );
    relay.connection_name = format!("{}-relay", config.name);
    relay.notifications = config.notifications.clone();
    let relay_shutdown = shutdown.clone();
    tasks.spawn(async move {
        if let Err(error) = run_relay(relay, relay_shutdown).await {
            tracing::error!(%error, "the outbox relay stopped");
        }
    });
    if config.plugins.touch_data() {
        tasks.spawn(sweep_scratch(config.plugins.clone(), shutdown.clone()));
    }
    if let Some(interval) = config.janitor_interval {
        let janitor = Janitor {
            repository,
            stores: config.stores.clone(),
            bound,
        };
        let janitor_config = JanitorConfig {
            processed_retention: config.processed_retention,
            multipart_grace: config.multipart_grace,
            ..JanitorConfig::new(&config.database_url, interval)
        };
        tasks.spawn(run_janitor(janitor_config, janitor, shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

/// Removes the scratch directories of killed jobs at startup and then every quarter of
/// their maximum age, on every worker (each sweeps the directory it uses; see
/// [`ImportPlugins::sweep_scratch`]).
async fn sweep_scratch(plugins: ImportPlugins, shutdown: CancellationToken) {
    let every = (plugins.scratch_max_age / 4).max(Duration::from_secs(1));
    loop {
        match plugins.sweep_scratch().await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed scratch directories of killed jobs"),
            Err(error) => tracing::warn!(%error, "sweeping the scratch directory failed"),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
