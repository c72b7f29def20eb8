//! Every command that changes an image or a task, as one serde-tagged enum: the wire
//! form is `{"type": "deactivate_image", "payload": {...}}` inside an envelope whose
//! `schema` names the version (`imagefleet.command.v1`).

use super::ids::{ImageId, TaskId};
use super::image::{DataDigest, Location};
use super::status::{ContainerFormat, DiskFormat, MemberStatus, TaskType, Visibility};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A request to change one image or task (or, for imports, an image and its task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "type",
    content = "payload",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Command {
    /// `POST /v2/images`: a new queued image.
    CreateImage(CreateImage),
    /// `PATCH /v2/images/{id}`: JSON-patch operations on core and extra properties.
    UpdateImage(UpdateImage),
    /// `PUT /file` starts: queued -> saving, holding a lease.
    BeginUpload(Leased),
    /// `PUT /file` finished: saving -> active with size and digests.
    CompleteUpload(WithDigest),
    /// `PUT /file` failed: saving -> queued (data removed) or killed (it could not be).
    AbortUpload(Abort),
    /// `PUT /stage` starts: queued -> uploading, holding a lease.
    BeginStage(Leased),
    /// `PUT /stage` finished: the staged data waits for `POST /import`; lease released.
    CompleteStage(ImageRef),
    /// `PUT /stage` failed: uploading -> queued, staged data removed.
    AbortStage(Abort),
    /// `POST /import`: -> importing, and a pending `api_image_import` task.
    BeginImport(BeginImport),
    /// The import task succeeded: importing -> active, task -> success.
    CompleteImport(CompleteImport),
    /// The import task failed: importing -> queued, task -> failure.
    FailImport(FailImport),
    /// `POST /actions/deactivate`.
    DeactivateImage(ImageRef),
    /// `POST /actions/reactivate`.
    ReactivateImage(ImageRef),
    /// `DELETE /v2/images/{id}`: deleted, or pending_delete with delayed delete on.
    DeleteImage(ImageRef),
    /// Extension `POST /actions/restore` (admin): pending_delete -> active.
    RestoreImage(ImageRef),
    /// The scrubber: pending_delete -> deleted after `scrub_time`, data removed.
    PurgeImage(ImageRef),
    /// A location was verified: queued -> active, or one more location of an active image.
    AddLocation(AddLocation),
    /// A location removed; removing the last returns an active image to queued.
    RemoveLocation(RemoveLocation),
    /// `PUT /tags/{tag}` (idempotent).
    AddTag(TagRef),
    /// `DELETE /tags/{tag}`.
    RemoveTag(TagRef),
    /// `POST /members`: share the image with a project.
    AddMember(MemberRef),
    /// `PUT /members/{member}`: the member's answer.
    UpdateMember(UpdateMember),
    /// `DELETE /members/{member}`.
    RemoveMember(MemberRef),
    /// `POST /v2/tasks`: a pending task.
    CreateTask(CreateTask),
    /// A worker picked the task up: pending -> processing.
    StartTask(TaskRef),
    /// processing -> success with a result.
    SucceedTask(SucceedTask),
    /// pending or processing -> failure with a message.
    FailTask(FailTask),
    /// A finished task past `expires_at` is purged.
    ExpireTask(TaskRef),
}

/// A command that names only its image, with the caller's optional `If-Match` version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageRef {
    /// The image.
    pub image_id: ImageId,
    /// Refuse with 412 unless the image is at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

/// The fields a client may give at creation (SPEC 5); absent ones take Glance's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImage {
    /// The new image's id.
    pub image_id: ImageId,
    /// Name, up to 255 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Defaults to shared.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// Defaults to false.
    #[serde(default)]
    pub protected: Option<bool>,
    /// Defaults to false.
    #[serde(default)]
    pub os_hidden: Option<bool>,
    /// Format of the data to come.
    #[serde(default)]
    pub disk_format: Option<DiskFormat>,
    /// Container of the data to come.
    #[serde(default)]
    pub container_format: Option<ContainerFormat>,
    /// Defaults to 0.
    #[serde(default)]
    pub min_disk: Option<i64>,
    /// Defaults to 0.
    #[serde(default)]
    pub min_ram: Option<i64>,
    /// Tags; duplicates collapse.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Another owning project (admin only).
    #[serde(default)]
    pub owner: Option<String>,
}

