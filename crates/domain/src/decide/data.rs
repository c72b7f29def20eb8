//! Commands about an image's data: upload (`PUT /file`), staging (`PUT /stage`), the
//! interoperable import and its task, and locations.

use super::tasks::finish_task;
use super::{image_event, next_version, step};
use crate::command::{
    Abort, AddLocation, BeginImport, CompleteImport, FailImport, ImageRef, ImportMethod, Leased,
    RemoveLocation, WithDigest,
};
use crate::context::Context;
use crate::event::{Event, ImageEventKind, TaskChanged, TaskEventKind};
use crate::image::{IMPORT_TASK_PROPERTY, Image};
use crate::rejection::Rejection;
use crate::status::{TaskStatus, TaskType};
use crate::task::Task;
use crate::transitions::{ImageAction, TaskAction};
use crate::{policy, validate};
use chrono::SubsecRound;

// Timestamps from commands are kept to microseconds, as Postgres stores them, so the
// state decided here equals the state read back.

/// A data command's image must exist; internal steps see it whatever its visibility.
fn existing(image: Option<&Image>) -> Result<&Image, Rejection> {
    image.ok_or_else(|| Rejection::not_found("No image found with this id."))
}

/// The image a user's data command is about: visible, and theirs to change.
fn modifiable<'a>(image: Option<&'a Image>, ctx: &Context) -> Result<&'a Image, Rejection> {
    let image = policy::visible_image(image, &ctx.actor)?;
    policy::may_modify_image(image, &ctx.actor)?;
    Ok(image)
}

fn leased(
    image: &Image,
    action: ImageAction,
    c: &Leased,
    kind: ImageEventKind,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let mut next = next_version(image, ctx);
    if let Some(to) = step(image, action)? {
        next.status = to;
    }
    next.lease_expires_at = Some(c.lease_expires_at.trunc_subsecs(6));
    Ok(vec![image_event(kind, image, next)])
}

pub(super) fn begin_upload(
    image: Option<&Image>,
    c: &Leased,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = modifiable(image, ctx)?;
    step(image, ImageAction::BeginUpload)?;
    if image.disk_format.is_none() || image.container_format.is_none() {
        return Err(Rejection::bad_request(
            "Set disk_format and container_format on the image before uploading data.",
        ));
    }
    leased(
        image,
        ImageAction::BeginUpload,
        c,
        ImageEventKind::UploadStarted,
        ctx,
    )
}

pub(super) fn complete_upload(
    image: Option<&Image>,
    c: &WithDigest,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let image = existing(image)?;
    step(image, ImageAction::CompleteUpload)?;
    check_digest(&c.digest, ctx)?;
    let mut next = next_version(image, ctx);
    next.status = crate::status::ImageStatus::Active;
    next.set_data(&c.digest);
    next.lease_expires_at = None;
    Ok(vec![image_event(ImageEventKind::Uploaded, image, next)])
}

/// Refuses a digest with an impossible size or one beyond the size cap.
fn check_digest(digest: &crate::image::DataDigest, ctx: &Context) -> Result<(), Rejection> {
    let size = digest.size;
    if size < 0 {
        return Err(Rejection::bad_request(format!(
            "An image size cannot be negative ({size})."
        )));
    }
    if size > ctx.config.image_size_cap {
        Err(Rejection::too_large(format!(
            "Image of {size} bytes exceeds the image size cap of {} bytes.",
            ctx.config.image_size_cap
        )))
    } else {
        Ok(())
    }
}

/// Leaves the data write: status per the table, data and lease forgotten.
fn aborted(
    image: &Image,
    action: ImageAction,
    kind: ImageEventKind,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let to = step(image, action)?;
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    next.clear_data();
    next.lease_expires_at = None;
    Ok(vec![image_event(kind, image, next)])
}

