//! The message contract on the bus: command and event envelopes, command replies, the
//! trace context they carry and their JSON Schemas. Plain data with serde, no I/O: the
//! gateway, the workers, the outbox and any producer agree on these types.

pub mod envelope;
pub mod event_envelope;
pub mod reply;
pub mod schemas;
pub mod trace_context;

pub use envelope::{COMMAND_SCHEMA_V1, CommandEnvelope};
pub use event_envelope::{EVENT_SCHEMA_V1, EventEnvelope};
pub use reply::{CommandReply, CommandResult, RecordedEvent};
pub use trace_context::TraceContext;
