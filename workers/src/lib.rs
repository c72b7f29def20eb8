//! imagefleet's worker fleet as a library, so the `workers` binary, `imagefleet up` and
//! the tests start the same thing: consumers of the command and job queues that apply
//! each command exactly once through the repository, the outbox relay and the janitor.

pub mod consumer;
pub mod delivery;
pub mod fleet;
pub mod group_commit;
pub mod handlers;
pub mod janitor;
pub mod jobs;
pub mod ops;
pub mod outcome;
pub mod progress;
pub mod publisher;

pub use fleet::{FleetConfig, run_fleet};
