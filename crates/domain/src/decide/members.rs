//! `/v2/images/{id}/members`: `add_member` (share the image with a project),
//! `update_member` (the member's answer) and `remove_member`. Only shared images have
//! members, and only in a status that allows metadata edits.

use super::Decision;
use super::common::{editable, image_event, next_version, remove_or_not_found, step};
use crate::command::{MemberRef, UpdateMember};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::{Image, Member};
use crate::rejection::Rejection;
use crate::status::{MemberStatus, Visibility};
use crate::transitions::ImageAction;
use crate::{policy, validate};

/// An image whose member list its owner (or an admin) changes: editable and shared.
fn owned_shared_image<'a>(image: Option<&'a Image>, ctx: &Context) -> Result<&'a Image, Rejection> {
    let image = editable(image, None, ctx)?;
    shared_only(image)?;
    Ok(image)
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

pub(super) fn add_member(image: Option<&Image>, c: &MemberRef, ctx: &Context) -> Decision {
    let image = owned_shared_image(image, ctx)?;
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

/// The member project answers (or an admin for it); the owner may not, so this takes
/// the visible image, not an editable one.
pub(super) fn update_member(image: Option<&Image>, c: &UpdateMember, ctx: &Context) -> Decision {
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

pub(super) fn remove_member(image: Option<&Image>, c: &MemberRef, ctx: &Context) -> Decision {
    let image = owned_shared_image(image, ctx)?;
    let mut next = next_version(image, ctx);
    remove_or_not_found(
        &mut next.members,
        |m| m.member_id == c.member_id,
        || format!("Project {} is not a member of the image.", c.member_id),
    )?;
    Ok(vec![image_event(
        ImageEventKind::MemberRemoved,
        image,
        next,
    )])
}
