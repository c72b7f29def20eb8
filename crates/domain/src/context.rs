//! What `decide` needs besides the state and the command: who asks, what time it is, and
//! the deployment's settings that change outcomes (delayed delete, quotas, caps).

use super::actor::Actor;
use chrono::{DateTime, Duration, Utc};

/// Settings that change how commands are decided; defaults are Glance's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainConfig {
    /// Delete active and deactivated images to pending_delete and keep their data.
    pub delayed_delete: bool,
    /// How long pending_delete images wait before the scrubber may purge them.
    pub scrub_time: Duration,
    /// How long finished tasks are kept.
    pub task_time_to_live: Duration,
    /// Maximum extra properties per image.
    pub image_property_quota: usize,
    /// Maximum tags per image.
    pub image_tag_quota: usize,
    /// Maximum members per image.
    pub image_member_quota: usize,
    /// Maximum locations per image.
    pub image_location_quota: usize,
    /// Glance's `show_multiple_locations`: locations may be added to active images and
    /// removed.
    pub show_multiple_locations: bool,
    /// Largest image in bytes (`image_size_cap`).
    pub image_size_cap: i64,
    /// The ids of the named stores; empty in single-store mode
    /// (Glance without `enabled_backends`).
    pub stores: Vec<String>,
}

impl Default for DomainConfig {
    fn default() -> Self {
        Self {
            delayed_delete: false,
            scrub_time: Duration::zero(),
            task_time_to_live: Duration::hours(48),
            image_property_quota: 128,
            image_tag_quota: 128,
            image_member_quota: 128,
            image_location_quota: 10,
            show_multiple_locations: false,
            image_size_cap: 1 << 40,
            stores: Vec::new(),
        }
    }
}

/// The caller, the clock and the settings a decision is made under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// Who issued the command.
    pub actor: Actor,
    /// The time the decision is made at (no clock inside the domain).
    pub now: DateTime<Utc>,
    /// Deployment settings.
    pub config: DomainConfig,
}
