//! The worker fleet's flags, defined once for `workers run` and `imagefleet up` (both
//! flatten [`FleetArgs`]), and the one function that turns them, with the service's
//! shared flags ([`ServiceArgs`]), into a [`FleetConfig`].

use crate::group_commit::{DEFAULT_COMMIT_BATCH, MAX_COMMIT_BATCH};
use bus::AmqpArgs;
use bus::WorkQueue;
use bus::flow::PublishFlow;
use bus::intake::IntakeArgs;
use clap::Args;
use db::DatabaseArgs;
use domain::DomainConfig;
use fetch::ImportFilterArgs;
use notifications::NotificationsArgs;
use shared::config::DomainArgs;
use std::time::Duration;
use store::StoreArgs;

use crate::FleetConfig;
use crate::plugin_args::{PluginArgs, PluginArgsError};
use crate::progress::Progress;
use crate::publisher::DEFAULT_CONFIRM_TIMEOUT;

/// How the workers of a fleet run: what they admit, how much at once, and the
/// janitor's pace.
#[derive(Debug, Args)]
pub struct FleetArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub intake: IntakeArgs,
    /// Commands applied at once, per queue (on the command queue: transactions open at
    /// once, each grouping up to `commit_batch` commands).
    #[arg(long, env = "IMAGEFLEET_CONCURRENCY", default_value_t = 8)]
    pub concurrency: usize,
    /// The most commands one transaction commits (group commit; at most 32, a larger
    /// value is refused); 1 commits each alone.
    #[arg(long, env = "IMAGEFLEET_COMMIT_BATCH", default_value_t = DEFAULT_COMMIT_BATCH,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_COMMIT_BATCH)))]
    pub commit_batch: u16,
    /// Seconds between janitor rounds: stale uploads and imports given back, expired
    /// tasks purged, pending_delete images scrubbed. Every worker runs a candidate; the
    /// one holding the janitor's advisory lock acts.
    #[arg(long, env = "IMAGEFLEET_JANITOR_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub janitor_interval: u64,
    /// Seconds a command's record (`processed_commands`) is kept to answer its
    /// redeliveries; the janitor deletes older ones, and a command delivered again
    /// after that is treated as new.
    #[arg(long, env = "IMAGEFLEET_PROCESSED_RETENTION", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub processed_retention: u64,
    /// Seconds a multipart upload of an S3 store may run before the janitor aborts it
    /// as abandoned (left by a process killed mid-write). No write outlives its data
    /// lease, so a grace of at least `IMAGEFLEET_DATA_LEASE` never aborts a live one;
    /// an hour (the default lease) is the least accepted.
    #[arg(long, env = "IMAGEFLEET_MULTIPART_GRACE", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(3600..))]
    pub multipart_grace: u64,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub plugins: PluginArgs,
}

/// The service's flags a fleet reads besides its own: `workers run` holds them itself,
/// `imagefleet up` shares the gateway's.
#[derive(Debug, Clone, Copy)]
pub struct ServiceArgs<'a> {
    /// Postgres.
    pub database: &'a DatabaseArgs,
    /// RabbitMQ and the topology's names.
    pub amqp: &'a AmqpArgs,
    /// How commands are decided.
    pub domain: &'a DomainArgs,
    /// Where image data is.
    pub store: &'a StoreArgs,
    /// What imports may read.
    pub import: &'a ImportFilterArgs,
    /// Glance notifications.
    pub notifications: &'a NotificationsArgs,
}

/// Why the flags do not make a fleet.
#[derive(Debug, thiserror::Error)]
pub enum FleetArgsError {
    /// The image store cannot be opened.
    #[error("opening the image store")]
    Store(#[source] store::StoreError),
    /// The database URL or its session settings are unusable.
    #[error("IMAGEFLEET_DATABASE_URL")]
    DatabaseUrl(#[source] db::DbError),
    /// The import plugins' settings are unusable.
    #[error("the import plugins' settings")]
    Plugins(#[source] PluginArgsError),
}

impl FleetArgs {
    /// The configuration of a worker called `name` that consumes every work queue,
    /// waits [`DEFAULT_CONFIRM_TIMEOUT`] for confirms and counts into a progress and a
    /// publish flow of its own.
    pub fn config(
        &self,
        service: ServiceArgs<'_>,
        name: String,
    ) -> Result<FleetConfig, FleetArgsError> {
        let stores = service.store.open().map_err(FleetArgsError::Store)?;
        let domain = DomainConfig {
            stores: stores.ids(),
            ..service.domain.to_domain()
        };
        Ok(FleetConfig {
            stores,
            fetcher: service
                .import
                .fetcher(u64::try_from(domain.image_size_cap).unwrap_or(0)),
            database_url: service
                .database
                .session_url()
                .map_err(FleetArgsError::DatabaseUrl)?,
            pool_size: service.database.database_pool_size,
            amqp_url: service.amqp.amqp_url.clone(),
            topology: service.amqp.topology(),
            domain,
            concurrency: self.concurrency,
            commit_batch: usize::from(self.commit_batch),
            confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
            flow: PublishFlow::default(),
            name,
            queues: WorkQueue::ALL.to_vec(),
            janitor_interval: Some(Duration::from_secs(self.janitor_interval)),
            processed_retention: Duration::from_secs(self.processed_retention),
            multipart_grace: Duration::from_secs(self.multipart_grace),
            notifications: service.notifications.to_config(),
            intake: self.intake.to_policy(),
            progress: Progress::default(),
            plugins: self.plugins.to_plugins().map_err(FleetArgsError::Plugins)?,
        })
    }
}
