//! The event envelope subscribers receive on the events exchange: one per accepted
//! change of an image or task, built from its outbox row.

use chrono::{DateTime, Utc};
use domain::Actor;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The schema name of version 1 of the event envelope.
pub const EVENT_SCHEMA_V1: &str = "imagefleet.event.v1";

/// A status-change event as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventEnvelope {
    /// `imagefleet.event.v1`.
    pub schema: String,
    /// Unique per event: subscribers drop duplicates by it (delivery is at least once).
    pub event_id: Uuid,
    /// When the change was committed.
    pub occurred_at: DateTime<Utc>,
    /// `image` or `task`.
    pub aggregate: String,
    /// The image's or task's id.
    pub id: Uuid,
    /// The aggregate's version after the change: creation is 1, each change adds one,
    /// so a subscriber sees gaps.
    pub version: i64,
    /// What happened, e.g. `image.deactivated`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The status before (none for a creation).
    pub from_status: Option<String>,
    /// The status after.
    pub to_status: String,
    /// The command that caused it.
    pub command_id: Uuid,
    /// The request that caused the command.
    pub correlation_id: Option<String>,
    /// Who sent the command.
    pub actor: Actor,
    /// The image or task after the change.
    pub snapshot: serde_json::Value,
}
