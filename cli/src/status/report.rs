//! What `imagefleet status` found, and what it means: the values read from RabbitMQ and
//! Postgres, the list of things that need an operator's attention, and the exit code.
//! Pure: gathering is in [`super::probe`], printing in [`super::render`].

use db::leader::LockHolder;
use db::worker_sessions::WorkerSessions;
use std::time::Duration;

use bus::WorkQueue;

use crate::exit;

/// The part a queue plays in the topology.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueKind {
    /// A work queue workers consume.
    Work,
    /// A TTL queue a retryable failure waits in.
    Retry,
    /// A dead-letter queue.
    DeadLetter,
}

impl QueueKind {
    /// The name shown in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            QueueKind::Work => "work",
            QueueKind::Retry => "retry",
            QueueKind::DeadLetter => "dead-letter",
        }
    }
}

/// One queue's depth and consumers, from a passive declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueStatus {
    /// The queue's name.
    pub name: String,
    /// Its part in the topology.
    pub kind: QueueKind,
    /// The work queue it belongs to.
    pub work_queue: WorkQueue,
    /// Messages ready and consumers, or None when the queue does not exist.
    pub counts: Option<QueueCounts>,
    /// The most messages it holds before the broker refuses more (the dead-letter
    /// queues' `x-max-length`); None when unlimited.
    pub limit: Option<i64>,
}

/// A limited queue this full (a fraction of its limit) needs attention: at the limit a
/// dead letter is refused and its command waits, unacked, in the work queue.
pub const NEAR_LIMIT: f64 = 0.8;

/// What a passive declare answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages ready for delivery (unacknowledged ones are not counted).
    pub messages: u32,
    /// Consumers attached.
    pub consumers: u32,
}

/// The unpublished tail of the outbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutboxStatus {
    /// Events written and not yet confirmed by the broker.
    pub unpublished: i64,
    /// Age of the oldest of them by the database's clock; None when there are none.
    pub oldest_age: Option<Duration>,
    /// Rows the relay quarantined after their publishes kept failing; each holds its
    /// aggregate's later events back until `imagefleet outbox retry`.
    pub quarantined: i64,
}

/// A job one worker of the fleet leads, elected by a Postgres advisory lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaderRole {
    /// The outbox relay (`db::leader::OUTBOX_LOCK_KEY`).
    OutboxRelay,
    /// The janitor (`db::leader::JANITOR_LOCK_KEY`).
    Janitor,
}

impl LeaderRole {
    /// Both roles, in the order shown.
    pub const ALL: [LeaderRole; 2] = [LeaderRole::OutboxRelay, LeaderRole::Janitor];

    /// The name shown in the table (and, with `_`, the JSON key).
    pub fn name(self) -> &'static str {
        match self {
            LeaderRole::OutboxRelay => "outbox relay",
            LeaderRole::Janitor => "janitor",
        }
    }

    /// The advisory lock key its leader holds.
    pub fn lock_key(self) -> i64 {
        match self {
            LeaderRole::OutboxRelay => db::leader::OUTBOX_LOCK_KEY,
            LeaderRole::Janitor => db::leader::JANITOR_LOCK_KEY,
        }
    }
}

/// One role and who leads it, if anyone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leader {
    /// The role.
    pub role: LeaderRole,
    /// Its holder; None when no session holds the lock.
    pub holder: Option<LockHolder>,
}

/// What was read from Postgres; each part fails on its own, so one failed query does
/// not hide the others.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseStatus {
    /// Names of the embedded migrations not applied (empty when current).
    pub pending_migrations: Result<Vec<String>, String>,
    /// The outbox's unpublished tail.
    pub outbox: Result<OutboxStatus, String>,
    /// Each role's leader.
    pub leaders: Result<Vec<Leader>, String>,
    /// The workers with sessions open, and their operations ports.
    pub workers: Result<Vec<WorkerSessions>, String>,
}

/// Everything `status` found. `Err` on either side means the dependency could not be
/// reached (the text says why).
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    /// Every queue of the topology, in [`bus::Topology::all_queues`] order.
    pub queues: Result<Vec<QueueStatus>, String>,
    /// The database side.
    pub database: Result<DatabaseStatus, String>,
    /// Outbox lag above this needs attention.
    pub max_outbox_lag: Duration,
}

impl StatusReport {
    /// Whether Postgres and RabbitMQ both answered.
    pub fn reachable(&self) -> bool {
        self.queues.is_ok() && self.database.is_ok()
    }

