//! The `workers` binary: `workers run` consumes commands until SIGTERM and serves
//! `/metrics`, `/healthz` and `/readyz` on `IMAGEFLEET_METRICS_BIND`; `workers
//! migrate` applies the embedded migrations to the configured database (creating it if
//! missing).

use anyhow::Context as _;
use bus::AmqpArgs;
use bus::WorkQueue;
use bus::flow::PublishFlow;
use bus::intake::IntakeArgs;
use clap::{Args, Parser, Subcommand};
use db::DatabaseArgs;
use fetch::ImportFilterArgs;
use notifications::NotificationsArgs;
use shared::config::{DomainArgs, TelemetryArgs};
use std::net::SocketAddr;
use store::StoreArgs;
use workers::ops::{DEFAULT_METRICS_BIND, OpsConfig, serve_ops};
use workers::{FleetConfig, run_fleet};

/// imagefleet's worker fleet.
#[derive(Debug, Parser)]
#[command(name = "workers", version, about)]
struct Cli {
    #[command(flatten)]
    telemetry: TelemetryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Consume and apply commands until SIGTERM or Ctrl-C.
    Run(Box<RunArgs>),
    /// Create the database if it is missing and apply pending migrations, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    amqp: AmqpArgs,
    #[command(flatten)]
    domain: DomainArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    import: ImportFilterArgs,
    #[command(flatten)]
    notifications: NotificationsArgs,
    #[command(flatten)]
    intake: IntakeArgs,
    /// The work queues to consume: `commands` (state commands) and `jobs` (imports,
    /// location hashing, data removal); both by default.
    #[arg(long, env = "IMAGEFLEET_QUEUES", value_enum, value_delimiter = ',', default_values_t = WorkQueue::ALL)]
    queues: Vec<WorkQueue>,
    /// Commands applied at once, per queue (on the command queue: transactions open at
    /// once, each grouping up to `commit_batch` commands).
    #[arg(long, env = "IMAGEFLEET_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// The most commands one transaction commits (group commit; at most 32, a larger
    /// value is refused); 1 commits each alone.
    #[arg(long, env = "IMAGEFLEET_COMMIT_BATCH", default_value_t = shared::config::DEFAULT_COMMIT_BATCH,
          value_parser = clap::value_parser!(u16).range(1..=i64::from(shared::config::MAX_COMMIT_BATCH)))]
    commit_batch: u16,
    /// Seconds to wait for the broker's confirm of a reply, retry or dead letter; past
    /// it the delivery is requeued, unacked.
    #[arg(long, env = "IMAGEFLEET_CONFIRM_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    confirm_timeout: u64,
    /// Seconds between janitor rounds: stale uploads and imports given back, expired
    /// tasks purged, pending_delete images scrubbed. Every worker runs a candidate; the
    /// one holding the janitor's advisory lock acts.
    #[arg(long, env = "IMAGEFLEET_JANITOR_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    janitor_interval: u64,
    /// Seconds a command's record (`processed_commands`) is kept to answer its
    /// redeliveries; the janitor deletes older ones, and a command delivered again
    /// after that is treated as new.
    #[arg(long, env = "IMAGEFLEET_PROCESSED_RETENTION", default_value_t = 604_800,
          value_parser = clap::value_parser!(u64).range(1..))]
    processed_retention: u64,
    /// Address of the operations port: `/metrics` (Prometheus), `/healthz`, `/readyz`.
    #[arg(long, env = "IMAGEFLEET_METRICS_BIND", default_value = DEFAULT_METRICS_BIND)]
    metrics_bind: SocketAddr,
    /// Apply pending migrations before starting (for development).
    #[arg(long, env = "IMAGEFLEET_MIGRATE_ON_START", default_value_t = false)]
    migrate: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the OTLP export (with that feature).
    let _telemetry = shared::telemetry::init(&cli.telemetry, "imagefleet-workers");
    match cli.command {
        Command::Migrate { database } => migrate(&database).await,
        Command::Run(args) => {
            if args.migrate {
                migrate(&args.database).await?;
            }
            let domain = args.domain.to_domain();
            let config = FleetConfig {
                store: args.store.open().context("opening the image store")?,
                fetcher: args
                    .import
                    .fetcher(u64::try_from(domain.image_size_cap).unwrap_or(0)),
                database_url: args
                    .database
                    .session_url()
                    .context("IMAGEFLEET_DATABASE_URL")?,
                pool_size: args.database.database_pool_size,
                amqp_url: args.amqp.amqp_url.clone(),
                topology: args.amqp.topology(),
                domain,
                concurrency: args.concurrency,
                commit_batch: usize::from(args.commit_batch),
                confirm_timeout: std::time::Duration::from_secs(args.confirm_timeout),
                flow: PublishFlow::default(),
                name: format!("imagefleet-worker-{}", std::process::id()),
                queues: args.queues.clone(),
                janitor_interval: Some(std::time::Duration::from_secs(args.janitor_interval)),
                processed_retention: std::time::Duration::from_secs(args.processed_retention),
                notifications: args.notifications.to_config(),
                intake: args.intake.to_policy(),
                progress: workers::progress::Progress::default(),
            };
            let ops = OpsConfig {
                bind: args.metrics_bind,
                database_url: config.database_url.clone(),
                amqp_url: config.amqp_url.clone(),
                name: format!("{}-probe", config.name),
                progress: Some(config.progress.clone()),
                flow: config.flow.clone(),
            };
            let shutdown = shared::shutdown::on_signal();
            let serving = async {
                let served = serve_ops(ops, shutdown.clone()).await;
                // A worker whose port cannot be served stops rather than run unwatched.
                if served.is_err() {
                    shutdown.cancel();
                }
                served
            };
            let (fleet, served) = tokio::join!(run_fleet(config, shutdown.clone()), serving);
            served.context("serving the metrics port")?;
            fleet.context("running the worker")
        }
    }
}

async fn migrate(database: &DatabaseArgs) -> anyhow::Result<()> {
    let applied = db::migrate::run_migrations(&database.database_url)
        .await
        .context("applying migrations")?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}
