//! `delete_from_store` (Glance's `DELETE /v2/stores/{store_id}/{image_id}`): an admin
//! removes one store's copy of an active image's data, which keeps its other copies. The
//! refusals and their order are Glance's; refusing while an import runs is ours, so
//! the removal cannot race a copy to the same store.

use super::Decision;
use super::common::{image_event, next_version};
use crate::command::DeleteFromStore;
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::Image;
use crate::policy;
use crate::rejection::Rejection;
use crate::status::ImageStatus;

pub(super) fn delete_from_store(
    image: Option<&Image>,
    c: &DeleteFromStore,
    ctx: &Context,
) -> Decision {
    if !ctx.config.stores.contains(&c.store) {
        return Err(Rejection::conflict(format!(
            "The selected store {} is not available on this node.",
            c.store
        )));
    }
    // Glance's message; pending_delete is hidden from everything but restore and purge,
    // admins included.
    let not_found = || Rejection::not_found(format!("Failed to find image {}", c.image_id));
    let image = policy::visible_image(image, &ctx.actor).map_err(|_| not_found())?;
    if image.status.is_deleted() {
        return Err(not_found());
    }
    // Glance's `delete_image_location` policy (admins only), with its message.
    if !ctx.actor.is_admin() {
        return Err(Rejection::forbidden(
            "You are not authorized to complete delete_image_location action.",
        ));
    }
    if image.status != ImageStatus::Active {
        return Err(Rejection::conflict(
            "It's not allowed to remove image data from store if image status is not 'active'",
        ));
    }
    if image.import_task().is_some() {
        return Err(Rejection::conflict(
            "An import is running on this image: remove data from a store once it has ended.",
        ));
    }
    // An image that lists no store has its data in the default one only.
    if image.stores.len() <= 1 {
        return Err(Rejection::forbidden(
            "Cannot delete image data from the only store containing it. Consider deleting \
             the image instead.",
        ));
    }
    let Some(position) = image.stores.iter().position(|s| *s == c.store) else {
        return Err(Rejection::not_found(format!(
            "Image {} is not stored in store {}.",
            image.id, c.store
        )));
    };
    let mut next = next_version(image, ctx);
    next.stores.remove(position);
    Ok(vec![image_event(
        ImageEventKind::RemovedFromStore,
        image,
        next,
    )])
}
