//! How a delivery ended, and what the worker must do about it: the failure classes of
//! the bus. Permanent failures are answered and dead-lettered at once; retryable ones go
//! through the TTL retry queues until they run out of attempts.

use shared::domain::{CommandId, Rejection, RejectionKind};
use shared::messaging::{CommandReply, CommandResult};

/// The end of one delivery's processing.
#[derive(Debug)]
pub enum Outcome {
    /// Applied (now or before): reply and ack.
    Accepted {
        /// The command.
        command_id: CommandId,
        /// Found already processed.
        replayed: bool,
        /// What it did.
        result: Box<CommandResult>,
    },
    /// A job ran to its end (its own commands recorded how): ack.
    Done,
    /// Can never succeed as sent: reply with the rejection, dead-letter, ack.
    Permanent {
        /// The command, if the message could be read that far.
        command_id: Option<CommandId>,
        /// Why.
        rejection: Rejection,
    },
    /// Failed for a reason that may pass (database or broker unavailable): try again
    /// later through a retry queue.
    Retryable {
        /// What failed.
        reason: String,
    },
}

impl Outcome {
    /// A permanent failure of a message that could not be read as a command.
    pub fn unreadable(command_id: Option<CommandId>, message: impl Into<String>) -> Self {
        Outcome::Permanent {
            command_id,
            rejection: Rejection::new(RejectionKind::BadRequest, message),
        }
    }

    /// The reply a producer that asked for one receives; none while a retry is pending.
    pub fn reply(&self) -> Option<CommandReply> {
        match self {
            Outcome::Accepted {
                command_id,
                replayed,
                result,
            } => Some(CommandReply::Accepted {
                command_id: *command_id,
                replayed: *replayed,
                result: result.clone(),
            }),
            Outcome::Permanent {
                command_id,
                rejection,
            } => Some(CommandReply::Rejected {
                command_id: *command_id,
                kind: rejection.kind,
                message: rejection.message.clone(),
            }),
            Outcome::Retryable { .. } | Outcome::Done => None,
        }
    }

    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Accepted {
                replayed: false, ..
            } => "accepted",
            Outcome::Accepted { replayed: true, .. } => "replayed",
            Outcome::Permanent { .. } => "rejected",
            Outcome::Retryable { .. } => "retry",
            Outcome::Done => "done",
        }
    }
}
