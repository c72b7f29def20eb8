//! The exit codes of `imagefleet`, one scheme for every subcommand so a script can tell
//! "it worked", "it could not run", "it ran and found something" and "it refused"
//! apart without parsing the output. The table is repeated in `--help` and the README;
//! a code, once given a meaning, keeps it.

/// Success; `status`: everything is fine.
pub const SUCCESS: u8 = 0;
/// Any error not covered below (bad input, a failed operation, a broken connection
/// in the middle of work).
pub const ERROR: u8 = 1;
/// A usage error: an unknown flag or a bad value (clap's own code, listed so that no
/// other meaning is given to it).
pub const USAGE: u8 = 2;
/// `publish --wait`: a worker rejected the command.
pub const REJECTED: u8 = 3;
/// `publish --wait`: no reply in time; the outcome is unknown.
pub const NO_REPLY: u8 = 4;
/// `status`: everything was reached, and something needs attention (dead letters, no
/// relay or janitor leader, outbox lag over `--max-outbox-lag`, quarantined outbox
/// rows, pending migrations, a
/// work queue nobody consumes, a missing queue).
pub const ATTENTION: u8 = 5;
/// `status`: Postgres or RabbitMQ could not be reached (what could be read is still
/// printed).
pub const UNREACHABLE: u8 = 6;
/// `dlq purge` without `--yes`: refused, nothing removed.
pub const NOT_CONFIRMED: u8 = 7;

/// The table printed at the end of `imagefleet --help`.
pub const HELP: &str = "\
Exit codes:
  0  success; status: all fine
  1  error
  2  usage error (unknown flag, bad value)
  3  publish --wait: the command was rejected
  4  publish --wait: no reply in time (outcome unknown; re-publish the same envelope)
  5  status: something needs attention (dead letters, no leader, outbox lag, ...)
  6  status: Postgres or RabbitMQ unreachable
  7  dlq purge without --yes: refused, nothing removed";
