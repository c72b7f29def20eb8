//! `PUT /v2/images/{id}/stage`: `begin_stage` (queued -> uploading under a lease),
//! `complete_stage` (the staged data waits for `POST /import`, lease released) and
//! `abort_stage` (uploading -> queued, staged data removed).

use super::Decision;
use super::common::{image_event, modifiable, next_version, service_image, step};
use super::data_write::{aborted, leased};
use crate::command::{Abort, ImageRef, Leased};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::transitions::ImageAction;

pub(super) fn begin_stage(image: Option<&Image>, c: &Leased, ctx: &Context) -> Decision {
    let image = modifiable(image, None, ctx)?;
    leased(
        image,
        ImageAction::BeginStage,
        c,
        ImageEventKind::StageStarted,
        ctx,
    )
}

pub(super) fn complete_stage(image: Option<&Image>, c: &ImageRef, ctx: &Context) -> Decision {
    let image = service_image(image, ctx)?;
    debug_assert_eq!(image.id, c.image_id);
    step(image, ImageAction::CompleteStage)?;
    // The staged data now waits for POST /import, however long that takes: no lease.
    let mut next = next_version(image, ctx);
    next.lease_expires_at = None;
    Ok(vec![image_event(ImageEventKind::Staged, image, next)])
}

pub(super) fn abort_stage(image: Option<&Image>, _c: &Abort, ctx: &Context) -> Decision {
    let image = service_image(image, ctx)?;
    aborted(
        image,
        ImageAction::AbortStage,
        ImageEventKind::StageAborted,
        ctx,
    )
}
