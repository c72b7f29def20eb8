//! Configuration shared by the binaries, as clap argument groups that also read
//! `IMAGEFLEET_*` environment variables. Defaults point at the local Postgres and
//! RabbitMQ so a service starts with no configuration; `--help` documents every variable.

use crate::domain::DomainConfig;
use clap::{Args, ValueEnum};

/// The default database: the local Postgres, database `imagefleet` (created if missing).
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/imagefleet";

/// The most commands a worker commits in one transaction by default (group commit):
/// see `BENCHMARKS.md`, "Fleet", for how the setting was chosen.
pub const DEFAULT_COMMIT_BATCH: u16 = 8;

/// The most commands one transaction may commit: each takes a savepoint, and a group
/// holds the locks of all its rows until it commits. A larger setting is refused.
pub const MAX_COMMIT_BATCH: u16 = 32;

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
    pub fn session_settings(&self) -> crate::db::SessionSettings {
        use std::time::Duration;
        crate::db::SessionSettings {
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
    pub fn session_url(&self) -> Result<String, crate::db::DbError> {
        self.session_settings().url(&self.database_url)
    }
}

/// The default broker: the local RabbitMQ, vhost `/`.
pub const DEFAULT_AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Where the messages go.
#[derive(Debug, Clone, Args)]
pub struct AmqpArgs {
    /// RabbitMQ URL (or a comma-separated list of a cluster's nodes). A connection
    /// asks for a 10 s heartbeat unless the URL names one (`?heartbeat=N`).
    #[arg(long, env = "IMAGEFLEET_AMQP_URL", default_value = DEFAULT_AMQP_URL)]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name (`imagefleet.commands`, ...).
    #[arg(long, env = "IMAGEFLEET_TOPOLOGY_PREFIX", default_value = crate::messaging::topology::DEFAULT_PREFIX)]
    pub topology_prefix: String,
}

impl AmqpArgs {
    /// The topology these settings name.
    pub fn topology(&self) -> crate::messaging::Topology {
        crate::messaging::Topology::new(self.topology_prefix.clone())
    }
}

/// Settings that change how commands are decided (Glance's options of the same names).
#[derive(Debug, Clone, Args)]
pub struct DomainArgs {
    /// Delete active and deactivated images to pending_delete and keep their data until
    /// the scrubber purges them (Glance's `delayed_delete`).
    #[arg(long, env = "IMAGEFLEET_DELAYED_DELETE", default_value_t = false)]
    pub delayed_delete: bool,
    /// Seconds a pending_delete image is kept before it may be purged.
    #[arg(long, env = "IMAGEFLEET_SCRUB_TIME", default_value_t = 0)]
    pub scrub_time: u32,
    /// Hours a finished task is kept.
    #[arg(long, env = "IMAGEFLEET_TASK_TIME_TO_LIVE", default_value_t = 48)]
    pub task_time_to_live: u32,
    /// Most extra properties per image.
    #[arg(long, env = "IMAGEFLEET_IMAGE_PROPERTY_QUOTA", default_value_t = 128)]
    pub image_property_quota: usize,
    /// Most tags per image.
    #[arg(long, env = "IMAGEFLEET_IMAGE_TAG_QUOTA", default_value_t = 128)]
    pub image_tag_quota: usize,
    /// Most members per image.
    #[arg(long, env = "IMAGEFLEET_IMAGE_MEMBER_QUOTA", default_value_t = 128)]
    pub image_member_quota: usize,
    /// Most locations per image.
    #[arg(long, env = "IMAGEFLEET_IMAGE_LOCATION_QUOTA", default_value_t = 10)]
    pub image_location_quota: usize,
    /// Show locations and allow adding them to active images and removing them.
    #[arg(
        long,
        env = "IMAGEFLEET_SHOW_MULTIPLE_LOCATIONS",
        default_value_t = false
    )]
    pub show_multiple_locations: bool,
    /// Largest image in bytes (default 1 TiB).
    #[arg(long, env = "IMAGEFLEET_IMAGE_SIZE_CAP", default_value_t = 1 << 40)]
    pub image_size_cap: i64,
}

impl DomainArgs {
    /// The domain's view of these settings.
    pub fn to_domain(&self) -> DomainConfig {
        DomainConfig {
            delayed_delete: self.delayed_delete,
            scrub_time: chrono::Duration::seconds(i64::from(self.scrub_time)),
            task_time_to_live: chrono::Duration::hours(i64::from(self.task_time_to_live)),
            image_property_quota: self.image_property_quota,
            image_tag_quota: self.image_tag_quota,
            image_member_quota: self.image_member_quota,
            image_location_quota: self.image_location_quota,
            show_multiple_locations: self.show_multiple_locations,
            image_size_cap: self.image_size_cap,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Logging settings; `RUST_LOG` filters as usual (default `info`).
#[derive(Debug, Clone, Args)]
pub struct TelemetryArgs {
    /// Log line format.
    #[arg(long, env = "IMAGEFLEET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        domain: DomainArgs,
    }

    #[test]
    fn defaults_are_glances_and_the_local_database() {
        let probe = Probe::try_parse_from(["probe"]).expect("defaults parse");
        assert_eq!(probe.domain.to_domain(), DomainConfig::default());
        assert!(probe.database.database_url.ends_with("/imagefleet"));
        assert_eq!(
            probe.database.session_settings(),
            crate::db::SessionSettings::default()
        );
    }

    #[test]
    fn flags_override_the_defaults() {
        let probe = Probe::try_parse_from(["probe", "--delayed-delete", "--scrub-time", "60"])
            .expect("flags parse");
        let config = probe.domain.to_domain();
        assert!(config.delayed_delete);
        assert_eq!(config.scrub_time, chrono::Duration::seconds(60));
    }
}