pub(super) fn abort_upload(
    image: Option<&Image>,
    c: &Abort,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let image = existing(image)?;
    if c.data_removed {
        aborted(
            image,
            ImageAction::AbortUpload,
            ImageEventKind::UploadAborted,
            ctx,
        )
    } else {
        aborted(image, ImageAction::KillUpload, ImageEventKind::Killed, ctx)
    }
}

pub(super) fn begin_stage(
    image: Option<&Image>,
    c: &Leased,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = modifiable(image, ctx)?;
    leased(
        image,
        ImageAction::BeginStage,
        c,
        ImageEventKind::StageStarted,
        ctx,
    )
}

pub(super) fn complete_stage(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let image = existing(image)?;
    debug_assert_eq!(image.id, c.image_id);
    step(image, ImageAction::CompleteStage)?;
    // The staged data now waits for POST /import, however long that takes: no lease.
    let mut next = next_version(image, ctx);
    next.lease_expires_at = None;
    Ok(vec![image_event(ImageEventKind::Staged, image, next)])
}

pub(super) fn abort_stage(
    image: Option<&Image>,
    _c: &Abort,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let image = existing(image)?;
    aborted(
        image,
        ImageAction::AbortStage,
        ImageEventKind::StageAborted,
        ctx,
    )
}

pub(super) fn begin_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &BeginImport,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = modifiable(image, ctx)?;
    let action = match &c.method {
        ImportMethod::GlanceDirect => ImageAction::ImportGlanceDirect,
        ImportMethod::WebDownload { uri } if uri.trim().is_empty() => {
            return Err(Rejection::bad_request("web-download needs a 'uri'."));
        }
        ImportMethod::WebDownload { uri } => {
            validate::storable("A web-download URI", uri)?;
            ImageAction::ImportWebDownload
        }
        ImportMethod::CopyImage => {
            policy::require_admin(&ctx.actor, "copy image data between stores")?;
            ImageAction::ImportCopyImage
        }
    };
    if let Some(running) = image.import_task() {
        return Err(Rejection::conflict(format!(
            "Image {} is already being imported by task {running}.",
            image.id
        )));
    }
    let to = step(image, action)?;
    if action == ImageAction::ImportGlanceDirect && image.lease_expires_at.is_some() {
        // Uploading with a lease: PUT /stage is still streaming (complete_stage drops it).
        return Err(Rejection::conflict(
            "The image's data is still being staged: import it once PUT /stage has returned.",
        ));
    }
    if image.disk_format.is_none() || image.container_format.is_none() {
        return Err(Rejection::conflict(
            "Set disk_format and container_format on the image before importing.",
        ));
    }
    if task.is_some() {
        return Err(Rejection::conflict(format!(
            "A task with id {} already exists.",
            c.task_id
        )));
    }
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    next.properties
        .insert(IMPORT_TASK_PROPERTY.to_owned(), c.task_id.to_string());
    next.lease_expires_at = Some(c.lease_expires_at.trunc_subsecs(6));
    let task = Task {
        id: c.task_id,
        version: 1,
        task_type: TaskType::ApiImageImport,
        status: TaskStatus::Pending,
        input: serde_json::json!({
            "image_id": image.id,
            "import_req": { "method": c.method, "stores": c.stores },
            "backend": c.stores,
        }),
        result: None,
        message: String::new(),
        owner: image.owner.clone(),
        image_id: Some(image.id),
        request_id: c.request_id.clone(),
        user_id: Some(ctx.actor.user_id.clone()),
        expires_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
        deleted: false,
        deleted_at: None,
    };
    Ok(vec![
        image_event(ImageEventKind::ImportStarted, image, next),
        Event::Task(TaskChanged {
            kind: TaskEventKind::Created,
            from_status: None,
            task,
        }),
    ])
}

