//! The `workers` binary: `workers run` consumes commands until SIGTERM and serves
//! `/metrics`, `/healthz` and `/readyz` on `IMAGEFLEET_METRICS_BIND` (unset: the first
//! free port of 127.0.0.1 from 9464); `workers
//! migrate` applies the embedded migrations to the configured database (creating it if
//! missing).

use anyhow::Context as _;
use bus::AmqpArgs;
use bus::WorkQueue;
use clap::{Args, Parser, Subcommand};
use db::DatabaseArgs;
use fetch::ImportFilterArgs;
use notifications::NotificationsArgs;
use shared::config::{DomainArgs, TelemetryArgs};
use std::net::SocketAddr;
use store::StoreArgs;
use workers::ops::{OpsConfig, OpsPort};
use workers::ops_port::{OpsBind, named_sessions_url};
use workers::{FleetArgs, FleetConfig, ServiceArgs, run_fleet};

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
    fleet: FleetArgs,
    /// The work queues to consume: `commands` (state commands) and `jobs` (imports,
    /// location hashing, data removal); both by default.
    #[arg(long, env = "IMAGEFLEET_QUEUES", value_enum, value_delimiter = ',', default_values_t = WorkQueue::ALL)]
    queues: Vec<WorkQueue>,
    /// Seconds to wait for the broker's confirm of a reply, retry or dead letter; past
    /// it the delivery is requeued, unacked.
    #[arg(long, env = "IMAGEFLEET_CONFIRM_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    confirm_timeout: u64,
    /// Address of the operations port: `/metrics` (Prometheus), `/healthz`, `/readyz`.
    /// Unset: the first free port of 127.0.0.1 from 9464 to 9563 (one per worker of a
    /// host; the start-up log line names it); set: this address, and a taken one stops
    /// the worker with an error.
    #[arg(long, env = "IMAGEFLEET_METRICS_BIND")]
    metrics_bind: Option<SocketAddr>,
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
            let service = ServiceArgs {
                database: &args.database,
                amqp: &args.amqp,
                domain: &args.domain,
                store: &args.store,
                import: &args.import,
                notifications: &args.notifications,
            };
            let name = format!("imagefleet-worker-{}", std::process::id());
            let mut config = FleetConfig {
                queues: args.queues.clone(),
                confirm_timeout: std::time::Duration::from_secs(args.confirm_timeout),
                ..args.fleet.config(service, name)?
            };
            let ops = OpsConfig {
                bind: OpsBind::from_setting(args.metrics_bind),
                database_url: config.database_url.clone(),
                amqp_url: config.amqp_url.clone(),
                name: format!("{}-probe", config.name),
                progress: Some(config.progress.clone()),
                flow: config.flow.clone(),
            };
            // Bound before the fleet connects, so its sessions can name the port for
            // `imagefleet status`.
            let ops_port = OpsPort::bind(&ops).await?;
            config.database_url =
                named_sessions_url(&config.database_url, &config.name, ops_port.address()?)?;
            let shutdown = shared::shutdown::on_signal();
            let serving = async {
                let served = ops_port.serve(shutdown.clone()).await;
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
