//! Whole-image actions: deactivate, reactivate, delete (immediate or delayed), the admin
//! restore extension and the scrubber's purge.

use super::{check_expected_version, image_event, next_version, step};
use crate::command::ImageRef;
use crate::context::Context;
use crate::event::{Event, ImageEventKind};
use crate::image::Image;
use crate::policy;
use crate::rejection::Rejection;
use crate::status::ImageStatus;
use crate::transitions::ImageAction;

/// An owner's or admin's action on a visible image, at the version the caller expects.
fn permitted<'a>(
    image: Option<&'a Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<&'a Image, Rejection> {
    let image = policy::visible_image(image, &ctx.actor)?;
    check_expected_version(image, c.expected_version)?;
    policy::may_modify_image(image, &ctx.actor)?;
    Ok(image)
}

/// Deactivate and reactivate: a move, or nothing when the image is already there.
fn toggle(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
    action: ImageAction,
    kind: ImageEventKind,
) -> Result<Vec<Event>, Rejection> {
    let image = permitted(image, c, ctx)?;
    let Some(to) = step(image, action)? else {
        return Ok(Vec::new());
    };
    let mut next = next_version(image, ctx);
    next.status = to;
    Ok(vec![image_event(kind, image, next)])
}

pub(super) fn deactivate(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    toggle(
        image,
        c,
        ctx,
        ImageAction::Deactivate,
        ImageEventKind::Deactivated,
    )
}

pub(super) fn reactivate(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    toggle(
        image,
        c,
        ctx,
        ImageAction::Reactivate,
        ImageEventKind::Reactivated,
    )
}

pub(super) fn delete(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = permitted(image, c, ctx)?;
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
    let mut next = next_version(image, ctx);
    if let Some(to) = step(image, action)? {
        next.status = to;
    }
    next.deleted_at = Some(ctx.now);
    next.lease_expires_at = None;
    let kind = match next.status {
        ImageStatus::PendingDelete => ImageEventKind::DeletePending,
        _ => ImageEventKind::Deleted,
    };
    Ok(vec![image_event(kind, image, next)])
}

pub(super) fn restore(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    // Admin first: restore is an admin action (403 for anyone else, SPEC 2), and only
    // admins can see pending_delete images at all.
    policy::require_admin(&ctx.actor, "restore a deleted image")?;
    let image = policy::visible_image(image, &ctx.actor)?;
    check_expected_version(image, c.expected_version)?;
    let mut next = next_version(image, ctx);
    if let Some(to) = step(image, ImageAction::Restore)? {
        next.status = to;
    }
    next.deleted_at = None;
    Ok(vec![image_event(ImageEventKind::Restored, image, next)])
}

pub(super) fn purge(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
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
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    Ok(vec![image_event(ImageEventKind::Purged, image, next)])
}