/// The image and the import task it is locked by.
fn importing<'a>(
    image: Option<&'a Image>,
    task: Option<&'a Task>,
    task_id: crate::ids::TaskId,
    action: ImageAction,
) -> Result<(&'a Image, &'a Task, Option<crate::status::ImageStatus>), Rejection> {
    let image = existing(image)?;
    // The status first: a deleted image is gone (404) whatever its properties say.
    let to = step(image, action)?;
    let task =
        task.ok_or_else(|| Rejection::not_found(format!("No task found with id {task_id}.")))?;
    if image.import_task() != Some(task.id) {
        return Err(Rejection::conflict(format!(
            "Task {} is not the running import of image {}.",
            task.id, image.id
        )));
    }
    Ok((image, task, to))
}

pub(super) fn complete_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &CompleteImport,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let (image, task, to) = importing(image, task, c.task_id, ImageAction::CompleteImport)?;
    check_digest(&c.digest, ctx)?;
    let task_event = finish_task(task, TaskAction::Succeed, ctx, |t| {
        t.result = Some(serde_json::json!({ "image_id": image.id }));
    })?;
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    next.set_data(&c.digest);
    next.properties.remove(IMPORT_TASK_PROPERTY);
    next.lease_expires_at = None;
    Ok(vec![
        image_event(ImageEventKind::Imported, image, next),
        task_event,
    ])
}

pub(super) fn fail_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &FailImport,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    let (image, task, to) = importing(image, task, c.task_id, ImageAction::FailImport)?;
    let task_event = finish_task(task, TaskAction::Fail, ctx, |t| {
        t.message = c.message.clone()
    })?;
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    next.clear_data();
    next.properties.remove(IMPORT_TASK_PROPERTY);
    next.lease_expires_at = None;
    Ok(vec![
        image_event(ImageEventKind::ImportFailed, image, next),
        task_event,
    ])
}

pub(super) fn add_location(
    image: Option<&Image>,
    c: &AddLocation,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    policy::require_service(&ctx.actor)?;
    validate::storable("A location URL", &c.location.url)?;
    validate::storable_json("Location metadata", &c.location.metadata)?;
    let image = existing(image)?;
    let to = step(image, ImageAction::AddLocation)?;
    let mut next = next_version(image, ctx);
    match to {
        Some(to) => {
            let digest = c.digest.as_ref().ok_or_else(|| {
                Rejection::bad_request(
                    "Activating an image from a location needs its size and digests.",
                )
            })?;
            check_digest(digest, ctx)?;
            next.status = to;
            next.set_data(digest);
        }
        None if !ctx.config.show_multiple_locations => {
            return Err(Rejection::conflict(
                "The image is active: a location can only be added to a queued image.",
            ));
        }
        None => {}
    }
    if image.locations.iter().any(|l| l.url == c.location.url) {
        return Err(Rejection::conflict("The image already has this location."));
    }
    next.locations.push(c.location.clone());
    validate::quota(
        "locations",
        next.locations.len(),
        ctx.config.image_location_quota,
    )?;
    Ok(vec![image_event(
        ImageEventKind::LocationAdded,
        image,
        next,
    )])
}

pub(super) fn remove_location(
    image: Option<&Image>,
    c: &RemoveLocation,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = modifiable(image, ctx)?;
    if !ctx.config.show_multiple_locations {
        return Err(Rejection::forbidden(
            "Locations are not shown by this deployment, so they cannot be removed.",
        ));
    }
    let position = image
        .locations
        .iter()
        .position(|l| l.url == c.url)
        .ok_or_else(|| Rejection::not_found("The image has no such location."))?;
    let action = if image.locations.len() == 1 {
        ImageAction::RemoveLastLocation
    } else {
        ImageAction::RemoveLocation
    };
    let to = step(image, action)?;
    let mut next = next_version(image, ctx);
    next.locations.remove(position);
    if let Some(to) = to {
        next.status = to;
        next.clear_data();
    }
    Ok(vec![image_event(
        ImageEventKind::LocationRemoved,
        image,
        next,
    )])
}
