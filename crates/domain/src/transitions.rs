//! The transition tables of SPEC 2 and 3, encoded once: for every status-affecting action
//! and every status, an exhaustive `match` (no `_` arms) says where the image or task goes
//! or which refusal Glance answers with. A new status or action does not compile until
//! every pair is decided here. `decide` consults these; nothing else encodes them.

use super::rejection::RejectionKind;
use super::status::{ImageStatus, TaskStatus};

/// The outcome of an action in a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<S> {
    /// Accepted; the aggregate moves to this status.
    Move(S),
    /// Accepted; the status stays (metadata changes, idempotent actions).
    Stay,
    /// Refused with this kind and reason.
    Refuse(RejectionKind, &'static str),
}

/// What an image command does to the status, independent of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImageAction {
    /// Metadata, tags and members: allowed while the image exists.
    EditMetadata,
    /// `PUT /file` starts.
    BeginUpload,
    /// `PUT /file` finishes.
    CompleteUpload,
    /// `PUT /file` fails, partial data removed.
    AbortUpload,
    /// `PUT /file` fails and partial data could not be removed.
    KillUpload,
    /// `PUT /stage` starts.
    BeginStage,
    /// `PUT /stage` finishes.
    CompleteStage,
    /// `PUT /stage` fails.
    AbortStage,
    /// `POST /import` glance-direct.
    ImportGlanceDirect,
    /// `POST /import` web-download.
    ImportWebDownload,
    /// `POST /import` copy-image.
    ImportCopyImage,
    /// The import task succeeds.
    CompleteImport,
    /// The import task fails.
    FailImport,
    /// A copy-image task succeeds (for some stores at least).
    CompleteCopy,
    /// A copy-image task fails.
    FailCopy,
    /// A running import is done with one of its stores.
    ImportStoreDone,
    /// `POST /actions/deactivate`.
    Deactivate,
    /// `POST /actions/reactivate`.
    Reactivate,
    /// `DELETE` with delayed delete off.
    Delete,
    /// `DELETE` with delayed delete on.
    DelayedDelete,
    /// Extension: `POST /actions/restore`.
    Restore,
    /// The scrubber.
    Purge,
    /// A verified location is added.
    AddLocation,
    /// A location that is not the last one is removed.
    RemoveLocation,
    /// The last location is removed.
    RemoveLastLocation,
}

impl ImageAction {
    /// Every action, for tests and documentation that walk the table.
    pub const ALL: &'static [ImageAction] = &[
        ImageAction::EditMetadata,
        ImageAction::BeginUpload,
        ImageAction::CompleteUpload,
        ImageAction::AbortUpload,
        ImageAction::KillUpload,
        ImageAction::BeginStage,
        ImageAction::CompleteStage,
        ImageAction::AbortStage,
        ImageAction::ImportGlanceDirect,
        ImageAction::ImportWebDownload,
        ImageAction::ImportCopyImage,
        ImageAction::CompleteImport,
        ImageAction::FailImport,
        ImageAction::CompleteCopy,
        ImageAction::FailCopy,
        ImageAction::ImportStoreDone,
        ImageAction::Deactivate,
        ImageAction::Reactivate,
        ImageAction::Delete,
        ImageAction::DelayedDelete,
        ImageAction::Restore,
        ImageAction::Purge,
        ImageAction::AddLocation,
        ImageAction::RemoveLocation,
        ImageAction::RemoveLastLocation,
    ];
}

use ImageStatus::{
    Active, Deactivated, Deleted, Importing, Killed, PendingDelete, Queued, Saving, Uploading,
};
use RejectionKind::{Conflict, Forbidden, NotFound};

const GONE: &str = "No image found with this id: it was deleted.";

