//! `PUT /v2/images/{id}/stage`: `begin_stage` (queued -> uploading under a lease),
//! `complete_stage` (the staged data waits for `POST /import`, lease released, its size
//! shown as Glance shows it) and
//! `abort_stage` (uploading -> queued, staged data removed).

use super::Decision;
use super::common::{image_event, modifiable, next_version, service_image, step};
use super::data_write::{aborted, check_size, leased};
use crate::command::{Abort, Leased, StagedData};
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

pub(super) fn complete_stage(image: Option<&Image>, c: &StagedData, ctx: &Context) -> Decision {
    let image = service_image(image, ctx)?;
    debug_assert_eq!(image.id, c.image_id);
    step(image, ImageAction::CompleteStage)?;
    if let Some(size) = c.size {
        check_size(size, ctx)?;
    }
    // The staged data now waits for POST /import, however long that takes: no lease.
    let mut next = next_version(image, ctx);
    next.lease_expires_at = None;
    next.size = c.size;
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
