//! `DELETE /v2/images/{id}`: `delete_image` (deleted, or pending_delete with delayed
//! delete on), and the scrubber's `purge_image` (pending_delete -> deleted once
//! `scrub_time` has passed). Its undo, `restore_image`, is an action (`actions`).

use super::Decision;
use super::common::{image_event, modifiable, moved, step};
use crate::command::ImageRef;
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::policy;
use crate::rejection::Rejection;
use crate::status::ImageStatus;
use crate::transitions::ImageAction;

pub(super) fn delete_image(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    let image = modifiable(image, c.expected_version, ctx)?;
    if image.protected {
        return Err(Rejection::forbidden(format!(
            "Image {} is protected and cannot be deleted: set protected to false first.",
            image.id
        )));
    }
    let action = if ctx.config.delayed_delete {
        ImageAction::DelayedDelete
    } else {
        ImageAction::Delete
    };
    let mut next = moved(image, step(image, action)?, ctx);
    next.deleted_at = Some(ctx.now);
    next.lease_expires_at = None;
    let kind = match next.status {
        ImageStatus::PendingDelete => ImageEventKind::DeletePending,
        _ => ImageEventKind::Deleted,
    };
    Ok(vec![image_event(kind, image, next)])
}

pub(super) fn purge_image(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    policy::require_service(&ctx.actor)?;
    let image = image
        .ok_or_else(|| Rejection::not_found(format!("No image found with ID {}", c.image_id)))?;
    let to = step(image, ImageAction::Purge)?;
    let due = image.deleted_at.map(|at| at + ctx.config.scrub_time);
    if due.is_some_and(|due| due > ctx.now) {
        return Err(Rejection::conflict(format!(
            "Image {} is kept until scrub_time has passed since its deletion.",
            image.id
        )));
    }
    Ok(vec![image_event(
        ImageEventKind::Purged,
        image,
        moved(image, to, ctx),
    )])
}
