//! The group committer of a worker: the state commands in flight queue here, each on
//! the lane of its target (a lane is one transaction open at a time), and each lane takes
//! whatever has queued, up to a batch, and applies it in one transaction
//! ([`Repository::apply_group`]). Under light load a lane finds one command and commits
//! it at once (no added latency); under load, commands that arrive while a commit is
//! in flight share the next one. One target's commands always take the same lane, so
//! a worker's own transactions never race each other for a row: a busy image's
//! commands are applied one after another inside the groups, not retried. Every group
//! is bounded in time (see [`Repository::apply_group_within`]), so a lane never parks
//! on a database that stopped answering, and [`Progress`] tells `/readyz` whether
//! anything is being applied.

use std::time::Duration;

use apply::{Applied, ApplyError, Repository};
use tokio::sync::{mpsc, oneshot};
use wire::CommandEnvelope;

use crate::progress::Progress;

/// The most commands a worker commits in one transaction by default (group commit):
/// see `BENCHMARKS.md`, "Fleet", for how the setting was chosen.
pub const DEFAULT_COMMIT_BATCH: u16 = 8;

/// The most commands one transaction may commit: each takes a savepoint, and a group
/// holds the locks of all its rows until it commits. A larger setting is refused.
pub const MAX_COMMIT_BATCH: u16 = 32;

/// A command waiting for a lane, and where its result goes.
struct Pending {
    envelope: CommandEnvelope,
    result: oneshot::Sender<Result<Applied, ApplyError>>,
}

/// Applies commands through the lanes. Cloning shares them.
#[derive(Clone)]
pub struct GroupCommitter {
    repository: Repository,
    lanes: Vec<mpsc::Sender<Pending>>,
    bound: Duration,
    progress: Progress,
}

/// How a [`GroupCommitter`] works.
#[derive(Debug, Clone)]
pub struct CommitterConfig {
    /// Lanes, each with one transaction open at a time.
    pub lanes: usize,
    /// Most commands per transaction; more than [`MAX_COMMIT_BATCH`] is clamped to it.
    pub batch: usize,
    /// Longest a group may take on the database, pool wait included.
    pub bound: Duration,
    /// Where applied and failed commands are counted.
    pub progress: Progress,
}

impl GroupCommitter {
    /// Starts the lanes of `config`. They end when the last clone of the committer is
    /// dropped.
    pub fn start(repository: Repository, config: CommitterConfig) -> Self {
        let max = usize::from(MAX_COMMIT_BATCH);
        if config.batch > max {
            tracing::warn!(
                batch = config.batch,
                max,
                "commit batch clamped to the most savepoints a group takes"
            );
        }
        let batch = config.batch.clamp(1, max);
        let lanes = (0..config.lanes.max(1))
            .map(|_| {
                let (queue, waiting) = mpsc::channel(batch);
                tokio::spawn(lane(repository.clone(), waiting, batch, config.bound));
                queue
            })
            .collect();
        Self {
            repository,
            lanes,
            bound: config.bound,
            progress: config.progress,
        }
    }

    /// Applies `envelope` exactly once, in whichever group a lane puts it.
    pub async fn apply(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
        let _waiting = self.progress.begin();
        let result = self.apply_in_lane(envelope).await;
        match &result {
            Err(ApplyError::Database(_)) => self.progress.failed(),
            Ok(_) | Err(ApplyError::Rejected(_) | ApplyError::Contended { .. }) => {
                self.progress.applied()
            }
        }
        result
    }

    async fn apply_in_lane(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
        let (result, answered) = oneshot::channel();
        let pending = Pending {
            envelope: envelope.clone(),
            result,
        };
        let target = envelope.command.target().primary().as_u128();
        // Ids are random (v4) or time-ordered with random low bits (v7): their value
        // spreads targets over the lanes evenly.
        let lane = &self.lanes[(target % self.lanes.len() as u128) as usize];
        if lane.send(pending).await.is_err() {
            // No lane is left to take it: apply it here.
            return self.alone(envelope).await;
        }
        match answered.await {
            Ok(result) => result,
            // The lane stopped without answering (it panicked): its transaction did not
            // commit, or committed and recorded the command id, so applying again here
            // is safe either way.
            Err(_) => self.alone(envelope).await,
        }
    }

    async fn alone(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
        let mut results = self
            .repository
            .apply_group_within(&[envelope], self.bound)
            .await;
        results.pop().unwrap_or_else(|| {
            Err(ApplyError::Database(db::DbError::Unavailable(
                "no result for the command".into(),
            )))
        })
    }
}

/// One lane: waits for a command, takes whatever else is already waiting (up to
/// `batch` in all) and applies them in one transaction.
async fn lane(
    repository: Repository,
    mut waiting: mpsc::Receiver<Pending>,
    batch: usize,
    bound: Duration,
) {
    while let Some(first) = waiting.recv().await {
        let mut group = vec![first];
        while group.len() < batch {
            match waiting.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        metrics::histogram!(shared::metrics::COMMIT_GROUP_SIZE).record(group.len() as f64);
        let envelopes: Vec<&CommandEnvelope> = group.iter().map(|p| &p.envelope).collect();
        let results = repository.apply_group_within(&envelopes, bound).await;
        for (pending, result) in group.into_iter().zip(results) {
            // A sender that went away (its delivery's task ended) needs no answer.
            let _ = pending.result.send(result);
        }
    }
}
