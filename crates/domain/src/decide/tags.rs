//! `/v2/images/{id}/tags/{tag}`: `add_tag` (idempotent) and `remove_tag`, allowed in
//! every status but the deleted ones.

use super::Decision;
use super::common::{editable, image_event, next_version, remove_or_not_found};
use crate::command::TagRef;
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::validate;

pub(super) fn add_tag(image: Option<&Image>, c: &TagRef, ctx: &Context) -> Decision {
    let image = editable(image, None, ctx)?;
    validate::tag(&c.tag)?;
    if image.tags.contains(&c.tag) {
        return Ok(Vec::new());
    }
    let mut next = next_version(image, ctx);
    next.tags.push(c.tag.clone());
    next.tags.sort();
    validate::quota("tags", next.tags.len(), ctx.config.image_tag_quota)?;
    Ok(vec![image_event(ImageEventKind::TagAdded, image, next)])
}

pub(super) fn remove_tag(image: Option<&Image>, c: &TagRef, ctx: &Context) -> Decision {
    let image = editable(image, None, ctx)?;
    let mut next = next_version(image, ctx);
    remove_or_not_found(
        &mut next.tags,
        |t| t == &c.tag,
        || format!("Tag '{}' not found on the image.", c.tag),
    )?;
    Ok(vec![image_event(ImageEventKind::TagRemoved, image, next)])
}
