//! What every handler shares: the read pool, the command client and the settings.

use std::sync::Arc;
use std::time::Duration;

use shared::db::PgPool;
use shared::messaging::client::CommandClient;

use crate::identity::Identity;

/// Gateway settings that shape answers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Longest wait for a worker's reply before answering 503.
    pub command_timeout: Duration,
    /// Show `locations` and `direct_url` (Glance's `show_multiple_locations`).
    pub show_multiple_locations: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(10),
            show_multiple_locations: false,
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
}
