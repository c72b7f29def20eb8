//! The command envelope: who sent which command, when, and under which id. The command
//! itself is flattened in as `type` and `payload`, so the JSON reads
//! `{"schema": "imagefleet.command.v1", "command_id": ..., "type": ..., "payload": {...}}`.

use crate::TraceContext;
use chrono::{DateTime, Utc};
use domain::{Actor, Command, CommandId};
use serde::{Deserialize, Serialize};

/// The schema name of version 1 of the command envelope.
pub const COMMAND_SCHEMA_V1: &str = "imagefleet.command.v1";

/// A command as producers send it and the repository records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CommandEnvelope {
    /// `imagefleet.command.v1`.
    pub schema: String,
    /// The key of exactly-once processing: a redelivery with the same id has no new effect.
    pub command_id: CommandId,
    /// Ties the command to the request that caused it; copied into its events and logs.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// When the producer issued it.
    pub issued_at: DateTime<Utc>,
    /// Who asks.
    pub actor: Actor,
    /// The latest time the command may be applied, if the producer set one. A worker
    /// checks it against the database clock just before it commits: past it, the
    /// command is not applied, now or ever (its id is recorded as `expired`), so a
    /// producer that stopped waiting at the deadline knows it was not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
    /// The command, as `type` and `payload`.
    #[serde(flatten)]
    pub command: Command,
    /// The trace context of the span that sends or handles the command. Not part of the
    /// JSON body: producers send it in the AMQP `traceparent` header, a worker replaces
    /// it with its own span's context, and the events the command writes carry that.
    #[serde(skip)]
    #[schemars(skip)]
    pub trace: Option<TraceContext>,
}

impl CommandEnvelope {
    /// A version 1 envelope with a fresh command id, issued now.
    pub fn new(actor: Actor, command: Command) -> Self {
        Self {
            schema: COMMAND_SCHEMA_V1.to_owned(),
            command_id: CommandId::generate(),
            correlation_id: None,
            issued_at: Utc::now(),
            actor,
            deadline: None,
            command,
            trace: None,
        }
    }

    /// The same envelope with a deadline.
    pub fn with_deadline(mut self, deadline: DateTime<Utc>) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The same envelope with a correlation id.
    pub fn with_correlation_id(mut self, correlation_id: impl Into<String>) -> Self {
        self.correlation_id = Some(correlation_id.into());
        self
    }
}
