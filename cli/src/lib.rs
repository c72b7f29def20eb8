//! The `imagefleet` operator command as a library: one module per subcommand, each with
//! its clap arguments, a `run` entry point, and the functions behind it (which the
//! integration tests call directly against a test topology), plus the exit codes and
//! the progress lines they share.

pub mod dlq;
pub mod exit;
pub mod outbox;
pub mod progress;
pub mod publish;
pub mod status;
pub mod tail;
pub mod up;
