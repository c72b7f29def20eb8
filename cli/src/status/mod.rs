//! `imagefleet status`: one look at the whole fleet for an operator or a script.
//! Per queue of the topology (work, retry and dead-letter queues) the messages waiting
//! and the consumers attached; the outbox lag (how many events are unpublished, how
//! many of them the relay quarantined, and the age of the oldest); who leads the outbox relay and the janitor (the Postgres
//! session holding each advisory lock: pid, `application_name`, client address); the
//! workers connected and where each one's operations port answers (their sessions'
//! names say it); and whether the migrations are current. Nothing is changed.
//!
//! Exit codes: 0 all fine, 5 something needs attention (see
//! [`StatusReport::attention`]), 6 Postgres or RabbitMQ unreachable.
//!
//! - [`probe`]: reading the broker and the database.
//! - [`report`]: what was found and what it means.
//! - [`render`]: the table and the JSON.

pub mod probe;
pub mod render;
pub mod report;

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use bus::AmqpArgs;
use clap::Args;
use db::DEFAULT_DATABASE_URL;

pub use report::StatusReport;

/// Arguments of `imagefleet status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// Postgres URL (the fleet's database; nothing is created or changed).
    #[arg(long, env = "IMAGEFLEET_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Seconds the oldest unpublished outbox event may wait before it needs attention.
    #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
    pub max_outbox_lag: f64,
    /// Seconds each of Postgres and RabbitMQ has to answer before it counts as
    /// unreachable.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Reads the broker and the database side by side and judges what was found.
pub async fn gather(args: &StatusArgs) -> anyhow::Result<StatusReport> {
    let max_outbox_lag = Duration::try_from_secs_f64(args.max_outbox_lag)
        .context("--max-outbox-lag must be a non-negative number of seconds")?;
    let timeout = Duration::try_from_secs_f64(args.timeout)
        .context("--timeout must be a non-negative number of seconds")?;
    let topology = args.amqp.topology();
    let (queues, database) = tokio::join!(
        probe::queues(&args.amqp.amqp_url, &topology, timeout),
        probe::database(&args.database_url, timeout),
    );
    Ok(StatusReport {
        queues,
        database,
        max_outbox_lag,
    })
}

/// Runs `imagefleet status`: prints the report and exits with its verdict.
pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let report = gather(&args).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&render::json(&report))?);
    } else {
        print!("{}", render::table(&report));
    }
    Ok(ExitCode::from(report.exit_code()))
}
