//! `POST /v2/images/{id}/actions/{action}`: `deactivate_image` and `reactivate_image`
//! (SPEC 2), and the admin extension `restore_image` (pending_delete -> active).

use super::Decision;
use super::common::{image_event, modifiable, moved, step};
use crate::command::ImageRef;
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::policy;
use crate::transitions::ImageAction;

/// Deactivate and reactivate: a move, or nothing when the image is already there.
fn toggle(
    image: Option<&Image>,
    c: &ImageRef,
    ctx: &Context,
    action: ImageAction,
    kind: ImageEventKind,
) -> Decision {
    let image = modifiable(image, c.expected_version, ctx)?;
    let Some(to) = step(image, action)? else {
        return Ok(Vec::new());
    };
    Ok(vec![image_event(kind, image, moved(image, Some(to), ctx))])
}

pub(super) fn deactivate_image(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    let (action, kind) = (ImageAction::Deactivate, ImageEventKind::Deactivated);
    toggle(image, c, ctx, action, kind)
}

pub(super) fn reactivate_image(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    let (action, kind) = (ImageAction::Reactivate, ImageEventKind::Reactivated);
    toggle(image, c, ctx, action, kind)
}

pub(super) fn restore_image(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    // Admin first: restore is an admin action (403 for anyone else, SPEC 2), and only
    // admins can see pending_delete images at all. Admins may modify any image, so the
    // ownership check in `modifiable` passes.
    policy::require_admin(&ctx.actor, "restore a deleted image")?;
    let image = modifiable(image, c.expected_version, ctx)?;
    let mut next = moved(image, step(image, ImageAction::Restore)?, ctx);
    next.deleted_at = None;
    Ok(vec![image_event(ImageEventKind::Restored, image, next)])
}
