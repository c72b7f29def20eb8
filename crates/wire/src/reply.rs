//! What a worker answers a producer that asked for a reply (`reply_to`), and what the
//! repository stores as an accepted command's result.

use domain::{CommandId, Image, RejectionKind, Task};
use serde::{Deserialize, Serialize};

/// What an accepted command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandResult {
    /// The image after the command, if it targets one.
    pub image: Option<Image>,
    /// The task after the command, if it targets one.
    pub task: Option<Task>,
    /// The events it recorded; empty when it changed nothing.
    pub events: Vec<RecordedEvent>,
}

/// An event as recorded in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordedEvent {
    /// UUIDv7 of the event.
    pub event_id: uuid::Uuid,
    /// The changed aggregate.
    pub aggregate_id: uuid::Uuid,
    /// Its version after the change.
    pub version: i64,
    /// e.g. `image.active`.
    pub routing_key: String,
}

/// The answer to a command.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CommandReply {
    /// Applied now, or earlier (`replayed`) under the same command id.
    Accepted {
        /// The command.
        command_id: CommandId,
        /// True when this delivery found the command already processed.
        replayed: bool,
        /// What it did (boxed: it dwarfs the rejection).
        result: Box<CommandResult>,
    },
    /// Refused; nothing changed.
    Rejected {
        /// The command, when the message could be read far enough to know it.
        command_id: Option<CommandId>,
        /// The class of refusal (maps to an HTTP status).
        kind: RejectionKind,
        /// What went wrong.
        message: String,
    },
}
