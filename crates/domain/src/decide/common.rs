//! What the image rules share: the table lookup ([`step`]), the access checks a command
//! passes before its own rule ([`service_image`], [`modifiable`], [`editable`]), the image
//! at its next version ([`next_version`], [`moved`]) and the event that carries it
//! ([`image_event`]).

use crate::context::Context;
use crate::event::{Event, ImageChanged, ImageEventKind};
use crate::image::Image;
use crate::policy;
use crate::rejection::{Rejection, RejectionKind};
use crate::status::ImageStatus;
use crate::transitions::{ImageAction, Step, image_step};

/// Looks `action` up in the transition table: the status to move to, or none to stay.
pub(super) fn step(image: &Image, action: ImageAction) -> Result<Option<ImageStatus>, Rejection> {
    match image_step(action, image.status) {
        Step::Move(to) => Ok(Some(to)),
        Step::Stay => Ok(None),
        Step::Refuse(kind, message) => Err(Rejection::new(kind, message)),
    }
}

/// The caller's `If-Match` version, when given, must be the current one (412).
fn check_expected_version(image: &Image, expected: Option<i64>) -> Result<(), Rejection> {
    match expected {
        Some(v) if v != image.version => Err(Rejection::new(
            RejectionKind::PreconditionFailed,
            format!(
                "The image is at version {}, not {v}: read it again and retry.",
                image.version
            ),
        )),
        _ => Ok(()),
    }
}

/// The image an internal step (upload and stage endings, imports, locations) is about:
/// only the service sends these, and it sees the image whatever its visibility.
pub(super) fn service_image<'a>(
    image: Option<&'a Image>,
    ctx: &Context,
) -> Result<&'a Image, Rejection> {
    policy::require_service(&ctx.actor)?;
    existing(image)
}

/// The image must exist (404 otherwise).
pub(super) fn existing(image: Option<&Image>) -> Result<&Image, Rejection> {
    image.ok_or_else(|| Rejection::not_found("No image found with this id."))
}

/// The image a user's command is about: visible (404), at the version the caller expects
/// when it names one (412), and theirs to change (403), checked in that order.
pub(super) fn modifiable<'a>(
    image: Option<&'a Image>,
    expected_version: Option<i64>,
    ctx: &Context,
) -> Result<&'a Image, Rejection> {
    let image = policy::visible_image(image, &ctx.actor)?;
    check_expected_version(image, expected_version)?;
    policy::may_modify_image(image, &ctx.actor)?;
    Ok(image)
}

/// A [`modifiable`] image in a status that allows metadata edits (patch, tags, members).
pub(super) fn editable<'a>(
    image: Option<&'a Image>,
    expected_version: Option<i64>,
    ctx: &Context,
) -> Result<&'a Image, Rejection> {
    let image = modifiable(image, expected_version, ctx)?;
    step(image, ImageAction::EditMetadata)?;
    Ok(image)
}

/// The image at its next version, touched now; the caller applies the change to it.
pub(super) fn next_version(image: &Image, ctx: &Context) -> Image {
    let mut next = image.clone();
    next.version += 1;
    next.updated_at = ctx.now;
    next
}

/// The image at its next version in the status the table gave (`None`: it stays).
pub(super) fn moved(image: &Image, to: Option<ImageStatus>, ctx: &Context) -> Image {
    let mut next = next_version(image, ctx);
    if let Some(to) = to {
        next.status = to;
    }
    next
}

/// One image event from the state before and after.
pub(super) fn image_event(kind: ImageEventKind, before: &Image, after: Image) -> Event {
    Event::Image(ImageChanged {
        kind,
        from_status: Some(before.status),
        image: after,
    })
}

/// Removes the entries `matches` picks from `entries`; when there is none, the command
/// is refused with 404 and `missing` as the reason.
pub(super) fn remove_or_not_found<T>(
    entries: &mut Vec<T>,
    matches: impl Fn(&T) -> bool,
    missing: impl FnOnce() -> String,
) -> Result<(), Rejection> {
    let before = entries.len();
    entries.retain(|entry| !matches(entry));
    if entries.len() == before {
        return Err(Rejection::not_found(missing()));
    }
    Ok(())
}
