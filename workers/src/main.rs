//! The `workers` binary: `workers run` consumes commands until SIGTERM; `workers
//! migrate` applies the embedded migrations to the configured database (creating it if
//! missing).

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use shared::config::{AmqpArgs, DatabaseArgs, DomainArgs, TelemetryArgs};
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
    Run(RunArgs),
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
    /// Commands processed at once, per queue.
    #[arg(long, env = "IMAGEFLEET_CONCURRENCY", default_value_t = 8)]
    concurrency: usize,
    /// Deliveries the broker sends ahead of acks, per queue.
    #[arg(long, env = "IMAGEFLEET_PREFETCH", default_value_t = 16)]
    prefetch: u16,
    /// Seconds between janitor rounds: stale uploads and imports given back, expired
    /// tasks purged, pending_delete images scrubbed. Every worker runs a candidate; the
    /// one holding the janitor's advisory lock acts.
    #[arg(long, env = "IMAGEFLEET_JANITOR_INTERVAL", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    janitor_interval: u64,
    /// Apply pending migrations before starting (for development).
    #[arg(long, env = "IMAGEFLEET_MIGRATE_ON_START", default_value_t = false)]
    migrate: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    shared::telemetry::init(&cli.telemetry);
    match cli.command {
        Command::Migrate { database } => migrate(&database).await,
        Command::Run(args) => {
            if args.migrate {
                migrate(&args.database).await?;
            }
            let config = FleetConfig {
                database_url: args.database.database_url,
                pool_size: args.database.database_pool_size,
                amqp_url: args.amqp.amqp_url.clone(),
                topology: args.amqp.topology(),
                domain: args.domain.to_domain(),
                concurrency: args.concurrency,
                prefetch: args.prefetch,
                name: format!("imagefleet-worker-{}", std::process::id()),
                janitor_interval: Some(std::time::Duration::from_secs(args.janitor_interval)),
            };
            run_fleet(config, shared::shutdown::on_signal())
                .await
                .context("running the worker")
        }
    }
}

async fn migrate(database: &DatabaseArgs) -> anyhow::Result<()> {
    let applied = shared::db::migrate::run_migrations(&database.database_url)
        .await
        .context("applying migrations")?;
    tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
    Ok(())
}
