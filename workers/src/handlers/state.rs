//! The handler of state commands: decide and write through the repository, and sort
//! the result into the bus's failure classes. Every refusal the repository returns is
//! recorded under the command id, so it is an answer, not a dead letter.

use super::HandlerContext;
use crate::outcome::Outcome;
use shared::db::ApplyError;
use shared::domain::Rejection;
use shared::messaging::CommandEnvelope;

/// Applies a state command exactly once.
pub async fn apply(envelope: &CommandEnvelope, ctx: &HandlerContext) -> Outcome {
    match ctx.committer.apply(envelope).await {
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
        Err(ApplyError::Database(error)) => Outcome::Retryable {
            reason: error.to_string(),
        },
    }
}
