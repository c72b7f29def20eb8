//! The message contract on the bus (envelopes, replies, header names, schema versions)
//! and the RabbitMQ topology that carries it.

pub mod client;
pub mod confirm;
pub mod connection;
pub mod envelope;
pub mod event_envelope;
pub mod flow;
pub mod headers;
pub mod intake;
pub mod reply;
pub mod schemas;
pub mod topology;
pub mod trace_context;

pub use envelope::{COMMAND_SCHEMA_V1, CommandEnvelope};
pub use event_envelope::{EVENT_SCHEMA_V1, EventEnvelope};
pub use reply::{CommandReply, CommandResult, RecordedEvent};
pub use topology::{Topology, WorkQueue};
pub use trace_context::TraceContext;
