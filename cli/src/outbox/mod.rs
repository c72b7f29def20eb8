//! `imagefleet outbox`: the outbox rows the relay quarantined after their publishes
//! kept failing (the broker nacked them, or the row does not encode), and their
//! release once the cause is fixed.
//!
//! - [`list`](list()) (`imagefleet outbox`, or `outbox list`) prints them, one JSON
//!   object per line, oldest first.
//! - [`retry`](retry()) (`imagefleet outbox retry --all | SEQ...`) hands them back to
//!   the relay, which publishes each before its aggregate's later events.
//!
//! A quarantined row holds back its image's (or task's) later events: nothing of that
//! aggregate reaches subscribers until it is released and published. Both talk to
//! Postgres only; the relay does the publishing.

mod list;
mod retry;

use std::process::ExitCode;

use clap::{Args, Subcommand};

pub use list::{ListArgs, list, row_json};
pub use retry::{RetryArgs, retry};

use crate::exit;

/// Arguments of `imagefleet outbox`: a subcommand, or none to list.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct OutboxArgs {
    /// What to do; listing when left out.
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    /// The listing's arguments when no subcommand is given.
    #[command(flatten)]
    pub list: ListArgs,
}

/// `imagefleet outbox` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum OutboxCommand {
    /// Print quarantined rows (one JSON object per line); the same as no subcommand.
    #[command(after_help = exit::HELP)]
    List(ListArgs),
    /// Release quarantined rows so the relay publishes them again, in order (`--all`,
    /// or their `seq` numbers as `list` prints them).
    #[command(after_help = exit::HELP)]
    Retry(RetryArgs),
}

/// Runs `imagefleet outbox [list]` or `imagefleet outbox retry`.
pub async fn run(args: OutboxArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => print_list(&args.list).await,
        Some(OutboxCommand::List(list)) => print_list(&list).await,
        Some(OutboxCommand::Retry(retry_args)) => {
            let released = retry(&retry_args.database_url, &retry_args.release()).await?;
            let seqs: Vec<String> = released.iter().map(i64::to_string).collect();
            println!(
                "released {} row(s){}{}",
                released.len(),
                if seqs.is_empty() { "" } else { ": " },
                seqs.join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn print_list(args: &ListArgs) -> anyhow::Result<ExitCode> {
    for row in list(&args.database_url, args.limit).await? {
        println!("{}", row_json(&row));
    }
    Ok(ExitCode::SUCCESS)
}
