//! The write path: applying decided commands to Postgres exactly once. The repository
//! loads a command's aggregates, calls the domain's `decide`, and writes the new state,
//! the recorded answer and the outbox events in one transaction under optimistic
//! locking; group apply does the same for several commands in one transaction; the
//! sweeps are the janitor's reads and its one delete. Only the workers, the CLI and the
//! tests link this crate: the gateway cannot write state.

mod deadline;
mod group_apply;
pub mod repository;
pub mod sweep;
pub mod write;

pub use repository::{Applied, ApplyError, Repository};
