//! The RabbitMQ topology every process declares at start (idempotently): the command
//! exchange and its two quorum queues, their dead-letter queues, the retry queues that
//! stand in for a delayed-message plugin, and the event topic exchange. All names derive
//! from one prefix (`imagefleet` in production) so tests can run side by side on one
//! broker without seeing each other's messages.

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
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

    /// The retry queue for the `step`th retry (0-based) of a work queue.
    pub fn retry_queue(&self, queue: WorkQueue, step: usize) -> String {
        format!("{}.retry.{}", self.queue(queue), step)
    }

    /// Every queue name, for clean-up and status.
    pub fn all_queues(&self) -> Vec<String> {
        let mut names = Vec::new();
        for queue in WorkQueue::ALL {
            names.push(self.queue(queue));
            names.push(self.dead_letter_queue(queue));
            names.extend((0..self.retry_delays.len()).map(|step| self.retry_queue(queue, step)));
        }
        names
    }

    /// Every exchange name.
    pub fn all_exchanges(&self) -> Vec<String> {
        vec![
            self.commands_exchange(),
            self.events_exchange(),
            self.dead_letter_exchange(),
        ]
    }

    /// Declares everything; safe to call from every process at every start.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for (name, kind) in [
            (self.commands_exchange(), ExchangeKind::Direct),
            (self.events_exchange(), ExchangeKind::Topic),
            (self.dead_letter_exchange(), ExchangeKind::Direct),
        ] {
            channel
                .exchange_declare(name.into(), kind, durable, FieldTable::default())
                .await?;
        }
        for queue in WorkQueue::ALL {
            self.declare_work_queue(channel, queue).await?;
        }
        Ok(())
    }

    async fn declare_work_queue(
        &self,
        channel: &Channel,
        queue: WorkQueue,
    ) -> Result<(), lapin::Error> {
        let name = self.queue(queue);
        let dead_letters = self.dead_letter_queue(queue);
        let mut args = dead_lettering_to(&self.dead_letter_exchange(), &dead_letters);
        args.insert(
            "x-delivery-limit".into(),
            AMQPValue::LongLongInt(DELIVERY_LIMIT),
        );
        declare_queue(channel, &name, args).await?;
        bind(channel, &name, &self.commands_exchange(), &name).await?;
        if queue == WorkQueue::Jobs {
            // Jobs start from the events that ask for them, published by the outbox in
            // the same transaction as the change: no job is lost between commit and
            // publish.
            for key in JOB_EVENTS {
                bind(channel, &name, &self.events_exchange(), key).await?;
            }
        }

        // Refusing, not dropping the oldest: a dropped dead letter is a command lost
        // without a trace, a refused one stays where it was until there is room.
        let mut args = quorum();
        args.insert(
            "x-max-length".into(),
            AMQPValue::LongLongInt(self.dead_letter_limit),
        );
        args.insert("x-overflow".into(), string("reject-publish"));
        declare_queue(channel, &dead_letters, args).await?;
        bind(
            channel,
            &dead_letters,
            &self.dead_letter_exchange(),
            &dead_letters,
        )
        .await?;

        for (step, delay) in self.retry_delays.iter().enumerate() {
            // Expired messages fall back into the work queue through the default exchange.
            let mut args = dead_lettering_to("", &name);
            args.insert(
                "x-message-ttl".into(),
                AMQPValue::LongLongInt(delay.as_millis() as i64),
            );
            declare_queue(channel, &self.retry_queue(queue, step), args).await?;
        }
        Ok(())
    }

    /// Deletes every queue and exchange of this topology (tests clean up with it).
    pub async fn delete(&self, channel: &Channel) -> Result<(), lapin::Error> {
        for queue in self.all_queues() {
            channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await?;
        }
        for exchange in self.all_exchanges() {
            channel
                .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), string("quorum"));
    args
}

/// A quorum queue whose dead letters go to `exchange` with `key`, at least once: quorum
/// queues dead-letter at most once unless told otherwise, and a retry that expires out of
/// a retry queue, or a poison message past its delivery limit, must not be dropped on the
/// way. At-least-once dead-lettering needs `reject-publish` overflow.
fn dead_lettering_to(exchange: &str, key: &str) -> FieldTable {
    let mut args = quorum();
    args.insert("x-dead-letter-exchange".into(), string(exchange));
    args.insert("x-dead-letter-routing-key".into(), string(key));
    args.insert("x-dead-letter-strategy".into(), string("at-least-once"));
    args.insert("x-overflow".into(), string("reject-publish"));
    args
}

fn string(value: &str) -> AMQPValue {
    AMQPValue::LongString(value.into())
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    let options = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .queue_declare(ShortString::from(name), options, args)
        .await?;
    Ok(())
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}
