//! `imagefleet up`: the whole service in one process for development and small sites:
//! applies the migrations, starts N workers (consumers and an outbox relay candidate
//! each) and the gateway, and runs until SIGTERM or Ctrl-C. A request with no identity
//! acts as project `default` with roles member and reader, so `glance` and openstacksdk
//! work out of the box; set `IMAGEFLEET_DEFAULT_PROJECT` to choose another.

use std::process::ExitCode;

use anyhow::Context as _;
use api_gateway::config::GatewayArgs;
use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use workers::{FleetConfig, run_fleet};

/// The project anonymous requests act as under `up`.
pub const DEVELOPMENT_PROJECT: &str = "default";

/// Arguments of `imagefleet up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(flatten)]
    intake: bus::intake::IntakeArgs,
    /// Workers to run in this process.
    #[arg(long, env = "IMAGEFLEET_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Commands each worker applies at once, per queue (on the command queue:
    /// transactions open at once, each grouping up to `commit_batch` commands).
    #[arg(long, env = "IMAGEFLEET_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// The most commands one transaction commits (group commit; at most 32); 1 commits
    /// each alone.
    #[arg(long, env = "IMAGEFLEET_COMMIT_BATCH", default_value_t = shared::config::DEFAULT_COMMIT_BATCH,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(shared::config::MAX_COMMIT_BATCH)))]
    commit_batch: u16,
    /// Seconds between janitor rounds (stale leases, task expiry, scrubber); one
    /// worker's janitor leads.
    #[arg(long, env = "IMAGEFLEET_JANITOR_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    janitor_interval: u64,
    /// Seconds a command's record (`processed_commands`) is kept to answer its
    /// redeliveries; the janitor deletes older ones, and a command delivered again
    /// after that is treated as new.
    #[arg(long, env = "IMAGEFLEET_PROCESSED_RETENTION", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    processed_retention: u64,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    run_until(args, shared::shutdown::on_signal()).await
}

/// Runs the service until `shutdown` is cancelled, then stops the gateway and the
/// workers gracefully (the client tests run it in-process this way).
pub async fn run_until(args: UpArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let UpArgs {
        mut gateway,
        intake,
        workers,
        concurrency,
        commit_batch,
        janitor_interval,
        processed_retention,
    } = args;
    let applied = db::migrate::run_migrations(&gateway.database.database_url)
        .await
        .context("applying migrations")?;
    tracing::info!(count = applied.len(), "migrations applied");
    gateway
        .default_project
        .get_or_insert_with(|| DEVELOPMENT_PROJECT.to_owned());
    let mut fleet = JoinSet::new();
    let store = gateway.store.open().context("opening the image store")?;
    let domain = gateway.domain.to_domain();
    let fetcher = gateway
        .import
        .fetcher(u64::try_from(domain.image_size_cap).unwrap_or(0));
    let database_url = gateway
        .database
        .session_url()
        .context("IMAGEFLEET_DATABASE_URL")?;
    for n in 0..workers {
        let config = FleetConfig {
            store: store.clone(),
            fetcher: fetcher.clone(),
            database_url: database_url.clone(),
            pool_size: gateway.database.database_pool_size,
            amqp_url: gateway.amqp.amqp_url.clone(),
            topology: gateway.amqp.topology(),
            domain: domain.clone(),
            concurrency,
            commit_batch: usize::from(commit_batch),
            confirm_timeout: workers::publisher::DEFAULT_CONFIRM_TIMEOUT,
            flow: Default::default(),
            name: format!("imagefleet-up-worker-{n}"),
            queues: bus::WorkQueue::ALL.to_vec(),
            janitor_interval: Some(std::time::Duration::from_secs(janitor_interval)),
            processed_retention: std::time::Duration::from_secs(processed_retention),
            notifications: gateway.notifications.to_config(),
            intake: intake.to_policy(),
            progress: Default::default(),
        };
        fleet.spawn(run_fleet(config, shutdown.clone()));
    }
    tracing::info!(workers, bind = %gateway.bind, "imagefleet is up");
    let served = api_gateway::serve::serve(gateway, shutdown.clone()).await;
    // The gateway stopped (shutdown or failure): stop the workers too, gracefully.
    shutdown.cancel();
    while let Some(stopped) = fleet.join_next().await {
        stopped.context("a worker task")?.context("a worker")?;
    }
    served.context("running the gateway")?;
    Ok(ExitCode::SUCCESS)
}
