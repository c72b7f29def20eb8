//! The group committer of a worker: the state commands in flight queue here, each on
//! the lane of its target (a lane is one transaction open at a time), and each lane takes
//! whatever has queued, up to a batch, and applies it in one transaction
//! ([`Repository::apply_group`]). Under light load a lane finds one command and commits
//! it at once (no added latency); under load, commands that arrive while a commit is
//! in flight share the next one. One target's commands always take the same lane, so
//! a worker's own transactions never race each other for a row: a busy image's
//! commands are applied one after another inside the groups, not retried.

use shared::db::{Applied, ApplyError, Repository};
use shared::messaging::CommandEnvelope;
use tokio::sync::{mpsc, oneshot};

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
}

impl GroupCommitter {
    /// Starts `lanes` lanes committing up to `batch` commands per transaction. They end
    /// when the last clone of the committer is dropped.
    pub fn start(repository: Repository, lanes: usize, batch: usize) -> Self {
        let batch = batch.max(1);
        let lanes = (0..lanes.max(1))
            .map(|_| {
                let (queue, waiting) = mpsc::channel(batch);
                tokio::spawn(lane(repository.clone(), waiting, batch));
                queue
            })
            .collect();
        Self { repository, lanes }
    }

    /// Applies `envelope` exactly once, in whichever group a lane puts it.
    pub async fn apply(&self, envelope: &CommandEnvelope) -> Result<Applied, ApplyError> {
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
            return self.repository.apply(envelope).await;
        }
        match answered.await {
            Ok(result) => result,
            // The lane stopped without answering (it panicked): its transaction did not
            // commit, or committed and recorded the command id, so applying again here
            // is safe either way.
            Err(_) => self.repository.apply(envelope).await,
        }
    }
}

/// One lane: waits for a command, takes whatever else is already waiting (up to
/// `batch` in all) and applies them in one transaction.
async fn lane(repository: Repository, mut waiting: mpsc::Receiver<Pending>, batch: usize) {
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
        let results = repository.apply_group(&envelopes).await;
        for (pending, result) in group.into_iter().zip(results) {
            // A sender that went away (its delivery's task ended) needs no answer.
            let _ = pending.result.send(result);
        }
    }
}