/// `PATCH`'s operations, already split into attribute names (`~0`/`~1` decoded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateImage {
    /// The image.
    pub image_id: ImageId,
    /// Applied in order, all or nothing.
    pub operations: Vec<PatchOperation>,
    /// Refuse with 412 unless the image is at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

/// One JSON-patch operation on a top-level attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PatchOperation {
    /// Sets the attribute, creating an extra property if needed.
    Add {
        /// The attribute's name.
        attribute: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// Sets an attribute that must already exist.
    Replace {
        /// The attribute's name.
        attribute: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// Removes an extra property that must exist.
    Remove {
        /// The attribute's name.
        attribute: String,
    },
}

/// Starts a data write that holds the image until the lease expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Leased {
    /// The image.
    pub image_id: ImageId,
    /// After this the janitor may return the image to queued.
    pub lease_expires_at: DateTime<Utc>,
}

/// Finishes a data write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithDigest {
    /// The image.
    pub image_id: ImageId,
    /// What was written.
    pub digest: DataDigest,
}

/// Gives up a data write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// The image.
    pub image_id: ImageId,
    /// Why, for the event and the log.
    pub reason: String,
    /// False when partial data could not be removed: the image is then killed.
    pub data_removed: bool,
}

/// How an import gets its data (SPEC 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ImportMethod {
    /// From the staging area filled by `PUT /stage`.
    // serde ignores extra keys next to the tag of a unit variant, even with
    // `deny_unknown_fields`; the schema says so too.
    #[schemars(extend("additionalProperties" = true))]
    GlanceDirect,
    /// Downloaded from a URL the gateway already checked.
    WebDownload {
        /// The source.
        uri: String,
    },
    /// Copied from existing stores to others (multi-store only).
    #[schemars(extend("additionalProperties" = true))]
    CopyImage,
}

/// Starts an interoperable import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeginImport {
    /// The image.
    pub image_id: ImageId,
    /// The task to create.
    pub task_id: TaskId,
    /// The import method.
    pub method: ImportMethod,
    /// Target stores, if named.
    #[serde(default)]
    pub stores: Vec<String>,
    /// After this the janitor may fail the import.
    pub lease_expires_at: DateTime<Utc>,
    /// The request that asked for it.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// The import's data is in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteImport {
    /// The image.
    pub image_id: ImageId,
    /// Its import task.
    pub task_id: TaskId,
    /// What was written.
    pub digest: DataDigest,
}

/// The import failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailImport {
    /// The image.
    pub image_id: ImageId,
    /// Its import task.
    pub task_id: TaskId,
    /// Why, shown as the task's message.
    pub message: String,
}

/// A verified location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLocation {
    /// The image.
    pub image_id: ImageId,
    /// Where the data is.
    pub location: Location,
    /// Size and digests read from it (required to activate a queued image).
    #[serde(default)]
    pub digest: Option<DataDigest>,
}

/// A location to forget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveLocation {
    /// The image.
    pub image_id: ImageId,
    /// The location's URL.
    pub url: String,
}

/// A tag of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRef {
    /// The image.
    pub image_id: ImageId,
    /// The tag, up to 255 characters.
    pub tag: String,
}

/// A member project of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    /// The image.
    pub image_id: ImageId,
    /// The member project.
    pub member_id: String,
}

/// A member's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The image.
    pub image_id: ImageId,
    /// The member project.
    pub member_id: String,
    /// Its answer.
    pub status: MemberStatus,
}

/// `POST /v2/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTask {
    /// The new task's id.
    pub task_id: TaskId,
    /// Only `import` through the tasks API.
    pub task_type: TaskType,
    /// `{import_from, import_from_format, image_properties}` for `import`.
    pub input: serde_json::Value,
    /// The request that asked for it.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A command that names only its task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRef {
    /// The task.
    pub task_id: TaskId,
}

