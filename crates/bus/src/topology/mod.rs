//! The names of the RabbitMQ topology every process declares at start: the command
//! exchange and its two quorum queues (the commands queue possibly split into shards),
//! their dead-letter queues, the retry queues that stand in for a delayed-message
//! plugin, and the event topic exchange. All names derive from one prefix (`imagefleet`
//! in production) so tests can run side by side on one broker without seeing each
//! other's messages. How they are declared is in [`declare`].

mod declare;
mod shards;

pub use shards::{MAX_COMMAND_SHARDS, QueueShard};

use std::time::Duration;

/// The production prefix.
pub const DEFAULT_PREFIX: &str = "imagefleet";

/// Default delays before a retryable failure is tried again: one retry queue per step, each
/// with a fixed TTL (a per-message TTL would block behind longer ones at the head).
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(5),
    Duration::from_secs(30),
];

/// A delivery returned to its queue this many times (a worker crashed on it, or its
/// session ended before it was settled) is dead-lettered by the broker itself: a poison
/// message never blocks the queue. Every delivery a worker holds comes back when its
/// session ends, so the limit is well above the few reconnects a backlog may see:
/// otherwise a command no worker ever ran would be dead-lettered.
pub const DELIVERY_LIMIT: i64 = 20;

/// Messages a dead-letter queue holds before it refuses more (`reject-publish`): a
/// worker's dead-letter publish is then nacked and its original stays in the work queue
/// unacked, and the broker's own dead-lettering waits, so nothing is dropped while an
/// operator empties the queue. `imagefleet status` warns well before.
pub const DEAD_LETTER_LIMIT: i64 = 100_000;

/// Routing keys of the events that start a job: a new task runs, a deleted image's
/// data is removed, a store's copy of an image's data is removed.
pub const JOB_EVENTS: [&str; 3] = ["task.pending", "image.deleted", "image.removed_from_store"];

/// Which of the two work queues a message goes to (named `commands` and `jobs` on
/// command lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum WorkQueue {
    /// State commands: short transactions, never behind long work.
    Commands,
    /// Long-running work: imports, web downloads, scrubbing.
    Jobs,
}

impl WorkQueue {
    /// Both queues.
    pub const ALL: [WorkQueue; 2] = [WorkQueue::Commands, WorkQueue::Jobs];

    fn suffix(self) -> &'static str {
        match self {
            WorkQueue::Commands => "commands",
            WorkQueue::Jobs => "jobs",
        }
    }
}

/// The names of one deployment's (or one test's) exchanges and queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    retry_delays: Vec<Duration>,
    dead_letter_limit: i64,
    command_shards: u16,
}

impl Default for Topology {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

impl Topology {
    /// Names under `prefix`.
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            retry_delays: RETRY_DELAYS.to_vec(),
            dead_letter_limit: DEAD_LETTER_LIMIT,
            command_shards: 1,
        }
    }

    /// The same names with another length limit on the dead-letter queues (tests fill
    /// one). Like the delays, a deployment must keep it: the broker refuses to
    /// re-declare a queue with another `x-max-length`.
    pub fn with_dead_letter_limit(mut self, limit: i64) -> Self {
        self.dead_letter_limit = limit;
        self
    }

    /// The most messages a dead-letter queue holds.
    pub fn dead_letter_limit(&self) -> i64 {
        self.dead_letter_limit
    }

    /// The same names with other retry delays (tests use short ones). A deployment must
    /// keep its delays: the broker refuses to re-declare a queue with another TTL.
    pub fn with_retry_delays(mut self, delays: Vec<Duration>) -> Self {
        self.retry_delays = delays;
        self
    }

    /// The delay before each retry; their number is the number of retries.
    pub fn retry_delays(&self) -> &[Duration] {
        &self.retry_delays
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Direct exchange producers publish commands to, routed by [`WorkQueue`] name.
    pub fn commands_exchange(&self) -> String {
        format!("{}.commands", self.prefix)
    }

    /// Topic exchange events are published to.
    pub fn events_exchange(&self) -> String {
        format!("{}.events", self.prefix)
    }

    /// Direct exchange that routes failures into the dead-letter queues.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dlx", self.prefix)
    }

    /// The routing key (on the commands exchange) and the name of a work queue.
    pub fn queue(&self, queue: WorkQueue) -> String {
        format!("{}.{}", self.prefix, queue.suffix())
    }

    /// The dead-letter queue of a work queue.
    pub fn dead_letter_queue(&self, queue: WorkQueue) -> String {
        format!("{}.dlq", self.queue(queue))
    }

    /// Every queue name, for clean-up and status: per work queue its shards, its
    /// dead-letter queue, then each shard's retry queues.
    pub fn all_queues(&self) -> Vec<String> {
        let mut names = Vec::new();
        for queue in WorkQueue::ALL {
            let shards = self.shards(queue);
            names.extend(shards.iter().map(|&shard| self.shard_queue(shard)));
            names.push(self.dead_letter_queue(queue));
            for &shard in &shards {
                names.extend(
                    (0..self.retry_delays.len()).map(|step| self.shard_retry_queue(shard, step)),
                );
            }
        }
        names
    }

    /// Every exchange name (the hash exchanges only with several command shards).
    pub fn all_exchanges(&self) -> Vec<String> {
        let mut names = vec![
            self.commands_exchange(),
            self.events_exchange(),
            self.dead_letter_exchange(),
        ];
        if self.command_shards > 1 {
            names.push(self.command_hash_exchange());
            names.push(self.command_unhashed_exchange());
        }
        names
    }
}