/// Where `action` takes an image in status `from` (SPEC 2).
pub const fn image_step(action: ImageAction, from: ImageStatus) -> Step<ImageStatus> {
    use ImageAction as A;
    use Step::{Move, Refuse, Stay};
    match (action, from) {
        (_, Deleted) => Refuse(NotFound, GONE),

        (
            A::EditMetadata,
            Queued | Saving | Uploading | Importing | Active | Deactivated | Killed,
        ) => Stay,
        (A::EditMetadata, PendingDelete) => Refuse(NotFound, GONE),

        (A::BeginUpload, Queued) => Move(Saving),
        (A::BeginUpload, Saving | Uploading | Importing | Active | Deactivated | Killed) => Refuse(
            Conflict,
            "Image data can only be uploaded to a queued image.",
        ),
        (A::CompleteUpload, Saving) => Move(Active),
        (A::AbortUpload, Saving) => Move(Queued),
        (A::KillUpload, Saving) => Move(Killed),
        (
            A::CompleteUpload | A::AbortUpload | A::KillUpload,
            Queued | Uploading | Importing | Active | Deactivated | Killed,
        ) => Refuse(
            Conflict,
            "The image is not saving: no upload is in progress.",
        ),

        (A::BeginStage, Queued) => Move(Uploading),
        (A::BeginStage, Saving | Uploading | Importing | Active | Deactivated | Killed) => {
            Refuse(Conflict, "Image data can only be staged to a queued image.")
        }
        (A::CompleteStage, Uploading) => Stay,
        (A::AbortStage, Uploading) => Move(Queued),
        (
            A::CompleteStage | A::AbortStage,
            Queued | Saving | Importing | Active | Deactivated | Killed,
        ) => Refuse(
            Conflict,
            "The image is not uploading: no staging is in progress.",
        ),

        (A::ImportGlanceDirect, Uploading) => Move(Importing),
        (A::ImportGlanceDirect, Queued) => Refuse(
            Conflict,
            "Stage the image data with PUT /v2/images/{id}/stage before a glance-direct import.",
        ),
        (A::ImportWebDownload, Queued) => Move(Importing),
        (A::ImportWebDownload, Uploading) => Refuse(
            Conflict,
            "The image has staged data: import it with glance-direct.",
        ),
        (
            A::ImportGlanceDirect | A::ImportWebDownload,
            Saving | Importing | Active | Deactivated | Killed,
        ) => Refuse(
            Conflict,
            "An image can only be imported while it is queued (web-download) or uploading (glance-direct).",
        ),
        // The image stays active while its data is copied (single-store mode refuses
        // copy-image before the table is asked).
        (A::ImportCopyImage, Active) => Stay,
        (A::ImportCopyImage, Queued | Saving | Uploading | Importing | Deactivated | Killed) => {
            Refuse(
                Conflict,
                "Only images with status active can be targeted for copying.",
            )
        }
        (A::CompleteImport, Importing) => Move(Active),
        (A::FailImport, Importing) => Move(Queued),
        (
            A::CompleteImport | A::FailImport,
            Queued | Saving | Uploading | Active | Deactivated | Killed,
        ) => Refuse(Conflict, "The image is not importing."),
        // A copy changes no status, whatever its outcome; an admin may have deactivated
        // the image meanwhile, which the copy does not undo.
        (A::CompleteCopy | A::FailCopy, Active | Deactivated) => Stay,
        (A::CompleteCopy | A::FailCopy, Queued | Saving | Uploading | Importing | Killed) => {
            Refuse(
                Conflict,
                "The image is not active: no copy of its data is running.",
            )
        }
        (A::ImportStoreDone, Importing | Active | Deactivated) => Stay,
        (A::ImportStoreDone, Queued | Saving | Uploading | Killed) => {
            Refuse(Conflict, "The image is not importing.")
        }

        (A::Deactivate, Active) => Move(Deactivated),
        (A::Deactivate, Deactivated) => Stay,
        (A::Reactivate, Deactivated) => Move(Active),
        (A::Reactivate, Active) => Stay,
        (A::Deactivate | A::Reactivate, Queued | Saving | Uploading | Importing | Killed) => {
            Refuse(
                Forbidden,
                "Only active or deactivated images can be deactivated or reactivated.",
            )
        }

        (A::Delete, Queued | Saving | Uploading | Importing | Active | Deactivated | Killed) => {
            Move(Deleted)
        }
        (A::DelayedDelete, Active | Deactivated) => Move(PendingDelete),
        // Images without data have nothing to keep: delayed delete removes them at once.
        (A::DelayedDelete, Queued | Saving | Uploading | Importing | Killed) => Move(Deleted),
        (A::Restore, PendingDelete) => Move(Active),
        (A::Restore, Queued | Saving | Uploading | Importing | Active | Deactivated | Killed) => {
            Refuse(Conflict, "Only an image in pending_delete can be restored.")
        }
        (A::Purge, PendingDelete) => Move(Deleted),
        (A::Purge, Queued | Saving | Uploading | Importing | Active | Deactivated | Killed) => {
            Refuse(Conflict, "Only an image in pending_delete can be purged.")
        }

        (A::AddLocation, Queued) => Move(Active),
        (A::AddLocation, Active) => Stay,
        (A::AddLocation, Saving | Uploading | Importing | Deactivated | Killed) => Refuse(
            Conflict,
            "A location can only be added to a queued or active image.",
        ),
        (A::RemoveLocation, Active | Deactivated) => Stay,
        (A::RemoveLastLocation, Active) => Move(Queued),
        (A::RemoveLocation, Queued | Saving | Uploading | Importing | Killed)
        | (A::RemoveLastLocation, Queued | Saving | Uploading | Importing | Deactivated | Killed) => {
            Refuse(
                Conflict,
                "Locations can only be removed from an active image.",
            )
        }

        (
            A::BeginUpload
            | A::CompleteUpload
            | A::AbortUpload
            | A::KillUpload
            | A::BeginStage
            | A::CompleteStage
            | A::AbortStage
            | A::ImportGlanceDirect
            | A::ImportWebDownload
            | A::ImportCopyImage
            | A::CompleteImport
            | A::FailImport
            | A::CompleteCopy
            | A::FailCopy
            | A::ImportStoreDone
            | A::Deactivate
            | A::Reactivate
            | A::Delete
            | A::DelayedDelete
            | A::AddLocation
            | A::RemoveLocation
            | A::RemoveLastLocation,
            PendingDelete,
        ) => Refuse(NotFound, GONE),
    }
}

