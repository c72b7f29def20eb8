//! What `decide` returns for an accepted command: one event per changed aggregate, each
//! carrying the aggregate's snapshot at its new version, and the routing key subscribers
//! bind to.

use super::image::Image;
use super::status::{ImageStatus, TaskStatus};
use super::task::Task;
use serde::{Deserialize, Serialize};

/// What happened to an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageEventKind {
    /// Registered (version 1, queued).
    Created,
    /// Metadata changed.
    Updated,
    /// Upload started (saving).
    UploadStarted,
    /// Upload finished (active).
    Uploaded,
    /// Upload failed; data removed (queued).
    UploadAborted,
    /// Upload failed and the data could not be removed (killed).
    Killed,
    /// Staging started (uploading).
    StageStarted,
    /// Staging finished; waiting for the import call.
    Staged,
    /// Staging failed (queued).
    StageAborted,
    /// Import started (importing).
    ImportStarted,
    /// Import finished (active).
    Imported,
    /// Import failed (queued).
    ImportFailed,
    /// Deactivated.
    Deactivated,
    /// Reactivated.
    Reactivated,
    /// Deleted, data removed.
    Deleted,
    /// Deleted with delayed delete: data kept until scrubbed.
    DeletePending,
    /// Brought back from pending_delete by an admin.
    Restored,
    /// Purged by the scrubber.
    Purged,
    /// A location was added.
    LocationAdded,
    /// A location was removed.
    LocationRemoved,
    /// One store's copy of the data was removed; the image keeps the others.
    RemovedFromStore,
    /// A tag was added.
    TagAdded,
    /// A tag was removed.
    TagRemoved,
    /// Shared with a project.
    MemberAdded,
    /// A member answered.
    MemberUpdated,
    /// No longer shared with a project.
    MemberRemoved,
}

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskEventKind {
    /// Created (version 1, pending).
    Created,
    /// A worker picked it up.
    Started,
    /// Finished with a result.
    Succeeded,
    /// Finished with an error.
    Failed,
    /// Purged after `expires_at`.
    Expired,
}

/// An image at its new version, and the status it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageChanged {
    /// What happened.
    pub kind: ImageEventKind,
    /// The status before; none for a creation.
    pub from_status: Option<ImageStatus>,
    /// The image after the change.
    pub image: Image,
}

/// A task at its new version, and the status it left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskChanged {
    /// What happened.
    pub kind: TaskEventKind,
    /// The status before; none for a creation.
    pub from_status: Option<TaskStatus>,
    /// The task after the change.
    pub task: Task,
}

/// One aggregate's change; an accepted command yields at most one per aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "aggregate", rename_all = "snake_case")]
pub enum Event {
    /// An image changed.
    Image(ImageChanged),
    /// A task changed.
    Task(TaskChanged),
}

impl Event {
    /// The changed aggregate's id.
    pub fn aggregate_id(&self) -> uuid::Uuid {
        match self {
            Event::Image(e) => e.image.id.as_uuid(),
            Event::Task(e) => e.task.id.as_uuid(),
        }
    }

    /// `image` or `task`.
    pub fn aggregate_type(&self) -> &'static str {
        match self {
            Event::Image(_) => "image",
            Event::Task(_) => "task",
        }
    }

    /// The aggregate's version after the change.
    pub fn version(&self) -> i64 {
        match self {
            Event::Image(e) => e.image.version,
            Event::Task(e) => e.task.version,
        }
    }

    /// The event's type, e.g. `image.deactivated`.
    pub fn event_type(&self) -> String {
        let kind = match self {
            Event::Image(e) => serde_json::to_value(e.kind),
            Event::Task(e) => serde_json::to_value(e.kind),
        };
        let kind = kind.ok().and_then(|v| v.as_str().map(str::to_owned));
        format!("{}.{}", self.aggregate_type(), kind.unwrap_or_default())
    }

    /// The status before the change, spelled as on the wire.
    pub fn from_status(&self) -> Option<&'static str> {
        match self {
            Event::Image(e) => e.from_status.map(ImageStatus::as_str),
            Event::Task(e) => e.from_status.map(TaskStatus::as_str),
        }
    }

    /// The status after the change.
    pub fn to_status(&self) -> &'static str {
        match self {
            Event::Image(e) => e.image.status.as_str(),
            Event::Task(e) => e.task.status.as_str(),
        }
    }

    /// The topic routing key: `image.<new status>` when the status changed (creation is
    /// `image.queued`), `image.removed_from_store` for a store's copy removed (a job
    /// removes its blob, so the jobs queue binds it), `image.updated` for any other
    /// change, `task.<new status>`, and `task.deleted` for a purged task.
    pub fn routing_key(&self) -> String {
        match self {
            Event::Image(e) if e.kind == ImageEventKind::RemovedFromStore => {
                "image.removed_from_store".into()
            }
            Event::Image(e) if e.from_status == Some(e.image.status) => "image.updated".into(),
            Event::Image(e) => format!("image.{}", e.image.status),
            Event::Task(e) if e.kind == TaskEventKind::Expired => "task.deleted".into(),
            Event::Task(e) => format!("task.{}", e.task.status),
        }
    }

    /// The aggregate's state after the change, as JSON, as subscribers may see it:
    /// without an image's locations (they may carry store credentials) or a task's input
    /// (it may hold secrets), as Glance leaves them out of its notifications (SPEC 10).
    pub fn snapshot(&self) -> serde_json::Value {
        let (snapshot, hidden) = match self {
            Event::Image(e) => (serde_json::to_value(&e.image), "locations"),
            Event::Task(e) => (serde_json::to_value(&e.task), "input"),
        };
        // Both aggregates are plain data with string keys: serialising cannot fail.
        let mut snapshot = snapshot.unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(fields) = &mut snapshot {
            fields.remove(hidden);
        }
        snapshot
    }
}
