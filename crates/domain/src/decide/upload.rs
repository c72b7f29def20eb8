//! `PUT /v2/images/{id}/file`: `begin_upload` (queued -> saving under a lease),
//! `complete_upload` (saving -> active with size and digests) and `abort_upload` (back
//! to queued, or killed when the partial data could not be removed).

use super::Decision;
use super::common::{image_event, modifiable, next_version, service_image, step};
use super::data_write::{aborted, check_digest, leased};
use crate::command::{Abort, Leased, WithDigest};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::rejection::Rejection;
use crate::status::ImageStatus;
use crate::stores;
use crate::transitions::ImageAction;

pub(super) fn begin_upload(image: Option<&Image>, c: &Leased, ctx: &Context) -> Decision {
    let image = modifiable(image, None, ctx)?;
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

pub(super) fn complete_upload(image: Option<&Image>, c: &WithDigest, ctx: &Context) -> Decision {
    let image = service_image(image, ctx)?;
    step(image, ImageAction::CompleteUpload)?;
    check_digest(&c.digest, ctx)?;
    let mut next = next_version(image, ctx);
    next.status = ImageStatus::Active;
    next.set_data(&c.digest);
    if let Some(store) = &c.store {
        stores::known(store, &ctx.config)?;
        next.stores = vec![store.clone()];
    }
    next.lease_expires_at = None;
    Ok(vec![image_event(ImageEventKind::Uploaded, image, next)])
}

pub(super) fn abort_upload(image: Option<&Image>, c: &Abort, ctx: &Context) -> Decision {
    let image = service_image(image, ctx)?;
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
