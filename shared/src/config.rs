//! The settings of no single layer, as clap argument groups that also read
//! `IMAGEFLEET_*` environment variables: how commands are decided (Glance's options of
//! the same names) and how logs are written. The database's and the broker's settings
//! are their crates' (`db::DatabaseArgs`, `bus::AmqpArgs`); `--help` documents every
//! variable.

use clap::{Args, ValueEnum};
use domain::DomainConfig;

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
            // The stores are the store settings' (`store::StoreArgs`), filled in by
            // the workers once they are opened.
            stores: Vec::new(),
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
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Parser)]
    struct Probe {
        #[command(flatten)]
        domain: DomainArgs,
    }

    /// Parses `argv` with every argument's environment variable removed: the defaults
    /// checked are the built-in ones, whatever `IMAGEFLEET_*` the shell running the
    /// tests has set.
    fn parse(argv: &[&str]) -> Result<Probe, clap::Error> {
        let command = Probe::command().mut_args(|arg| arg.env(None::<&str>));
        Probe::from_arg_matches(&command.try_get_matches_from(argv)?)
    }

    #[test]
    fn domain_defaults_are_glances() {
        let probe = parse(&["probe"]).expect("defaults parse");
        assert_eq!(probe.domain.to_domain(), DomainConfig::default());
    }

    #[test]
    fn flags_override_the_defaults() {
        let probe =
            parse(&["probe", "--delayed-delete", "--scrub-time", "60"]).expect("flags parse");
        let config = probe.domain.to_domain();
        assert!(config.delayed_delete);
        assert_eq!(config.scrub_time, chrono::Duration::seconds(60));
    }
}
