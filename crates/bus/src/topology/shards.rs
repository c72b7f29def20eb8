//! The commands queue's shards: which queues a work queue is made of, their names and
//! their retry queues, and the exchanges that spread commands over them.

use super::{Topology, WorkQueue};

/// The most shards the commands queue may be split into. Why 10: the consistent-hash
/// exchange places its buckets in the order the shards were bound (0, 1, 2, ...), but a
/// broker that restarts rebuilds them in the order of the queues' names; up to
/// `.commands.9` the two orders agree, so every target keeps its shard across a
/// restart. Each shard is a quorum queue with a Raft group of its own, and every worker
/// consumes them all.
pub const MAX_COMMAND_SHARDS: u16 = 10;

/// One queue a worker consumes: a work queue, or one shard of the commands queue (the
/// jobs queue has only shard 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueShard {
    /// The work queue it belongs to.
    pub queue: WorkQueue,
    /// Its index; shard 0 is the queue of the work queue's own name.
    pub shard: u16,
}

impl From<WorkQueue> for QueueShard {
    fn from(queue: WorkQueue) -> Self {
        Self { queue, shard: 0 }
    }
}

impl Topology {
    /// The same names with the commands queue split into `shards` queues (at least 1, at
    /// most [`MAX_COMMAND_SHARDS`]) behind a consistent-hash exchange. Every process of
    /// a site must use the same number: see [`Topology::declare`].
    pub fn with_command_shards(mut self, shards: u16) -> Self {
        self.command_shards = shards.clamp(1, MAX_COMMAND_SHARDS);
        self
    }

    /// How many queues the commands queue is split into.
    pub fn command_shards(&self) -> u16 {
        self.command_shards
    }

    /// The queues a work queue is made of: the commands queue's shards, or the jobs
    /// queue alone.
    pub fn shards(&self, queue: WorkQueue) -> Vec<QueueShard> {
        let count = match queue {
            WorkQueue::Commands => self.command_shards,
            WorkQueue::Jobs => 1,
        };
        (0..count)
            .map(|shard| QueueShard { queue, shard })
            .collect()
    }

    /// The name of one queue a worker consumes: shard 0 has the work queue's own name
    /// (so a site that starts sharding keeps its queue and what it holds), shard `k`
    /// adds `.k`.
    pub fn shard_queue(&self, shard: QueueShard) -> String {
        match shard.shard {
            0 => self.queue(shard.queue),
            k => format!("{}.{k}", self.queue(shard.queue)),
        }
    }

    /// The retry queue for the `step`th retry (0-based) of one shard: its expired
    /// messages go back to that shard, so a retried command keeps its image's queue.
    pub fn shard_retry_queue(&self, shard: QueueShard, step: usize) -> String {
        format!("{}.retry.{step}", self.shard_queue(shard))
    }

    /// Consistent-hash exchange (behind the commands exchange) that spreads the
    /// commands queue's shards by [`crate::headers::TARGET`]; declared only with several shards.
    pub fn command_hash_exchange(&self) -> String {
        format!("{}.hash", self.queue(WorkQueue::Commands))
    }

    /// Fanout exchange to shard 0, the hash exchange's alternate: it catches what the
    /// hash exchange cannot route, which happens only while no shard is bound to it (a
    /// command without the header is hashed like any other value, onto one shard).
    pub fn command_unhashed_exchange(&self) -> String {
        format!("{}.unhashed", self.queue(WorkQueue::Commands))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_keeps_the_names_of_an_unsharded_site() {
        let topology = Topology::new("x");
        assert_eq!(
            topology.shards(WorkQueue::Commands),
            vec![QueueShard::from(WorkQueue::Commands)]
        );
        assert_eq!(
            topology.shard_queue(WorkQueue::Commands.into()),
            "x.commands"
        );
        assert_eq!(
            topology.shard_retry_queue(WorkQueue::Commands.into(), 1),
            "x.commands.retry.1"
        );
        assert_eq!(topology.all_exchanges().len(), 3);
    }

    #[test]
    fn shards_after_the_first_add_their_index_and_retry_queues_of_their_own() {
        let topology = Topology::new("x").with_command_shards(3);
        let names: Vec<String> = topology
            .shards(WorkQueue::Commands)
            .into_iter()
            .map(|shard| topology.shard_queue(shard))
            .collect();
        assert_eq!(names, ["x.commands", "x.commands.1", "x.commands.2"]);
        let second = QueueShard {
            queue: WorkQueue::Commands,
            shard: 2,
        };
        assert_eq!(
            topology.shard_retry_queue(second, 0),
            "x.commands.2.retry.0"
        );
        assert_eq!(
            topology.shards(WorkQueue::Jobs).len(),
            1,
            "jobs are not sharded"
        );
        // 3 shards + dlq + 3 x 3 retries, and jobs: 1 + dlq + 3 retries.
        assert_eq!(topology.all_queues().len(), 13 + 5);
    }

    #[test]
    fn the_shard_count_is_kept_between_one_and_the_maximum() {
        assert_eq!(
            Topology::new("x").with_command_shards(0).command_shards(),
            1
        );
        assert_eq!(
            Topology::new("x")
                .with_command_shards(u16::MAX)
                .command_shards(),
            MAX_COMMAND_SHARDS
        );
    }
}
