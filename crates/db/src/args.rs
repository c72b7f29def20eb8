//! The database settings every binary takes, as a clap argument group that also reads
//! `IMAGEFLEET_DATABASE_*` environment variables; the defaults name the local Postgres.

use clap::Args;

/// The default database: the local Postgres, database `imagefleet` (created if missing).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/imagefleet";

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Postgres URL; the database is created on `migrate` if it does not exist.
    #[arg(long, env = "IMAGEFLEET_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Most connections this process opens to Postgres.
    #[arg(long, env = "IMAGEFLEET_DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
    /// Milliseconds one statement may run (Postgres `statement_timeout`).
    #[arg(long, env = "IMAGEFLEET_DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_statement_timeout_ms: u64,
    /// Milliseconds a statement waits for a row lock another session holds before the
    /// command fails retryable (Postgres `lock_timeout`).
    #[arg(long, env = "IMAGEFLEET_DATABASE_LOCK_TIMEOUT_MS", default_value_t = 2000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_lock_timeout_ms: u64,
    /// Milliseconds a session may sit idle in a transaction before Postgres ends it;
    /// leader sessions (relay, janitor) may not sit idle longer at all.
    #[arg(long, env = "IMAGEFLEET_DATABASE_IDLE_TIMEOUT_MS", default_value_t = 10000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_idle_timeout_ms: u64,
    /// Seconds opening a connection may take.
    #[arg(long, env = "IMAGEFLEET_DATABASE_CONNECT_TIMEOUT", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub database_connect_timeout: u64,
    /// Seconds after which a connection whose peer stopped acknowledging is dropped, on
    /// both ends (TCP user timeout, with keepalives within it).
    #[arg(long, env = "IMAGEFLEET_DATABASE_TCP_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(3..))]
    pub database_tcp_timeout: u64,
}

impl DatabaseArgs {
    /// The session timeouts these settings give.
    pub fn session_settings(&self) -> crate::SessionSettings {
        use std::time::Duration;
        crate::SessionSettings {
            statement_timeout: Duration::from_millis(self.database_statement_timeout_ms),
            lock_timeout: Duration::from_millis(self.database_lock_timeout_ms),
            idle_timeout: Duration::from_millis(self.database_idle_timeout_ms),
            connect_timeout: Duration::from_secs(self.database_connect_timeout),
            tcp_timeout: Duration::from_secs(self.database_tcp_timeout),
        }
    }

    /// The URL with the session timeouts in it (the URL's own settings win), for the
    /// service's connections; migrations use [`DatabaseArgs::database_url`] as given,
    /// since a schema change may rightly take longer than a command.
    pub fn session_url(&self) -> Result<String, crate::DbError> {
        self.session_settings().url(&self.database_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        database: DatabaseArgs,
    }

    /// Parses `argv` with every argument's environment variable removed: the defaults
    /// checked are the built-in ones, whatever `IMAGEFLEET_*` the shell running the
    /// tests has set.
    fn parse(argv: &[&str]) -> Result<Probe, clap::Error> {
        let command = Probe::command().mut_args(|arg| arg.env(None::<&str>));
        Probe::from_arg_matches(&command.try_get_matches_from(argv)?)
    }

    #[test]
    fn defaults_are_the_local_database_and_the_default_timeouts() {
        let probe = parse(&["probe"]).expect("defaults parse");
        assert!(probe.database.database_url.ends_with("/imagefleet"));
        assert_eq!(
            probe.database.session_settings(),
            crate::SessionSettings::default()
        );
    }
}
