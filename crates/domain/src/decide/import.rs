//! `POST /v2/images/{id}/import`: `begin_import` (-> importing, with a pending
//! `api_image_import` task; copy-image leaves the image active), and its end, which
//! moves the image and its task together: `complete_import` (-> active, task success)
//! and `fail_import` (-> queued, task failure). A copy's end leaves the image's status
//! and data as they were: it only adds stores, or fails the task. The store lists an
//! import keeps are in `import_stores`.

use super::Decision;
use super::common::{image_event, modifiable, moved, step};
use super::data_write::check_digest;
use super::import_stores::{self, is_copy, running_import};
use super::tasks::{finish_task, new_task};
use crate::command::{BeginImport, CompleteImport, FailImport, ImportMethod};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::{DataDigest, IMPORT_TASK_PROPERTY, Image};
use crate::rejection::Rejection;
use crate::status::{ContainerFormat, ImageStatus, TaskType};
use crate::task::Task;
use crate::transitions::{ImageAction, TaskAction};
use crate::{injection, policy, stores, validate};
use chrono::SubsecRound;

pub(super) fn begin_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &BeginImport,
    ctx: &Context,
) -> Decision {
    let image = modifiable(image, None, ctx)?;
    let copy = c.method == ImportMethod::CopyImage;
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
    if copy && ctx.config.stores.is_empty() {
        return Err(Rejection::conflict(
            "copy-image copies data between stores and this deployment has a single store.",
        ));
    }
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
    check_stores(image, c, copy, ctx)?;
    let mut next = moved(image, to, ctx);
    next.properties
        .insert(IMPORT_TASK_PROPERTY.to_owned(), c.task_id.to_string());
    // A copy too holds a lease, though its image stays active: a copy whose job is lost
    // for good is failed by the janitor, which releases the lock.
    // Kept to microseconds, as Postgres stores it (see `data_write`).
    next.lease_expires_at = Some(c.lease_expires_at.trunc_subsecs(6));
    import_stores::begin(&mut next, &c.stores, &ctx.config);
    // The requester's roles go with the task: the job's `inject_image_metadata` step
    // decides by them (Glance's plugin reads the request context's roles).
    let input = serde_json::json!({
        "image_id": image.id,
        "import_req": {
            "method": c.method,
            "stores": c.stores,
            "all_stores_must_succeed": c.all_stores_must_succeed,
        },
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

/// The import's target stores: known ones; for copy-image at least one, none already
/// holding the image (400, as Glance answers); `all_stores_must_succeed` false only
/// where there are stores to fail (400, as Glance).
fn check_stores(
    image: &Image,
    c: &BeginImport,
    copy: bool,
    ctx: &Context,
) -> Result<(), Rejection> {
    if !c.all_stores_must_succeed && ctx.config.stores.is_empty() {
        return Err(Rejection::bad_request(
            "All_stores_must_succeed can only be set with enabled_backends.",
        ));
    }
    for store in &c.stores {
        stores::known(store, &ctx.config)?;
    }
    if copy {
        if c.stores.is_empty() {
            return Err(Rejection::bad_request(
                "copy-image needs the stores to copy the image to.",
            ));
        }
        if let Some(present) = c.stores.iter().find(|s| image.stores.contains(s)) {
            return Err(Rejection::bad_request(format!(
                "Image is already present at store '{present}'"
            )));
        }
    }
    Ok(())
}

/// The image once its import has ended, in the status the table gave: no longer held by
/// the task, and no lease.
fn import_ended(image: &Image, to: Option<ImageStatus>, ctx: &Context) -> Image {
    let mut next = moved(image, to, ctx);
    next.properties.remove(IMPORT_TASK_PROPERTY);
    next.lease_expires_at = None;
    import_stores::end(&mut next, &ctx.config);
    next
}

pub(super) fn complete_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &CompleteImport,
    ctx: &Context,
) -> Decision {
    let copy = task.is_some_and(is_copy);
    let action = if copy {
        ImageAction::CompleteCopy
    } else {
        ImageAction::CompleteImport
    };
    let (image, task, to) = running_import(image, task, c.task_id, action, ctx)?;
    check_digest(&c.digest, ctx)?;
    for (key, value) in &c.injected {
        injection::injectable(key, value)?;
    }
    for store in &c.stores {
        stores::known(store, &ctx.config)?;
    }
    if copy && !same_data(image, &c.digest) {
        return Err(Rejection::conflict(format!(
            "The copied data of image {} does not match its recorded size and checksums.",
            image.id
        )));
    }
    let task_event = finish_task(task, TaskAction::Succeed, ctx, |t| {
        t.result = Some(serde_json::json!({ "image_id": image.id }));
    })?;
    let mut next = import_ended(image, to, ctx);
    if copy {
        for store in &c.stores {
            if !next.stores.contains(store) {
                next.stores.push(store.clone());
            }
        }
    } else {
        next.set_data(&c.digest);
        if let Some(format) = c.converted_to {
            next.disk_format = Some(format);
            next.container_format = Some(ContainerFormat::Bare);
        }
        next.properties.extend(c.injected.clone());
        next.stores = c.stores.clone();
    }
    // Glance's quota proxy counts the injected properties when the image is saved.
    validate::quota(
        "image properties",
        next.properties.len(),
        ctx.config.image_property_quota,
    )?;
    let kind = if copy {
        ImageEventKind::Updated
    } else {
        ImageEventKind::Imported
    };
    Ok(vec![image_event(kind, image, next), task_event])
}

/// Whether `digest` describes the data the image already has.
fn same_data(image: &Image, digest: &DataDigest) -> bool {
    image.size == Some(digest.size)
        && image.checksum.as_deref() == Some(digest.checksum.as_str())
        && image.os_hash_value.as_deref() == Some(digest.os_hash_value.as_str())
}

pub(super) fn fail_import(
    image: Option<&Image>,
    task: Option<&Task>,
    c: &FailImport,
    ctx: &Context,
) -> Decision {
    let copy = task.is_some_and(is_copy);
    let action = if copy {
        ImageAction::FailCopy
    } else {
        ImageAction::FailImport
    };
    let (image, task, to) = running_import(image, task, c.task_id, action, ctx)?;
    let task_event = finish_task(task, TaskAction::Fail, ctx, |t| {
        t.message = c.message.clone()
    })?;
    let mut next = import_ended(image, to, ctx);
    // A failed copy leaves the image as it was, with its data where it was.
    let kind = if copy {
        ImageEventKind::Updated
    } else {
        next.clear_data();
        ImageEventKind::ImportFailed
    };
    Ok(vec![image_event(kind, image, next), task_event])
}