    /// What needs an operator, one sentence each, with the command that helps.
    pub fn attention(&self) -> Vec<String> {
        let mut found = Vec::new();
        if let Ok(queues) = &self.queues {
            for queue in queues {
                queue_attention(queue, &mut found);
            }
        }
        if let Ok(database) = &self.database {
            self.database_attention(database, &mut found);
        }
        found
    }

    fn database_attention(&self, database: &DatabaseStatus, found: &mut Vec<String>) {
        match &database.pending_migrations {
            Ok(pending) if pending.is_empty() => {}
            Ok(pending) => found.push(format!(
                "{} migration(s) not applied ({}): run `imagefleet migrate`",
                pending.len(),
                pending.join(", ")
            )),
            Err(error) => found.push(format!("migrations unreadable: {error}")),
        }
        if let Ok(outbox) = &database.outbox
            && outbox.quarantined > 0
        {
            found.push(format!(
                "{} outbox row(s) quarantined, their images' or tasks' later events held \
                 back: `imagefleet outbox` says why; fix the cause, then `imagefleet outbox \
                 retry`",
                outbox.quarantined
            ));
        }
        match &database.outbox {
            Ok(OutboxStatus {
                unpublished,
                oldest_age: Some(age),
                ..
            }) if *age > self.max_outbox_lag => found.push(format!(
                "outbox lag {:.1} s over {} s ({unpublished} event(s) unpublished): is the \
                 relay leader connected to RabbitMQ?",
                age.as_secs_f64(),
                self.max_outbox_lag.as_secs_f64()
            )),
            Ok(_) => {}
            Err(error) => found.push(format!("outbox unreadable: {error}")),
        }
        match &database.leaders {
            Ok(leaders) => {
                for leader in leaders.iter().filter(|l| l.holder.is_none()) {
                    found.push(format!(
                        "no {} leader: is any worker running on this database?",
                        leader.role.name()
                    ));
                }
            }
            Err(error) => found.push(format!("leaders unreadable: {error}")),
        }
    }

    /// 0 all fine, 5 something needs attention, 6 a dependency unreachable (it wins:
    /// what could not be read may hide more).
    pub fn exit_code(&self) -> u8 {
        if !self.reachable() {
            exit::UNREACHABLE
        } else if self.attention().is_empty() {
            exit::SUCCESS
        } else {
            exit::ATTENTION
        }
    }

    /// `ok`, `attention` or `unreachable`, as the exit code says.
    pub fn verdict(&self) -> &'static str {
        match self.exit_code() {
            exit::SUCCESS => "ok",
            exit::ATTENTION => "attention",
            _ => "unreachable",
        }
    }
}

fn queue_attention(queue: &QueueStatus, found: &mut Vec<String>) {
    let Some(counts) = queue.counts else {
        found.push(format!(
            "queue {} is missing: no worker has declared the topology (or the prefix is \
             wrong)",
            queue.name
        ));
        return;
    };
    let flag = match queue.work_queue {
        WorkQueue::Commands => "commands",
        WorkQueue::Jobs => "jobs",
    };
    if let Some(limit) = queue.limit.filter(|&limit| limit > 0)
        && f64::from(counts.messages) >= NEAR_LIMIT * limit as f64
    {
        found.push(format!(
            "{} is {} of {limit} messages full: at its limit the broker refuses dead \
             letters and their commands wait unacked in {flag}; empty it with \
             `imagefleet dlq replay` or `dlq purge --queue {flag}`",
            queue.name, counts.messages
        ));
    }
    match queue.kind {
        QueueKind::DeadLetter if counts.messages > 0 => found.push(format!(
            "{} dead letter(s) in {}: `imagefleet dlq list --queue {flag}`, then `dlq \
             replay` or `dlq purge`",
            counts.messages, queue.name
        )),
        QueueKind::Work if counts.consumers == 0 => found.push(format!(
            "nobody consumes {}: start a worker (`workers run --queues {flag}`)",
            queue.name
        )),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dead_letters(messages: u32, limit: i64) -> QueueStatus {
        QueueStatus {
            name: "imagefleet.commands.dlq".into(),
            kind: QueueKind::DeadLetter,
            work_queue: WorkQueue::Commands,
            counts: Some(QueueCounts {
                messages,
                consumers: 0,
            }),
            limit: Some(limit),
        }
    }

    #[test]
    fn a_dead_letter_queue_near_its_limit_needs_attention() {
        let mut found = Vec::new();
        queue_attention(&dead_letters(80, 100), &mut found);
        assert!(
            found
                .iter()
                .any(|line| line.contains("80 of 100 messages full")),
            "{found:?}"
        );
        let mut found = Vec::new();
        queue_attention(&dead_letters(79, 100), &mut found);
        assert!(!found.iter().any(|line| line.contains("full")), "{found:?}");
    }
}
