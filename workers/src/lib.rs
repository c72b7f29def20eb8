//! imagefleet's worker fleet as a library, so the `workers` binary, `imagefleet up` and
//! the tests start the same thing: consumers of the command and job queues that apply
//! each command exactly once through the repository, the outbox relay and the janitor.
//!
//! A command's path: [`consumer`] takes a delivery, [`delivery`] admits and parses it,
//! [`apply_command`] applies it (through [`group_commit`]), [`publisher`] settles it by
//! its [`outcome`]. An event on the jobs queue runs a job from [`jobs`]. Beside them:
//! [`janitor`] (housekeeping, one leader), [`derived_command`] (the ids of the commands
//! the janitor and jobs send), [`fleet`] (a worker's tasks), [`fleet_args`] (the flags
//! `workers run` and `imagefleet up` share, the import plugins' in [`plugin_args`]), [`progress`] (whether a worker applies
//! anything) and [`ops`] (a lone worker's operations port).

pub mod apply_command;
pub mod consumer;
pub mod delivery;
pub mod derived_command;
pub mod fleet;
pub mod fleet_args;
pub mod group_commit;
pub mod janitor;
pub mod jobs;
pub mod ops;
pub mod ops_port;
pub mod outcome;
pub mod plugin_args;
pub mod progress;
pub mod publisher;

pub use fleet::{FleetConfig, run_fleet};
pub use fleet_args::{FleetArgs, ServiceArgs};
