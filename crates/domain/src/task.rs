//! The task aggregate: long-running work such as an import, with its own version.

use super::ids::{ImageId, TaskId};
use super::status::{TaskStatus, TaskType};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A task as stored, at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Task {
    /// The task's id.
    pub id: TaskId,
    /// Starts at 1 on creation and rises by one with every accepted change.
    pub version: i64,
    /// What the task does.
    pub task_type: TaskType,
    /// The lifecycle status.
    pub status: TaskStatus,
    /// What the task was asked to do (may hold secrets: never in notifications).
    pub input: serde_json::Value,
    /// Details of a success, e.g. `{"image_id": ...}`.
    pub result: Option<serde_json::Value>,
    /// Why it failed; empty until then.
    pub message: String,
    /// The owning project.
    pub owner: String,
    /// The image the task works on.
    pub image_id: Option<ImageId>,
    /// The request that created it.
    pub request_id: Option<String>,
    /// The user that created it.
    pub user_id: Option<String>,
    /// Set when the task finishes: after this it is purged.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Purged after expiry; kept as a record.
    pub deleted: bool,
    /// When it was purged.
    pub deleted_at: Option<DateTime<Utc>>,
}
