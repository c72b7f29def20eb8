//! The commands a job sends, applied directly through the repository as the service.
//! Their ids are derived from the task and the step (see [`crate::derived_command`]), so
//! a job that runs again replays its earlier steps instead of applying them twice.

use domain::command::{FailTask, SucceedTask, TaskRef};
use domain::{Actor, Command, ImageId, Rejection, TaskId};
use serde_json::json;
use uuid::Uuid;

use super::{JobContext, JobError};
use crate::derived_command::derived_command;
use apply::{Applied, ApplyError};

/// Names the command ids of job steps.
const STEP_NAMESPACE: Uuid = Uuid::from_u128(0x3c0e_51d4_7a26_4b8f_a1e9_5d72_c4b0_9f13);

/// Applies one step of `task_id`'s job as the service: the result, or the domain's
/// refusal.
pub async fn apply(
    ctx: &JobContext,
    task_id: TaskId,
    step: &str,
    command: Command,
) -> Result<Result<Applied, Rejection>, JobError> {
    apply_as(ctx, &Actor::service(), task_id, step, command).await
}

/// Applies one step of `task_id`'s job as `actor` (a step the task's creator could
/// have taken, decided under the creator's rights).
pub async fn apply_as(
    ctx: &JobContext,
    actor: &Actor,
    task_id: TaskId,
    step: &str,
    command: Command,
) -> Result<Result<Applied, Rejection>, JobError> {
    let name = format!("{task_id}/{step}");
    let mut envelope = derived_command(
        &STEP_NAMESPACE,
        &name,
        actor.clone(),
        command,
        format!("task-{task_id}"),
    );
    envelope.trace = ctx.trace;
    match ctx.repository.apply_within(&envelope, ctx.bound).await {
        Ok(applied) => Ok(Ok(applied)),
        Err(ApplyError::Rejected(rejection)) => Ok(Err(rejection)),
        Err(error) => Err(JobError::Transient(error.to_string())),
    }
}

/// Moves the task to processing (a rerun replays this step).
pub async fn start(ctx: &JobContext, task_id: TaskId) -> Result<(), JobError> {
    apply_or_log(
        ctx,
        task_id,
        "start",
        Command::StartTask(TaskRef { task_id }),
    )
    .await
}

/// Ends a task that has no end command of its own: it succeeds with
/// `{"image_id": ...}`, or fails with the message.
pub async fn finish(
    ctx: &JobContext,
    task_id: TaskId,
    outcome: Result<ImageId, String>,
) -> Result<(), JobError> {
    let end = match outcome {
        Ok(image_id) => Command::SucceedTask(SucceedTask {
            task_id,
            result: json!({ "image_id": image_id }),
        }),
        Err(message) => Command::FailTask(FailTask { task_id, message }),
    };
    apply_or_log(ctx, task_id, "end", end).await
}

/// Applies a step whose refusal only needs logging (the task or image moved on).
async fn apply_or_log(
    ctx: &JobContext,
    task_id: TaskId,
    step: &str,
    command: Command,
) -> Result<(), JobError> {
    if let Err(rejection) = apply(ctx, task_id, step, command).await? {
        tracing::warn!(task.id = %task_id, step, %rejection, "job step refused");
    }
    Ok(())
}
