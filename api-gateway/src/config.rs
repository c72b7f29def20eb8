//! The gateway's configuration: flags and `IMAGEFLEET_*` variables, documented by
//! `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use bus::AmqpArgs;
use clap::{Args, ValueEnum};
use db::DatabaseArgs;
use domain::Actor;
use fetch::ImportFilterArgs;
use shared::config::DomainArgs;
use store::StoreArgs;

use crate::identity::{AuthMode, Identity, TokenFileError};
use crate::state::Settings;

/// How the gateway learns who calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AuthKind {
    /// Trusted `X-Project-Id`/`X-User-Id`/`X-Roles` headers from an authenticating proxy.
    Headers,
    /// `X-Auth-Token` looked up in `IMAGEFLEET_TOKEN_FILE`.
    TokenFile,
}

/// Everything the gateway reads at start.
#[derive(Debug, Clone, Args)]
pub struct GatewayArgs {
    /// Address to listen on.
    #[arg(long, env = "IMAGEFLEET_BIND", default_value = "127.0.0.1:9292")]
    pub bind: SocketAddr,
    /// How callers are identified.
    #[arg(long, env = "IMAGEFLEET_AUTH", value_enum, default_value_t = AuthKind::Headers)]
    pub auth: AuthKind,
    /// The token file for `--auth token-file`:
    /// `{"tokens": {"<token>": {"project_id": .., "user_id": .., "roles": [..]}}}`.
    #[arg(long, env = "IMAGEFLEET_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// Act as this project (with roles member and reader) when a request carries no
    /// identity; off by default (401). `imagefleet up` sets `default`.
    #[arg(long, env = "IMAGEFLEET_DEFAULT_PROJECT")]
    pub default_project: Option<String>,
    /// Seconds a command may take: its deadline, past which no worker applies it.
    #[arg(long, env = "IMAGEFLEET_COMMAND_TIMEOUT", default_value_t = 10)]
    pub command_timeout: u64,
    /// Milliseconds the gateway waits past a command's deadline (for a commit under
    /// way) before it answers 503, which then means "not applied".
    #[arg(long, env = "IMAGEFLEET_COMMIT_MARGIN_MS", default_value_t = 2000)]
    pub commit_margin_ms: u64,
    /// Seconds an upload, stage or import may hold its image; after that the janitor
    /// returns the image to queued and removes partial data.
    #[arg(long, env = "IMAGEFLEET_DATA_LEASE", default_value_t = 3600)]
    pub data_lease: u32,
    /// Most bytes one project's images may hold together (Glance's
    /// `user_storage_quota`); 0 for no limit. Uploads beyond it get 413.
    #[arg(long, env = "IMAGEFLEET_USER_STORAGE_QUOTA", default_value_t = 0)]
    pub user_storage_quota: u64,
    /// Build absolute URLs (a 201's `Location`, the versions document's links) from the
    /// `Forwarded` / `X-Forwarded-Proto` / `X-Forwarded-Host` / `X-Forwarded-Prefix`
    /// headers (Glance's `enable_proxy_headers_parsing`). Only behind a proxy that sets
    /// or strips them: otherwise any client can choose them.
    #[arg(long, env = "IMAGEFLEET_PROXY_HEADERS", default_value_t = false)]
    pub proxy_headers: bool,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub store: StoreArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub import: ImportFilterArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub amqp: AmqpArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub domain: DomainArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub notifications: notifications::NotificationsArgs,
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--auth token-file` without a file.
    #[error("--auth token-file needs IMAGEFLEET_TOKEN_FILE")]
    MissingTokenFile,
    /// The token file is unusable.
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
}

impl GatewayArgs {
    /// The identity settings.
    pub fn identity(&self) -> Result<Identity, ConfigError> {
        let mode = match self.auth {
            AuthKind::Headers => AuthMode::Headers,
            AuthKind::TokenFile => AuthMode::from_token_file(
                self.token_file
                    .as_deref()
                    .ok_or(ConfigError::MissingTokenFile)?,
            )?,
        };
        let default_actor = self.default_project.as_ref().map(|project| {
            Actor::new(
                project.clone(),
                format!("{project}-user"),
                &["member", "reader"],
            )
        });
        Ok(Identity {
            mode,
            default_actor,
        })
    }

    /// The answer-shaping settings.
    pub fn settings(&self) -> Settings {
        Settings {
            command_timeout: Duration::from_secs(self.command_timeout),
            commit_margin: Duration::from_millis(self.commit_margin_ms),
            fence_timeout: self.database.session_settings().transaction_bound(),
            show_multiple_locations: self.domain.show_multiple_locations,
            data_lease: chrono::Duration::seconds(i64::from(self.data_lease)),
            image_size_cap: u64::try_from(self.domain.image_size_cap).unwrap_or(0),
            user_storage_quota: Some(self.user_storage_quota).filter(|q| *q > 0),
            proxy_headers: self.proxy_headers,
        }
    }
}
