//! `imagefleet`: the operator's command line. `up` runs the whole service in one
//! process, `migrate` applies the migrations, `publish` sends a command (and with
//! `--wait` prints the reply), `tail` prints events as they are published, `dlq list`
//! and `dlq replay` inspect and drain the dead-letter queues. Every subcommand reads
//! the broker and prefix from `--amqp-url`/`--topology-prefix` or `IMAGEFLEET_*`.
//!
//! New subcommands: add a module to the library, a variant to [`Command`] and an arm
//! to [`Command::run`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imagefleet_cli::{dlq, publish, tail, up};
use shared::config::TelemetryArgs;

/// imagefleet's operator command.
#[derive(Debug, Parser)]
#[command(name = "imagefleet", version, about)]
struct Cli {
    #[command(flatten)]
    telemetry: TelemetryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run migrations, N workers and the gateway in one process (development and small
    /// sites); stops gracefully on SIGTERM or Ctrl-C.
    Up(Box<up::UpArgs>),
    /// Create the database if missing and apply pending migrations, then exit.
    Migrate(shared::config::DatabaseArgs),
    /// Send a command from a JSON file or standard input; `--wait` prints the reply
    /// (exit code 0 accepted, 3 rejected, 4 no reply in time, 1 other errors).
    Publish(publish::PublishArgs),
    /// Print events from the events exchange, one JSON object per line.
    Tail(tail::TailArgs),
    /// Inspect or replay a dead-letter queue.
    #[command(subcommand)]
    Dlq(dlq::DlqCommand),
}

impl Command {
    async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Up(args) => up::run(*args).await,
            Command::Migrate(database) => {
                let applied = shared::db::migrate::run_migrations(&database.database_url).await?;
                println!("applied {} migration(s)", applied.len());
                Ok(ExitCode::SUCCESS)
            }
            Command::Publish(args) => publish::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Dlq(command) => dlq::run(command).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    shared::telemetry::init(&cli.telemetry);
    match cli.command.run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(publish::EXIT_ERROR)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }
}