/// A task's success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SucceedTask {
    /// The task.
    pub task_id: TaskId,
    /// Details, e.g. `{"image_id": ...}`.
    pub result: serde_json::Value,
}

/// A task's failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailTask {
    /// The task.
    pub task_id: TaskId,
    /// Why.
    pub message: String,
}

/// The aggregates a command reads and may change; the repository loads exactly these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One image.
    Image(ImageId),
    /// One task.
    Task(TaskId),
    /// An image and its import task, changed together.
    ImageAndTask(ImageId, TaskId),
}

impl Target {
    /// The image, if the command is about one.
    pub fn image(self) -> Option<ImageId> {
        match self {
            Target::Image(id) | Target::ImageAndTask(id, _) => Some(id),
            Target::Task(_) => None,
        }
    }

    /// The task, if the command is about one.
    pub fn task(self) -> Option<TaskId> {
        match self {
            Target::Task(id) | Target::ImageAndTask(_, id) => Some(id),
            Target::Image(_) => None,
        }
    }

    /// The id `processed_commands` files the command under: the image if there is one.
    pub fn primary(self) -> uuid::Uuid {
        match self {
            Target::Image(id) | Target::ImageAndTask(id, _) => id.as_uuid(),
            Target::Task(id) => id.as_uuid(),
        }
    }
}

impl Command {
    /// The command's `type` on the wire, e.g. `deactivate_image`.
    pub fn type_name(&self) -> &'static str {
        use Command::*;
        match self {
            CreateImage(_) => "create_image",
            UpdateImage(_) => "update_image",
            BeginUpload(_) => "begin_upload",
            CompleteUpload(_) => "complete_upload",
            AbortUpload(_) => "abort_upload",
            BeginStage(_) => "begin_stage",
            CompleteStage(_) => "complete_stage",
            AbortStage(_) => "abort_stage",
            BeginImport(_) => "begin_import",
            CompleteImport(_) => "complete_import",
            FailImport(_) => "fail_import",
            DeactivateImage(_) => "deactivate_image",
            ReactivateImage(_) => "reactivate_image",
            DeleteImage(_) => "delete_image",
            RestoreImage(_) => "restore_image",
            PurgeImage(_) => "purge_image",
            AddLocation(_) => "add_location",
            RemoveLocation(_) => "remove_location",
            AddTag(_) => "add_tag",
            RemoveTag(_) => "remove_tag",
            AddMember(_) => "add_member",
            UpdateMember(_) => "update_member",
            RemoveMember(_) => "remove_member",
            CreateTask(_) => "create_task",
            StartTask(_) => "start_task",
            SucceedTask(_) => "succeed_task",
            FailTask(_) => "fail_task",
            ExpireTask(_) => "expire_task",
        }
    }

    /// The aggregates this command is about.
    pub fn target(&self) -> Target {
        use Command::*;
        let image = |id: &ImageId| Target::Image(*id);
        let task = |id: &TaskId| Target::Task(*id);
        match self {
            CreateImage(c) => image(&c.image_id),
            UpdateImage(c) => image(&c.image_id),
            BeginUpload(c) | BeginStage(c) => image(&c.image_id),
            CompleteUpload(c) => image(&c.image_id),
            AbortUpload(c) | AbortStage(c) => image(&c.image_id),
            CompleteStage(c) | DeactivateImage(c) | ReactivateImage(c) | DeleteImage(c)
            | RestoreImage(c) | PurgeImage(c) => image(&c.image_id),
            BeginImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            CompleteImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            FailImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            AddLocation(c) => image(&c.image_id),
            RemoveLocation(c) => image(&c.image_id),
            AddTag(c) | RemoveTag(c) => image(&c.image_id),
            AddMember(c) | RemoveMember(c) => image(&c.image_id),
            UpdateMember(c) => image(&c.image_id),
            CreateTask(c) => task(&c.task_id),
            StartTask(c) | ExpireTask(c) => task(&c.task_id),
            SucceedTask(c) => task(&c.task_id),
            FailTask(c) => task(&c.task_id),
        }
    }
}
