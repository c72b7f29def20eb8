//! Tags and members: metadata changes allowed in every status but the deleted ones.

use super::{image_event, next_version, step};
use crate::command::{MemberRef, TagRef, UpdateMember};
use crate::context::Context;
use crate::event::{Event, ImageEventKind};
use crate::image::{Image, Member};
use crate::rejection::Rejection;
use crate::status::{MemberStatus, Visibility};
use crate::transitions::ImageAction;
use crate::{policy, validate};

/// A visible image its caller may change, in a status that allows metadata edits.
fn editable<'a>(image: Option<&'a Image>, ctx: &Context) -> Result<&'a Image, Rejection> {
    let image = policy::visible_image(image, &ctx.actor)?;
    policy::may_modify_image(image, &ctx.actor)?;
    step(image, ImageAction::EditMetadata)?;
    Ok(image)
}

pub(super) fn add_tag(
    image: Option<&Image>,
    c: &TagRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = editable(image, ctx)?;
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

pub(super) fn remove_tag(
    image: Option<&Image>,
    c: &TagRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = editable(image, ctx)?;
    let mut next = next_version(image, ctx);
    let before = next.tags.len();
    next.tags.retain(|t| t != &c.tag);
    if next.tags.len() == before {
        return Err(Rejection::not_found(format!(
            "Tag '{}' not found on the image.",
            c.tag
        )));
    }
    Ok(vec![image_event(ImageEventKind::TagRemoved, image, next)])
}

/// Only shared images have members (Glance: 403 to add, answer or remove one of any
/// other image, whatever members it kept from when it was shared).
fn shared_only(image: &Image) -> Result<(), Rejection> {
    if image.visibility == Visibility::Shared {
        Ok(())
    } else {
        Err(Rejection::forbidden(format!(
            "Only shared images have members; image {} is {}.",
            image.id, image.visibility
        )))
    }
}

pub(super) fn add_member(
    image: Option<&Image>,
    c: &MemberRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = editable(image, ctx)?;
    shared_only(image)?;
    validate::storable("A member id", &c.member_id)?;
    if c.member_id.is_empty() || c.member_id.chars().count() > validate::MAX_TEXT {
        return Err(Rejection::bad_request(
            "A member must be a project id of 1 to 255 characters.",
        ));
    }
    if image.member(&c.member_id).is_some() {
        return Err(Rejection::conflict(format!(
            "Project {} is already a member of image {}.",
            c.member_id, image.id
        )));
    }
    let mut next = next_version(image, ctx);
    next.members.push(Member {
        member_id: c.member_id.clone(),
        status: MemberStatus::Pending,
        created_at: ctx.now,
        updated_at: ctx.now,
    });
    validate::quota(
        "image members",
        next.members.len(),
        ctx.config.image_member_quota,
    )?;
    Ok(vec![image_event(ImageEventKind::MemberAdded, image, next)])
}

pub(super) fn update_member(
    image: Option<&Image>,
    c: &UpdateMember,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = policy::visible_image(image, &ctx.actor)?;
    step(image, ImageAction::EditMetadata)?;
    shared_only(image)?;
    let member = image.member(&c.member_id).ok_or_else(|| {
        Rejection::not_found(format!(
            "Project {} is not a member of the image.",
            c.member_id
        ))
    })?;
    if ctx.actor.project_id != c.member_id && !ctx.actor.is_admin() {
        return Err(Rejection::forbidden(
            "Only the member project itself may set its member status.",
        ));
    }
    if member.status == c.status {
        return Ok(Vec::new());
    }
    let mut next = next_version(image, ctx);
    for m in next
        .members
        .iter_mut()
        .filter(|m| m.member_id == c.member_id)
    {
        m.status = c.status;
        m.updated_at = ctx.now;
    }
    Ok(vec![image_event(
        ImageEventKind::MemberUpdated,
        image,
        next,
    )])
}

pub(super) fn remove_member(
    image: Option<&Image>,
    c: &MemberRef,
    ctx: &Context,
) -> Result<Vec<Event>, Rejection> {
    let image = editable(image, ctx)?;
    shared_only(image)?;
    let mut next = next_version(image, ctx);
    let before = next.members.len();
    next.members.retain(|m| m.member_id != c.member_id);
    if next.members.len() == before {
        return Err(Rejection::not_found(format!(
            "Project {} is not a member of the image.",
            c.member_id
        )));
    }
    Ok(vec![image_event(
        ImageEventKind::MemberRemoved,
        image,
        next,
    )])
}
