//! Applying one admitted command from the command queue: every command type is decided
//! and written the same way, through the group committer (the repository, several
//! commands per transaction under load), and the result is sorted into the bus's
//! failure classes. Every refusal the repository returns is recorded under the command
//! id, so it is an answer, not a dead letter. A database failure is retried only if it
//! may pass ([`db::DbError::is_transient`]): one that fails whenever tried is
//! dead-lettered at once for an operator.

use crate::group_commit::GroupCommitter;
use crate::outcome::Outcome;
use apply::ApplyError;
use bus::FailureClass;
use domain::Rejection;
use wire::CommandEnvelope;

/// Applies a command exactly once.
pub async fn apply_command(envelope: &CommandEnvelope, committer: &GroupCommitter) -> Outcome {
    match committer.apply(envelope).await {
        Ok(applied) => Outcome::Accepted {
            command_id: envelope.command_id,
            replayed: applied.replayed,
            result: Box::new(applied.result),
        },
        Err(ApplyError::Rejected(rejection)) => Outcome::Rejected {
            command_id: envelope.command_id,
            rejection,
        },
        // Losing every optimistic retry inside the worker is the conflict SPEC 12 lets a
        // caller see (409); retrying it later through the TTL queues would answer a
        // waiting caller only after its timeout.
        Err(error @ ApplyError::Contended { .. }) => Outcome::Rejected {
            command_id: envelope.command_id,
            rejection: Rejection::conflict(error.to_string()),
        },
        Err(ApplyError::Database(error)) if error.is_transient() => Outcome::Retryable {
            reason: error.to_string(),
        },
        // Retrying would meet the same failure three times over 36 s, then call it
        // exhausted retries. Nothing was written or recorded: once the data is mended,
        // a replay applies it. The caller hears a conflict with the stored state.
        Err(ApplyError::Database(error)) => {
            tracing::error!(
                command_id = %envelope.command_id,
                %error,
                "the database refuses the command whenever it is tried; dead-lettered"
            );
            Outcome::DeadLetter {
                command_id: Some(envelope.command_id),
                class: FailureClass::Unprocessable,
                rejection: Rejection::conflict(format!(
                    "the stored data refuses this command ({error}); an operator must mend it"
                )),
            }
        }
    }
}
