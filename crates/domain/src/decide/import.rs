//! `POST /v2/images/{id}/import`: `begin_import` (-> importing, with a pending
//! `api_image_import` task), and its end, which moves the image and its task together:
//! `complete_import` (-> active, task success) and `fail_import` (-> queued, task failure).

use super::Decision;
use super::common::{image_event, modifiable, moved, service_image, step};
use super::data_write::check_digest;
use super::tasks::{finish_task, new_task};
use crate::command::{BeginImport, CompleteImport, FailImport, ImportMethod};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::ids::TaskId;
use crate::image::{IMPORT_TASK_PROPERTY, Image};
use crate::rejection::Rejection;
use crate::status::{ContainerFormat, ImageStatus, TaskType};
use crate::task::Task;
use crate::transitions::{ImageAction, TaskAction};
use crate::{injection, policy, validate};
use chrono::SubsecRound;

pub(super) fn begin_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &BeginImport,
    ctx: &Context,
) -> Decision {
    let image = modifiable(image, None, ctx)?;
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
    let mut next = moved(image, to, ctx);
    next.properties
        .insert(IMPORT_TASK_PROPERTY.to_owned(), c.task_id.to_string());
    // Kept to microseconds, as Postgres stores it (see `data_write`).
    next.lease_expires_at = Some(c.lease_expires_at.trunc_subsecs(6));
    // The requester's roles go with the task: the job's `inject_image_metadata` step
    // decides by them (Glance's plugin reads the request context's roles).
    let input = serde_json::json!({
        "image_id": image.id,
        "import_req": { "method": c.method, "stores": c.stores },
        "backend": c.stores,
        injection::REQUESTER_ROLES: ctx.actor.roles,
    });
    let task = new_task(
        c.task_id,
        TaskType::ApiImageImport,
        input,
        image.owner.clone(),
        Some(image.id),
        c.request_id.clone(),
        ctx,
    );
    Ok(vec![
        image_event(ImageEventKind::ImportStarted, image, next),
        task,
    ])
}

/// The image and the import task it is locked by, for the service that ends an import.
fn importing<'a>(
    image: Option<&'a Image>,
    task: Option<&'a Task>,
    task_id: TaskId,
    action: ImageAction,
    ctx: &Context,
) -> Result<(&'a Image, &'a Task, Option<ImageStatus>), Rejection> {
    let image = service_image(image, ctx)?;
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

/// The image once its import has ended, in the status the table gave: no longer held by
/// the task, and no lease.
fn import_ended(image: &Image, to: Option<ImageStatus>, ctx: &Context) -> Image {
    let mut next = moved(image, to, ctx);
    next.properties.remove(IMPORT_TASK_PROPERTY);
    next.lease_expires_at = None;
    next
}

pub(super) fn complete_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &CompleteImport,
    ctx: &Context,
) -> Decision {
    let (image, task, to) = importing(image, task, c.task_id, ImageAction::CompleteImport, ctx)?;
    check_digest(&c.digest, ctx)?;
    for (key, value) in &c.injected {
        injection::injectable(key, value)?;
    }
    let task_event = finish_task(task, TaskAction::Succeed, ctx, |t| {
        t.result = Some(serde_json::json!({ "image_id": image.id }));
    })?;
    let mut next = import_ended(image, to, ctx);
    next.set_data(&c.digest);
    if let Some(format) = c.converted_to {
        next.disk_format = Some(format);
        next.container_format = Some(ContainerFormat::Bare);
    }
    next.properties.extend(c.injected.clone());
    // Glance's quota proxy counts the injected properties when the image is saved.
    validate::quota(
        "image properties",
        next.properties.len(),
        ctx.config.image_property_quota,
    )?;
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
) -> Decision {
    let (image, task, to) = importing(image, task, c.task_id, ImageAction::FailImport, ctx)?;
    let task_event = finish_task(task, TaskAction::Fail, ctx, |t| {
        t.message = c.message.clone()
    })?;
    let mut next = import_ended(image, to, ctx);
    next.clear_data();
    Ok(vec![
        image_event(ImageEventKind::ImportFailed, image, next),
        task_event,
    ])
}
