//! The `IMAGEFLEET_IMPORT_*` settings (Glance's `[import_filtering_opts]` plus the download
//! limits) as a clap argument group, kept beside the fetcher they configure so the
//! binaries that download (workers) and those that only check URLs (gateway) can both
//! flatten it.

use super::fetcher::SafeFetcher;
use super::filter::ImportFilter;
use clap::Args;
use std::time::Duration;

/// Where web-download and location URLs may point, and how long and how often a
/// download may redirect. Lists are comma-separated.
#[derive(Debug, Clone, Args)]
pub struct ImportFilterArgs {
    /// URL schemes imports may use (only http and https are ever fetched).
    #[arg(
        long,
        env = "IMAGEFLEET_IMPORT_ALLOWED_SCHEMES",
        value_delimiter = ',',
        default_values_t = ["http".to_owned(), "https".to_owned()]
    )]
    pub import_allowed_schemes: Vec<String>,
    /// Hosts imports may use (empty: any). A host listed here may also be a loopback,
    /// private or link-local address, which imports may otherwise not reach.
    #[arg(long, env = "IMAGEFLEET_IMPORT_ALLOWED_HOSTS", value_delimiter = ',')]
    pub import_allowed_hosts: Vec<String>,
    /// Ports imports may use (explicit or the scheme's default).
    #[arg(
        long,
        env = "IMAGEFLEET_IMPORT_ALLOWED_PORTS",
        value_delimiter = ',',
        default_values_t = [80u16, 443]
    )]
    pub import_allowed_ports: Vec<u16>,
    /// Hosts imports may never use (names or addresses; wins over the allowed hosts).
    #[arg(
        long,
        env = "IMAGEFLEET_IMPORT_DISALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub import_disallowed_hosts: Vec<String>,
    /// Seconds a whole download may take, redirects and body included.
    #[arg(long, env = "IMAGEFLEET_IMPORT_TIMEOUT", default_value_t = 3600)]
    pub import_timeout: u64,
    /// Most redirects a download follows (each one is checked like the first URL).
    #[arg(long, env = "IMAGEFLEET_IMPORT_MAX_REDIRECTS", default_value_t = 5)]
    pub import_max_redirects: usize,
}

impl ImportFilterArgs {
    /// The URL policy these settings describe.
    pub fn filter(&self) -> ImportFilter {
        ImportFilter::default()
            .with_allowed_schemes(&self.import_allowed_schemes)
            .with_allowed_hosts(&self.import_allowed_hosts)
            .with_disallowed_hosts(&self.import_disallowed_hosts)
            .with_allowed_ports(self.import_allowed_ports.iter().copied())
    }

    /// The whole-download time limit.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.import_timeout)
    }

    /// A fetcher with this policy and limits that refuses bodies over `max_bytes` (the
    /// image size cap).
    pub fn fetcher(&self, max_bytes: u64) -> SafeFetcher {
        SafeFetcher::new(
            self.filter(),
            max_bytes,
            self.timeout(),
            self.import_max_redirects,
        )
    }
}
