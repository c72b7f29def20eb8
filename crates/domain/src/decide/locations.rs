//! `add_location` (a verified location: queued -> active, or one more location of an
//! active image) and `remove_location` (removing the last returns an active image to
//! queued); the gateway's `/v2/images/{id}/locations` and location patches send them.

use super::Decision;
use super::common::{existing, image_event, modifiable, moved, next_version, step};
use super::data_write::check_digest;
use crate::command::{AddLocation, RemoveLocation};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::rejection::Rejection;
use crate::transitions::ImageAction;
use crate::{policy, validate};

pub(super) fn add_location(image: Option<&Image>, c: &AddLocation, ctx: &Context) -> Decision {
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
) -> Decision {
    let image = modifiable(image, None, ctx)?;
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
    let mut next = moved(image, to, ctx);
    next.locations.remove(position);
    if to.is_some() {
        next.clear_data();
    }
    Ok(vec![image_event(
        ImageEventKind::LocationRemoved,
        image,
        next,
    )])
}
