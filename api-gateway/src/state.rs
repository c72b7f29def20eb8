//! What every handler shares: the read pool, the command client, the identity settings,
//! the image store, the URL fetcher, the `image.send` notifier and the settings.

use std::sync::Arc;
use std::time::Duration;

use bus::client::CommandClient;
use db::PgPool;
use fetch::SafeFetcher;
use store::Stores;

use crate::identity::Identity;

/// Gateway settings that shape answers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a command may take: its deadline is this far after it is sent, and a
    /// worker never applies it later.
    pub command_timeout: Duration,
    /// How long past a command's deadline the gateway still waits for its answer
    /// before a 503, for a commit that was under way at the deadline (and the clocks
    /// of the gateway and Postgres being apart): after it, the 503 is definitive.
    pub commit_margin: Duration,
    /// How long, past the margin, the gateway waits for a worker transaction still
    /// holding an unanswered command (its commit under way) before it answers that the
    /// outcome is unknown: the longest the server keeps such a transaction open
    /// (statement timeout plus idle-in-transaction timeout).
    pub fence_timeout: Duration,
    /// Show `locations` and `direct_url` (Glance's `show_multiple_locations`).
    pub show_multiple_locations: bool,
    /// How long an upload, stage or import may hold its image before the janitor gives
    /// the image back to queued.
    pub data_lease: chrono::Duration,
    /// Largest image in bytes (`image_size_cap`).
    pub image_size_cap: u64,
    /// Most bytes a project's images may hold together (`user_storage_quota`); `None`
    /// for no limit.
    pub user_storage_quota: Option<u64>,
    /// Build absolute URLs from a proxy's `Forwarded` / `X-Forwarded-*` headers (Glance's
    /// `enable_proxy_headers_parsing`); off, only the request's own scheme and `Host`.
    pub proxy_headers: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(10),
            commit_margin: Duration::from_secs(2),
            fence_timeout: db::SessionSettings::default().transaction_bound(),
            show_multiple_locations: false,
            data_lease: chrono::Duration::hours(1),
            image_size_cap: 1 << 40,
            user_storage_quota: None,
            proxy_headers: false,
        }
    }
}

/// The state of the router.
#[derive(Clone)]
pub struct AppState {
    /// Reads go straight to Postgres.
    pub reads: PgPool,
    /// State changes go to the workers as commands.
    pub commands: CommandClient,
    /// Who callers are.
    pub identity: Arc<Identity>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// Where image data is written and read.
    pub stores: Stores,
    /// Checks web-download and location URLs, and reads data from locations.
    pub fetcher: SafeFetcher,
    /// Sends Glance's `image.send` after downloads; None when notifications are off.
    pub send_notices: Option<Arc<crate::send_notice::SendNotifier>>,
}
