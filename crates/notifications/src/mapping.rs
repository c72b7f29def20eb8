//! The pure mapping from one of our outbox events to the Glance notifications existing
//! listeners expect (SPEC 10): which `event_type`s, at which priority, with which
//! payload. No I/O and no clock: the relay hands in the stored row's event type and
//! snapshot (and, for a membership change, the snapshot before it) and publishes what
//! comes back. An exhaustive `match` over [`ImageEventKind`] and [`TaskEventKind`], so
//! a new kind of event does not compile until it is mapped.
//!
//! | our event | Glance notifications |
//! |---|---|
//! | image.created | image.create |
//! | image.updated, tag_added/removed, location_added/removed, removed_from_store, staged, deactivated, reactivated, restored | image.update |
//! | image.upload_started, stage_started, import_started | image.prepare |
//! | image.uploaded, imported | image.upload, image.activate |
//! | image.upload_aborted, killed, stage_aborted, import_failed | image.upload at ERROR, payload a message |
//! | image.deleted, delete_pending | image.delete |
//! | image.purged | none (Glance's scrubber sends none; image.delete went out already) |
//! | image.member_added / member_updated / member_removed | image.member.create / update / delete |
//! | task.created | task.create |
//! | task.started | task.run, task.processing |
//! | task.succeeded / failed / expired | task.success / task.failure / task.delete |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use domain::event::{ImageEventKind, TaskEventKind};

/// A notification's priority; it picks the routing key (`<topic>.info`, `<topic>.error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Something happened as asked.
    Info,
    /// Something failed (a failed upload).
    Error,
}

impl Priority {
    /// As oslo.messaging spells it in the message: `INFO`, `ERROR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Info => "INFO",
            Priority::Error => "ERROR",
        }
    }
}

/// One Glance notification, before it is put in the oslo envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// Glance's event type, e.g. `image.activate`.
    pub event_type: &'static str,
    /// INFO, or ERROR for a failed upload.
    pub priority: Priority,
    /// The image, member or task fields, or a message string for an error.
    pub payload: Value,
}

/// Why an event yields no notification although it should.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    /// The stored event type names no event we know.
    #[error("unknown event type {0:?}")]
    UnknownEvent(String),
    /// The stored snapshot does not have the fields of its aggregate.
    #[error("the snapshot does not decode: {0}")]
    Snapshot(#[from] serde_json::Error),
    /// A membership change whose member cannot be told (no earlier snapshot).
    #[error("cannot tell which member changed")]
    MemberUnknown,
}

/// What the mapping reads of one outbox event.
#[derive(Debug, Clone, Copy)]
pub struct EventFacts<'a> {
    /// Our event type, e.g. `image.uploaded`.
    pub event_type: &'a str,
    /// The aggregate after the change (without locations or task input).
    pub snapshot: &'a Value,
    /// The aggregate's snapshot at the version before, for a membership change (it
    /// tells which member changed); see [`needs_previous`].
    pub previous: Option<&'a Value>,
}

/// Whether mapping `event_type` wants the snapshot before the change: only membership
/// changes do (a removed member is only in the earlier snapshot).
pub fn needs_previous(event_type: &str) -> bool {
    matches!(
        event_type,
        "image.member_added" | "image.member_updated" | "image.member_removed"
    )
}

/// The Glance notifications for one of our events, in the order Glance sends them.
pub fn notifications(facts: EventFacts<'_>) -> Result<Vec<Notification>, MappingError> {
    let unknown = || MappingError::UnknownEvent(facts.event_type.to_owned());
    let (aggregate, kind) = facts.event_type.split_once('.').ok_or_else(unknown)?;
    let kind = Value::String(kind.to_owned());
    match aggregate {
        "image" => {
            let kind: ImageEventKind = serde_json::from_value(kind).map_err(|_| unknown())?;
            let image: ImageSnapshot = serde_json::from_value(facts.snapshot.clone())?;
            let previous = facts
                .previous
                .map(|p| serde_json::from_value::<ImageSnapshot>(p.clone()))
                .transpose()?;
            image_notifications(kind, &image, previous.as_ref())
        }
        "task" => {
            let kind: TaskEventKind = serde_json::from_value(kind).map_err(|_| unknown())?;
            let task: TaskSnapshot = serde_json::from_value(facts.snapshot.clone())?;
            Ok(task_notifications(kind, &task))
        }
        _ => Err(unknown()),
    }
}

