//! Who may see and change what: Glance's default secure-RBAC (admin, member, reader;
//! owner; shared members; public and community visibility) in one place a reader can
//! audit. Hidden images answer 404, not 403, so their existence does not leak.

use super::actor::Actor;
use super::image::Image;
use super::rejection::Rejection;
use super::status::Visibility;
use super::task::Task;

/// Whether `actor` may see `image` (GET, download, list by id).
pub fn can_see_image(image: &Image, actor: &Actor) -> bool {
    if image.status.is_deleted() {
        // pending_delete and deleted records are hidden; an admin may still address a
        // pending_delete image to restore it.
        return actor.is_admin() && !matches!(image.status, super::status::ImageStatus::Deleted);
    }
    if actor.is_admin() || (image.owner == actor.project_id && actor.is_reader()) {
        return true;
    }
    match image.visibility {
        Visibility::Public | Visibility::Community => true,
        Visibility::Shared => image.member(&actor.project_id).is_some(),
        Visibility::Private => false,
    }
}

/// The image if it exists and `actor` may see it, else 404.
pub fn visible_image<'a>(image: Option<&'a Image>, actor: &Actor) -> Result<&'a Image, Rejection> {
    match image {
        Some(image) if can_see_image(image, actor) => Ok(image),
        Some(image) => Err(image_not_found(image)),
        None => Err(Rejection::not_found("No image found with this id.")),
    }
}

fn image_not_found(image: &Image) -> Rejection {
    Rejection::not_found(format!("No image found with ID {}", image.id))
}

/// Whether `actor` may change `image` (metadata, data, actions, delete): a member of the
/// owning project, or an admin. The caller has checked visibility first.
pub fn may_modify_image(image: &Image, actor: &Actor) -> Result<(), Rejection> {
    if actor.is_admin() || (image.owner == actor.project_id && actor.is_member()) {
        Ok(())
    } else if image.owner == actor.project_id {
        Err(Rejection::forbidden(
            "The reader role may not change images: ask for the member role.",
        ))
    } else {
        Err(Rejection::forbidden(
            "You are not permitted to modify an image your project does not own.",
        ))
    }
}

/// Whether `actor` may read `image`'s event log (the `/history` extension): the owning
/// project (any role that reads) and admins. The log names every project that acted on
/// the image, member projects answering a share included, which a member may not see
/// of other members; so others who see the image (public, community, shared) get 403.
pub fn may_read_history(image: &Image, actor: &Actor) -> Result<(), Rejection> {
    if actor.is_admin() || (image.owner == actor.project_id && actor.is_reader()) {
        Ok(())
    } else {
        Err(Rejection::forbidden(
            "Only the image's own project and admins may read its history.",
        ))
    }
}

/// Whether `actor` may create images in its project.
pub fn may_create_image(actor: &Actor) -> Result<(), Rejection> {
    if actor.is_member() {
        Ok(())
    } else {
        Err(Rejection::forbidden(
            "You are not permitted to create images: the member role is required.",
        ))
    }
}

/// Steps no user triggers directly (completing uploads, running tasks, scrubbing) need
/// the service role or admin.
pub fn require_service(actor: &Actor) -> Result<(), Rejection> {
    if actor.is_service() || actor.is_admin() {
        Ok(())
    } else {
        Err(Rejection::forbidden(
            "This step is taken by the service itself and needs the service role.",
        ))
    }
}

/// Admin-only operations: making images public, changing owners, restoring, the tasks API.
pub fn require_admin(actor: &Actor, what: &str) -> Result<(), Rejection> {
    if actor.is_admin() {
        Ok(())
    } else {
        Err(Rejection::forbidden(format!("Only an admin may {what}.")))
    }
}

/// Whether `actor` may see `task`: admins, the service, and the owning project.
pub fn can_see_task(task: &Task, actor: &Actor) -> bool {
    !task.deleted
        && (actor.is_admin()
            || actor.is_service()
            || (task.owner == actor.project_id && actor.is_reader()))
}
