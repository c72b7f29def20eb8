//! `imagefleet`: the operator's command line. `up` runs the whole service in one
//! process, `migrate` applies the migrations, `publish` sends a command (and with
//! `--wait` prints the reply), `tail` prints events as they are published, `dlq list`,
//! `dlq replay` and `dlq purge` inspect, drain and empty the dead-letter queues,
//! `outbox` lists and `outbox retry` releases quarantined outbox rows, and `status`
//! reports queue depths, outbox lag and quarantine, leaders and migrations. Every subcommand
//! reads the broker and prefix from `--amqp-url`/`--topology-prefix` or `IMAGEFLEET_*`;
//! the exit codes are one scheme for all (see [`imagefleet_cli::exit`]).
//!
//! New subcommands: add a module to the library, a variant to [`Command`] and an arm
//! to [`Command::run`].

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use imagefleet_cli::{dlq, exit, outbox, publish, status, tail, up};
use shared::config::TelemetryArgs;

/// imagefleet's operator command.
#[derive(Debug, Parser)]
#[command(name = "imagefleet", version, about, after_help = exit::HELP)]
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
    #[command(after_help = exit::HELP)]
    Up(Box<up::UpArgs>),
    /// Create the database if missing and apply pending migrations, then exit.
    #[command(after_help = exit::HELP)]
    Migrate(db::DatabaseArgs),
    /// Send a command from a JSON file or standard input; `--wait` prints the reply
    /// (exit code 0 accepted, 3 rejected, 4 no reply in time, 1 other errors).
    #[command(after_help = exit::HELP)]
    Publish(publish::PublishArgs),
    /// Print events from the events exchange, one JSON object per line.
    #[command(after_help = exit::HELP)]
    Tail(tail::TailArgs),
    /// Inspect, replay or purge a dead-letter queue (`purge` needs `--yes`, else exit
    /// code 7).
    #[command(subcommand, after_help = exit::HELP)]
    Dlq(dlq::DlqCommand),
    /// List the outbox rows quarantined after failed publishes, or release them with
    /// `retry --all | SEQ...` so the relay publishes them again, in order.
    #[command(after_help = exit::HELP)]
    Outbox(outbox::OutboxArgs),
    /// Report queue depths and consumers, outbox lag, the relay and janitor leaders and
    /// the migrations (exit code 0 all fine, 5 needs attention, 6 unreachable).
    #[command(after_help = exit::HELP)]
    Status(status::StatusArgs),
}

impl Command {
    async fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Up(args) => up::run(*args).await,
            Command::Migrate(database) => {
                let applied = db::migrate::run_migrations(&database.database_url).await?;
                println!("applied {} migration(s)", applied.len());
                Ok(ExitCode::SUCCESS)
            }
            Command::Publish(args) => publish::run(args).await,
            Command::Tail(args) => tail::run(args).await,
            Command::Dlq(command) => dlq::run(command).await,
            Command::Outbox(args) => outbox::run(args).await,
            Command::Status(args) => status::run(args).await,
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the OTLP export (with that feature).
    let _telemetry = shared::telemetry::init(&cli.telemetry, "imagefleet");
    match cli.command.run().await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit::ERROR)
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
