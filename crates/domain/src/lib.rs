//! The pure lifecycle domain: statuses (`status`), the transition tables
//! (`transitions`), commands (`command`), events (`event`) and `decide` (in `decide/`,
//! one file per resource, dispatched from one `match`), with the aggregates (`image`,
//! `task`), identifiers (`ids`), who asks (`actor`, `context`), input checks
//! (`validate`), who may do what (`policy`), store ids (`stores`) and refusals
//! (`rejection`).
//!
//! Nothing here does I/O, awaits, reads a clock or draws random numbers (id constructors
//! aside, which callers use before deciding), so every rule is a plain function that
//! unit and property tests can walk exhaustively.

pub mod actor;
pub mod command;
pub mod context;
mod decide;
pub mod event;
pub mod ids;
pub mod image;
pub mod injection;
pub mod policy;
pub mod rejection;
pub mod status;
pub mod stores;
pub mod task;
pub mod transitions;
pub mod validate;

#[cfg(test)]
mod tests;

pub use actor::Actor;
pub use command::{Command, Target};
pub use context::{Context, DomainConfig};
pub use decide::{State, decide};
pub use event::Event;
pub use ids::{CommandId, ImageId, TaskId};
pub use image::Image;
pub use rejection::{Rejection, RejectionKind};
pub use status::{ImageStatus, TaskStatus};
pub use task::Task;
