//! `imagefleet dlq`: look into the dead-letter queues, move their messages back, or
//! remove them for good.
//!
//! - [`list`](list()) reads messages without removing them (held unacknowledged, then
//!   handed back).
//! - [`replay`](replay()) republishes them to their work queue with a clean failure
//!   record, then acks them.
//! - [`purge`](purge()) removes them; the command refuses without `--yes`.
//!
//! Replay and purge take at most as many messages as the queue held when they started:
//! a message that fails again and comes back is not replayed in a loop, and a dead
//! letter that arrives during a purge, which nobody has looked at yet, is kept. Both
//! print progress on standard error while they run.

mod list;
pub mod purge;
mod replay;

use std::process::ExitCode;

use anyhow::Context as _;
use bus::connection::{connect, login_of};
use bus::{FailureClass, Topology, WorkQueue, headers};
use clap::Subcommand;
use lapin::Channel;
use lapin::options::{BasicGetOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};

pub use list::{DeadLetter, ListArgs, list};
pub use purge::{PurgeArgs, purge};
pub use replay::{ReplayArgs, replay, replay_properties};

use crate::exit;
use crate::progress::Progress;

/// `imagefleet dlq` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum DlqCommand {
    /// Print dead-lettered messages (one JSON object per line) without removing them.
    #[command(after_help = exit::HELP)]
    List(ListArgs),
    /// Move dead-lettered messages back to their work queue to be tried again.
    #[command(after_help = exit::HELP)]
    Replay(ReplayArgs),
    /// Remove dead-lettered messages for good (refused without `--yes`, exit code 7).
    #[command(after_help = exit::HELP)]
    Purge(PurgeArgs),
}

/// How many messages `queue` holds now (ready ones: those a `basic.get` can take).
pub async fn waiting(channel: &Channel, queue: &str) -> anyhow::Result<usize> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let count = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .with_context(|| format!("the queue {queue} does not exist"))?
        .message_count();
    Ok(count as usize)
}

/// `queue`'s dead-letter queue, and how many of its messages a call asking for `limit`
/// may take: at most as many as it holds now, so a message that fails again and comes
/// back while the call runs is not taken twice.
pub async fn dead_letters(
    channel: &Channel,
    topology: &Topology,
    queue: WorkQueue,
    limit: Option<usize>,
) -> anyhow::Result<(String, usize, usize)> {
    let name = topology.dead_letter_queue(queue);
    let waiting = waiting(channel, &name).await?;
    let limit = limit.map_or(waiting, |limit| limit.min(waiting));
    Ok((name, waiting, limit))
}

/// The next message of the queue `name`, unacknowledged unless `no_ack`; None once it
/// is empty.
pub async fn next_message(
    channel: &Channel,
    name: &str,
    no_ack: bool,
) -> anyhow::Result<Option<lapin::message::Delivery>> {
    let got = channel
        .basic_get(name.into(), BasicGetOptions { no_ack })
        .await
        .with_context(|| format!("reading {name}"))?;
    Ok(got.map(|message| message.delivery))
}

/// A text header's value.
fn text(table: &FieldTable, key: &str) -> Option<String> {
    match table.inner().get(key)? {
        AMQPValue::LongString(value) => Some(String::from_utf8_lossy(value.as_bytes()).into()),
        AMQPValue::ShortString(value) => Some(value.to_string()),
        _ => None,
    }
}

/// An integer header's value, whatever width the publisher chose.
fn integer(table: &FieldTable, key: &str) -> Option<i64> {
    match table.inner().get(key)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some(i64::from(*n)),
        AMQPValue::LongUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortInt(n) => Some(i64::from(*n)),
        AMQPValue::ShortShortUInt(n) => Some(i64::from(*n)),
        _ => None,
    }
}

/// The failure class of a dead letter: the one a worker wrote, or for a message the
/// broker dead-lettered itself (a worker crashed on it until its delivery limit, so it
/// has an `x-death` record and no class of ours) `retries-exhausted`.
pub fn class_of(properties: &lapin::BasicProperties) -> Option<FailureClass> {
    let table = properties.headers().clone().unwrap_or_default();
    match text(&table, headers::FAILURE_CLASS) {
        Some(class) => FailureClass::from_header(&class),
        None if table.inner().contains_key("x-death") => Some(FailureClass::RetriesExhausted),
        None => None,
    }
}

/// Runs `imagefleet dlq list`, `replay` or `purge`.
pub async fn run(command: DlqCommand) -> anyhow::Result<ExitCode> {
    if let DlqCommand::Purge(args) = &command
        && !args.yes
    {
        // Refused before connecting: a script that forgot `--yes` learns it at once,
        // whatever the broker's state.
        eprintln!("{}", purge::refusal(args));
        return Ok(ExitCode::from(exit::NOT_CONFIRMED));
    }
    let amqp = match &command {
        DlqCommand::List(args) => &args.amqp,
        DlqCommand::Replay(args) => &args.amqp,
        DlqCommand::Purge(args) => &args.amqp,
    };
    let topology = amqp.topology();
    let connection = connect(&amqp.amqp_url, "imagefleet-cli-dlq")
        .await
        .context("connecting to RabbitMQ")?;
    let channel = connection.create_channel().await?;
    match &command {
        DlqCommand::List(args) => {
            let letters = list(&channel, &topology, args.queue, args.limit).await?;
            for letter in &letters {
                println!("{}", letter.to_json());
            }
        }
        DlqCommand::Replay(args) => {
            let queue = args.queue;
            let from = topology.dead_letter_queue(queue);
            let mut progress = Progress::stderr(format!("replaying {from}"));
            let user = login_of(&amqp.amqp_url);
            let moved = replay(
                &channel,
                &topology,
                &user,
                queue,
                args.class,
                args.limit,
                &mut progress,
            )
            .await?;
            println!(
                "replayed {moved} message(s) from {from} to {}",
                topology.queue(queue)
            );
        }
        DlqCommand::Purge(args) => {
            for &queue in &args.queues {
                let from = topology.dead_letter_queue(queue);
                let mut progress = Progress::stderr(format!("purging {from}"));
                let removed = purge(&channel, &topology, queue, args.limit, &mut progress).await?;
                println!("purged {removed} message(s) from {from}");
            }
        }
    }
    connection.close(200, "done".into()).await?;
    Ok(ExitCode::SUCCESS)
}
