//! Claiming a task before its job runs. The `task.pending` event may be delivered twice
//! (the outbox publishes at least once, the broker redelivers a long job whose consumer
//! it timed out), so one job per task runs at a time: the claim is a session-level
//! advisory lock on a connection of its own, so it ends with the job, or with the worker
//! if it dies, and a redelivery can then take over. A task that already finished runs
//! no job again.

use db::document;
use db::leader::{LeaderSession, claim_key};
use domain::status::TaskType;
use domain::{Task, TaskId, TaskStatus};
use store::Area;

use super::{JobContext, JobError};

/// How long claiming a task may wait on Postgres.
const CLAIM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A task this worker runs the job of; the claim lasts as long as this value.
pub(super) struct ClaimedTask {
    /// The task as it was read before the claim.
    pub(super) task: Task,
    /// Holds the task's advisory lock while the job runs.
    _claim: LeaderSession,
}

impl ClaimedTask {
    /// Claims `task_id` for this worker: None when its job ran to the end already or
    /// runs elsewhere now.
    pub(super) async fn claim(
        task_id: TaskId,
        ctx: &JobContext,
    ) -> Result<Option<ClaimedTask>, JobError> {
        let task = ctx
            .read(async |conn| document::task_by_id(conn, task_id.as_uuid()).await)
            .await?
            .ok_or_else(|| JobError::Permanent(format!("no task {task_id}")))?;
        if matches!(task.status, TaskStatus::Success | TaskStatus::Failure) {
            // A duplicate of an event whose job already ran to the end; if that job died
            // between its last step and removing the staged copy, the copy goes now.
            if let (TaskType::ApiImageImport, TaskStatus::Success, Some(image_id)) =
                (task.task_type, task.status, task.image_id)
            {
                ctx.stores.staging().delete(Area::Staging, image_id).await?;
            }
            return Ok(None);
        }
        let mut claim =
            LeaderSession::connect_claim(&ctx.database_url, claim_key(task_id), CLAIM_TIMEOUT)
                .await
                .map_err(|e| JobError::Transient(e.to_string()))?;
        if !claim
            .try_lock()
            .await
            .map_err(|e| JobError::Transient(e.to_string()))?
        {
            tracing::info!(task.id = %task.id, "the task's job runs elsewhere");
            return Ok(None);
        }
        Ok(Some(ClaimedTask {
            task,
            _claim: claim,
        }))
    }
}
