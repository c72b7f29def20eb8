//! What the data-writing rules share: a write that takes the image under a lease
//! ([`leased`], upload and stage), one given up ([`aborted`]), and the size check of
//! written data ([`check_digest`], also for imports and locations; [`check_size`] for
//! staged data).
//!
//! Timestamps from commands are kept to microseconds, as Postgres stores them, so the
//! state decided here equals the state read back.

use super::Decision;
use super::common::{image_event, moved, step};
use crate::command::Leased;
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::{DataDigest, Image};
use crate::rejection::Rejection;
use crate::transitions::ImageAction;
use chrono::SubsecRound;

/// Takes the image for a data write: status per the table, held until the lease expires.
pub(super) fn leased(
    image: &Image,
    action: ImageAction,
    c: &Leased,
    kind: ImageEventKind,
    ctx: &Context,
) -> Decision {
    let mut next = moved(image, step(image, action)?, ctx);
    next.lease_expires_at = Some(c.lease_expires_at.trunc_subsecs(6));
    Ok(vec![image_event(kind, image, next)])
}

/// Leaves the data write: status per the table, data and lease forgotten.
pub(super) fn aborted(
    image: &Image,
    action: ImageAction,
    kind: ImageEventKind,
    ctx: &Context,
) -> Decision {
    let mut next = moved(image, step(image, action)?, ctx);
    next.clear_data();
    next.lease_expires_at = None;
    Ok(vec![image_event(kind, image, next)])
}

/// Refuses a digest with an impossible size or one beyond the size cap.
pub(super) fn check_digest(digest: &DataDigest, ctx: &Context) -> Result<(), Rejection> {
    check_size(digest.size, ctx)
}

/// Refuses an impossible size or one beyond the size cap (also of staged data).
pub(super) fn check_size(size: i64, ctx: &Context) -> Result<(), Rejection> {
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
