//! Every command that changes an image or a task, as one serde-tagged enum: the wire
//! form is `{"type": "deactivate_image", "payload": {...}}` inside an envelope whose
//! `schema` names the version (`imagefleet.command.v1`).
//!
//! The payload types live beside the enum, grouped by the resource their commands act on,
//! in files named as the files of `decide` that take them: `image_create`,
//! `image_patch`, `data_write` (upload and stage), `import`, `locations`, `stores`,
//! `tags`, `members` and `tasks`; [`ImageRef`], the payload of every command that names only
//! its image, is here. All are re-exported, so every payload is
//! `domain::command::<Name>`. [`Target`] says which aggregates a command is about.

mod data_write;
mod image_create;
mod image_patch;
mod import;
mod locations;
mod members;
mod stores;
mod tags;
mod target;
mod tasks;

pub use data_write::{Abort, Leased, StagedData, WithDigest};
pub use image_create::CreateImage;
pub use image_patch::{PatchOperation, UpdateImage};
pub use import::{BeginImport, CompleteImport, FailImport, ImportMethod, ImportStoreDone};
pub use locations::{AddLocation, RemoveLocation};
pub use members::{MemberRef, UpdateMember};
pub use stores::DeleteFromStore;
pub use tags::TagRef;
pub use target::Target;
pub use tasks::{CreateTask, FailTask, SucceedTask, TaskRef};

use crate::ids::{ImageId, TaskId};
use serde::{Deserialize, Serialize};

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
    /// `PUT /stage` finished: the staged data (its size shown) waits for `POST /import`;
    /// lease released.
    CompleteStage(StagedData),
    /// `PUT /stage` failed: uploading -> queued, staged data removed.
    AbortStage(Abort),
    /// `POST /import`: -> importing, and a pending `api_image_import` task.
    BeginImport(BeginImport),
    /// The import job is done with one store (written or failed): the image's store
    /// progress properties follow.
    ImportStoreDone(ImportStoreDone),
    /// The import task succeeded: importing -> active (a copy stays active), task ->
    /// success.
    CompleteImport(CompleteImport),
    /// The import task failed: importing -> queued (a copy stays active), task ->
    /// failure.
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
    /// `DELETE /v2/stores/{store_id}/{image_id}`: one store's copy of the data goes.
    DeleteFromStore(DeleteFromStore),
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
            ImportStoreDone(_) => "import_store_done",
            CompleteImport(_) => "complete_import",
            FailImport(_) => "fail_import",
            DeactivateImage(_) => "deactivate_image",
            ReactivateImage(_) => "reactivate_image",
            DeleteImage(_) => "delete_image",
            RestoreImage(_) => "restore_image",
            PurgeImage(_) => "purge_image",
            AddLocation(_) => "add_location",
            RemoveLocation(_) => "remove_location",
            DeleteFromStore(_) => "delete_from_store",
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
            CompleteStage(c) => image(&c.image_id),
            DeactivateImage(c) | ReactivateImage(c) | DeleteImage(c) | RestoreImage(c)
            | PurgeImage(c) => image(&c.image_id),
            BeginImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            ImportStoreDone(c) => Target::ImageAndTask(c.image_id, c.task_id),
            CompleteImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            FailImport(c) => Target::ImageAndTask(c.image_id, c.task_id),
            AddLocation(c) => image(&c.image_id),
            RemoveLocation(c) => image(&c.image_id),
            DeleteFromStore(c) => image(&c.image_id),
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
