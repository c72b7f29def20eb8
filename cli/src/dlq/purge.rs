//! `imagefleet dlq purge`: removes dead letters for good, oldest first. Without `--yes`
//! the command refuses (exit code 7) before it connects, so neither a typo nor a
//! script that forgot the flag removes anything.
//!
//! Messages are taken one by one (`basic.get` with auto-ack), not with `queue.purge`:
//! the count is bounded by what the queue held when the purge started, so a dead letter
//! that arrives meanwhile, which nobody has looked at yet, stays; `--limit` removes only
//! the oldest; and a long purge can report progress.

use std::io::Write;

use anyhow::Context as _;
use bus::AmqpArgs;
use bus::{Topology, WorkQueue};
use clap::Args;
use lapin::Channel;
use lapin::options::BasicGetOptions;

use super::dead_letters;
use crate::progress::Progress;

/// Arguments of `imagefleet dlq purge`.
#[derive(Debug, Clone, Args)]
pub struct PurgeArgs {
    /// The broker and topology.
    #[command(flatten)]
    pub amqp: AmqpArgs,
    /// The dead-letter queue(s) of which work queue(s): `commands`, `jobs`, or both
    /// (`--queue commands,jobs`). No default: say which.
    #[arg(long = "queue", value_enum, value_delimiter = ',', required = true)]
    pub queues: Vec<WorkQueue>,
    /// Most messages to remove from each queue, oldest first (default: all a queue
    /// holds when its purge starts).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Confirm that the messages are to be removed for good. Without it nothing is
    /// removed and the exit code is 7.
    #[arg(long)]
    pub yes: bool,
}

/// What `purge` without `--yes` prints on standard error.
pub fn refusal(args: &PurgeArgs) -> String {
    let queues: Vec<String> = args
        .queues
        .iter()
        .map(|&queue| args.amqp.topology().dead_letter_queue(queue))
        .collect();
    format!(
        "refusing to purge {}: dead letters are removed for good, and nothing was removed. \
         Look at them first (`imagefleet dlq list`), or replay them (`imagefleet dlq \
         replay`); to remove them, run the command again with --yes.",
        queues.join(" and ")
    )
}

/// Removes up to `limit` messages (at most as many as `queue`'s dead-letter queue holds
/// now), counting each in `progress`; returns how many were removed.
pub async fn purge<W: Write>(
    channel: &Channel,
    topology: &Topology,
    queue: WorkQueue,
    limit: Option<usize>,
    progress: &mut Progress<W>,
) -> anyhow::Result<usize> {
    let (name, _, limit) = dead_letters(channel, topology, queue, limit).await?;
    progress.begin(limit);
    // Auto-ack: the broker forgets a message as it hands it over, which is the purge;
    // dying half-way leaves the rest in place.
    let take = BasicGetOptions { no_ack: true };
    while progress.done() < limit {
        let got = channel
            .basic_get(name.as_str().into(), take)
            .await
            .with_context(|| format!("removing from {name} after {}", progress.done()))?;
        if got.is_none() {
            // Someone else (a replay, another purge) emptied it first.
            break;
        }
        progress.tick();
    }
    progress.finish();
    Ok(progress.done())
}