/// The fields of an image snapshot a notification shows.
#[derive(Debug, Deserialize)]
struct ImageSnapshot {
    id: String,
    name: Option<String>,
    status: String,
    visibility: String,
    owner: String,
    size: Option<i64>,
    virtual_size: Option<i64>,
    checksum: Option<String>,
    os_hash_algo: Option<String>,
    os_hash_value: Option<String>,
    disk_format: Option<String>,
    container_format: Option<String>,
    min_disk: i32,
    min_ram: i32,
    protected: bool,
    os_hidden: bool,
    tags: Vec<String>,
    properties: BTreeMap<String, String>,
    #[serde(default)]
    members: Vec<MemberSnapshot>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct MemberSnapshot {
    member_id: String,
    status: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
struct TaskSnapshot {
    id: String,
    task_type: String,
    status: String,
    result: Option<Value>,
    owner: String,
    message: String,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted: bool,
    deleted_at: Option<DateTime<Utc>>,
}

/// Glance's `timeutils.isotime`: seconds, `Z`.
fn isotime(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Glance's `format_image_notification`, with `os_hidden`; never `locations`.
fn image_payload(image: &ImageSnapshot) -> Value {
    json!({
        "id": image.id,
        "name": image.name,
        "status": image.status,
        "visibility": image.visibility,
        "owner": image.owner,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "disk_format": image.disk_format,
        "container_format": image.container_format,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "protected": image.protected,
        "is_public": image.visibility == "public",
        "os_hidden": image.os_hidden,
        "tags": image.tags,
        "properties": image.properties,
        "created_at": isotime(&image.created_at),
        "updated_at": isotime(&image.updated_at),
        "deleted": image.deleted_at.is_some(),
        "deleted_at": image.deleted_at.as_ref().map(isotime),
    })
}

/// Glance's `format_image_member_notification`; a removed member is `deleted`.
fn member_payload(image: &ImageSnapshot, member: &MemberSnapshot, removed: bool) -> Value {
    json!({
        "image_id": image.id,
        "member_id": member.member_id,
        "status": member.status,
        "created_at": isotime(&member.created_at),
        "updated_at": isotime(&member.updated_at),
        "deleted": removed,
        "deleted_at": removed.then(|| isotime(&image.updated_at)),
    })
}

/// Glance's `format_task_notification`, without `input` (it may hold secrets).
fn task_payload(task: &TaskSnapshot) -> Value {
    json!({
        "id": task.id,
        "type": task.task_type,
        "status": task.status,
        "result": task.result,
        "owner": task.owner,
        "message": task.message,
        "expires_at": task.expires_at.as_ref().map(isotime),
        "created_at": isotime(&task.created_at),
        "updated_at": isotime(&task.updated_at),
        "deleted": task.deleted,
        "deleted_at": task.deleted_at.as_ref().map(isotime),
    })
}

fn image_notifications(
    kind: ImageEventKind,
    image: &ImageSnapshot,
    previous: Option<&ImageSnapshot>,
) -> Result<Vec<Notification>, MappingError> {
    use ImageEventKind as K;
    let info = |event_type| Notification {
        event_type,
        priority: Priority::Info,
        payload: image_payload(image),
    };
    // Glance sends a failed upload as image.upload at ERROR with a message string.
    let failed = |what: &str| {
        vec![Notification {
            event_type: "image.upload",
            priority: Priority::Error,
            payload: Value::String(format!("Image {}: {what}", image.id)),
        }]
    };
    let member = |event_type, removed| {
        let previous = previous.map(|p| p.members.as_slice());
        changed_member(kind, &image.members, previous)
            .map(|m| {
                vec![Notification {
                    event_type,
                    priority: Priority::Info,
                    payload: member_payload(image, m, removed),
                }]
            })
            .ok_or(MappingError::MemberUnknown)
    };
    Ok(match kind {
        K::Created => vec![info("image.create")],
        K::Updated
        | K::TagAdded
        | K::TagRemoved
        | K::LocationAdded
        | K::LocationRemoved
        | K::RemovedFromStore
        | K::Staged
        | K::Deactivated
        | K::Reactivated
        | K::Restored => vec![info("image.update")],
        // The data write begins: into the store, the staging area, or (import) from
        // the staging area or the web into the store.
        K::UploadStarted | K::StageStarted | K::ImportStarted => vec![info("image.prepare")],
        // Glance sends both when stored data makes an image active.
        K::Uploaded | K::Imported => vec![info("image.upload"), info("image.activate")],
        K::UploadAborted => failed("failed to upload image data; the image is queued again"),
        K::Killed => failed("failed to upload image data and to remove what was written"),
        K::StageAborted => failed("failed to stage image data; the image is queued again"),
        K::ImportFailed => failed("failed to import image data; the image is queued again"),
        K::Deleted | K::DeletePending => vec![info("image.delete")],
        K::Purged => Vec::new(),
        K::MemberAdded => member("image.member.create", false)?,
        K::MemberUpdated => member("image.member.update", false)?,
        K::MemberRemoved => member("image.member.delete", true)?,
    })
}

/// The member a membership change touched: added (in `current`, not before), updated
/// (differs from before), removed (before, not in `current`). Without the earlier
/// snapshot an added or updated member is the most recently changed one; a removed one
/// cannot be told.
fn changed_member<'a>(
    kind: ImageEventKind,
    current: &'a [MemberSnapshot],
    previous: Option<&'a [MemberSnapshot]>,
) -> Option<&'a MemberSnapshot> {
    let find = |list: &'a [MemberSnapshot], id: &str| list.iter().find(|m| m.member_id == id);
    match (kind, previous) {
        (ImageEventKind::MemberRemoved, Some(previous)) => previous
            .iter()
            .find(|m| find(current, &m.member_id).is_none()),
        (ImageEventKind::MemberRemoved, None) => None,
        (_, Some(previous)) => current
            .iter()
            .find(|m| find(previous, &m.member_id) != Some(*m)),
        (_, None) => current.iter().max_by_key(|m| m.updated_at),
    }
}

fn task_notifications(kind: TaskEventKind, task: &TaskSnapshot) -> Vec<Notification> {
    let info = |event_type| Notification {
        event_type,
        priority: Priority::Info,
        payload: task_payload(task),
    };
    match kind {
        TaskEventKind::Created => vec![info("task.create")],
        // Glance's executor sends task.run as it starts and task.processing as the
        // task moves to processing; one step here.
        TaskEventKind::Started => vec![info("task.run"), info("task.processing")],
        TaskEventKind::Succeeded => vec![info("task.success")],
        TaskEventKind::Failed => vec![info("task.failure")],
        TaskEventKind::Expired => vec![info("task.delete")],
    }
}

#[cfg(test)]
#[path = "mapping_tests.rs"]
mod tests;
