//! The message contract on the bus: envelopes and their schema versions.

pub mod envelope;

pub use envelope::{COMMAND_SCHEMA_V1, CommandEnvelope};
