//! The registry of command handlers: one place maps each command type to the handler
//! that applies it. State commands are decided and written by the repository; commands
//! with side effects outside Postgres get a handler file of their own here.

mod state;

use crate::group_commit::GroupCommitter;
use crate::outcome::Outcome;
use apply::Repository;
use wire::CommandEnvelope;

/// What handlers need.
#[derive(Clone)]
pub struct HandlerContext {
    /// Applies commands to Postgres exactly once (the janitor and jobs use it directly).
    pub repository: Repository,
    /// Applies the commands of the work queues exactly once, several per transaction
    /// under load.
    pub committer: GroupCommitter,
    /// What jobs need (they apply their commands through the same repository).
    pub jobs: crate::jobs::JobContext,
}

/// Dispatches a parsed command to its handler.
pub async fn dispatch(envelope: &CommandEnvelope, ctx: &HandlerContext) -> Outcome {
    // Every command type today changes state in Postgres only; the exhaustive match
    // makes a new command decide here whether it needs a handler of its own.
    use domain::Command::*;
    match &envelope.command {
        CreateImage(_) | UpdateImage(_) | BeginUpload(_) | CompleteUpload(_) | AbortUpload(_)
        | BeginStage(_) | CompleteStage(_) | AbortStage(_) | BeginImport(_) | CompleteImport(_)
        | FailImport(_) | DeactivateImage(_) | ReactivateImage(_) | DeleteImage(_)
        | RestoreImage(_) | PurgeImage(_) | AddLocation(_) | RemoveLocation(_) | AddTag(_)
        | RemoveTag(_) | AddMember(_) | UpdateMember(_) | RemoveMember(_) | CreateTask(_)
        | StartTask(_) | SucceedTask(_) | FailTask(_) | ExpireTask(_) => {
            state::apply(envelope, ctx).await
        }
    }
}
