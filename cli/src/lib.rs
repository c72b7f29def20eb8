//! The `imagefleet` operator command as a library: one module per subcommand, each with
//! its clap arguments, a `run` entry point, and the functions behind it (which the
//! integration tests call directly against a test topology).

pub mod dlq;
pub mod publish;
pub mod tail;
pub mod up;
