//! How a delivery ended, and what the worker must do about it: the failure classes of
//! the bus. A refusal the domain decided (or an expired deadline, or a command out of
//! races) is an answer, recorded with the command: it is replied and acked, never
//! dead-lettered. Only what an operator must look at goes to a dead-letter queue: a
//! message that cannot be read, one from a producer that may not send it, and (through
//! the TTL retry queues) a retryable failure that outlasted its retries.

use bus::FailureClass;
use domain::{CommandId, Rejection, RejectionKind};
use wire::{CommandReply, CommandResult};

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
    /// Refused, and the refusal recorded under the command id (a redelivery or a
    /// replay gets the same answer): reply and ack.
    Rejected {
        /// The command.
        command_id: CommandId,
        /// Why.
        rejection: Rejection,
    },
    /// Can never be processed as sent: reply with the rejection, dead-letter, ack.
    DeadLetter {
        /// The command, if the message could be read that far.
        command_id: Option<CommandId>,
        /// Which kind of dead letter, for the operator's filters.
        class: FailureClass,
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
    /// A message that could not be read as a command or event.
    pub fn unreadable(command_id: Option<CommandId>, message: impl Into<String>) -> Self {
        Outcome::DeadLetter {
            command_id,
            class: FailureClass::Unreadable,
            rejection: Rejection::new(RejectionKind::BadRequest, message),
        }
    }

    /// A message refused before it was read (size, content type: unreadable) or
    /// because of its producer (forbidden).
    pub fn refused_unread(command_id: Option<CommandId>, rejection: Rejection) -> Self {
        let class = match rejection.kind {
            RejectionKind::Forbidden => FailureClass::Forbidden,
            _ => FailureClass::Unreadable,
        };
        Outcome::DeadLetter {
            command_id,
            class,
            rejection,
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
            Outcome::Rejected {
                command_id,
                rejection,
            } => Some(rejected(Some(*command_id), rejection)),
            Outcome::DeadLetter {
                command_id,
                rejection,
                ..
            } => Some(rejected(*command_id, rejection)),
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
            Outcome::Rejected { .. } => "rejected",
            Outcome::DeadLetter { .. } => "dead_lettered",
            Outcome::Retryable { .. } => "retry",
            Outcome::Done => "done",
        }
    }
}

fn rejected(command_id: Option<CommandId>, rejection: &Rejection) -> CommandReply {
    CommandReply::Rejected {
        command_id,
        kind: rejection.kind,
        message: rejection.message.clone(),
    }
}