/// What a task command does to the task's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskAction {
    /// A worker picks it up.
    Start,
    /// It finishes with a result.
    Succeed,
    /// It finishes with an error.
    Fail,
    /// It is purged after expiry.
    Expire,
}

impl TaskAction {
    /// Every action.
    pub const ALL: &'static [TaskAction] = &[
        TaskAction::Start,
        TaskAction::Succeed,
        TaskAction::Fail,
        TaskAction::Expire,
    ];
}

/// Where `action` takes a task in status `from` (SPEC 3).
pub const fn task_step(action: TaskAction, from: TaskStatus) -> Step<TaskStatus> {
    use Step::{Move, Refuse, Stay};
    use TaskStatus::{Failure, Pending, Processing, Success};
    match (action, from) {
        (TaskAction::Start, Pending) => Move(Processing),
        (TaskAction::Start, Processing) => Refuse(Conflict, "The task is already processing."),
        (TaskAction::Succeed, Processing) => Move(Success),
        (TaskAction::Succeed, Pending) => Refuse(Conflict, "A task must be processing to succeed."),
        (TaskAction::Fail, Pending | Processing) => Move(Failure),
        (TaskAction::Start | TaskAction::Succeed | TaskAction::Fail, Success | Failure) => Refuse(
            Conflict,
            "The task has finished; finished tasks never change.",
        ),
        (TaskAction::Expire, Success | Failure) => Stay,
        (TaskAction::Expire, Pending | Processing) => {
            Refuse(Conflict, "Only finished tasks expire.")
        }
    }
}
