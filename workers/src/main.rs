//! The `workers` binary: `workers migrate` applies the embedded migrations to the
//! configured database (creating it if missing).

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use shared::config::{DatabaseArgs, TelemetryArgs};

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
    /// Create the database if it is missing and apply pending migrations, then exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    shared::telemetry::init(&cli.telemetry);
    match cli.command {
        Command::Migrate { database } => {
            let applied = shared::db::migrate::run_migrations(&database.database_url)
                .await
                .context("applying migrations")?;
            tracing::info!(count = applied.len(), migrations = ?applied, "migrations applied");
        }
    }
    Ok(())
}
