//! `POST /v2/images`: `create_image`, a new queued image at version 1, with Glance's
//! defaults and checks.

use super::Decision;
use crate::command::CreateImage;
use crate::context::Context;
use crate::event::{Event, ImageChanged, ImageEventKind};
use crate::image::Image;
use crate::rejection::Rejection;
use crate::status::{ImageStatus, Visibility};
use crate::{policy, validate};
use std::collections::BTreeSet;

pub(super) fn create_image(existing: Option<&Image>, c: &CreateImage, ctx: &Context) -> Decision {
    let actor = &ctx.actor;
    policy::may_create_image(actor)?;
    if existing.is_some() {
        return Err(Rejection::conflict(format!(
            "An image with identifier {} already exists.",
            c.image_id
        )));
    }
    let visibility = c.visibility.unwrap_or(Visibility::Shared);
    if visibility == Visibility::Public {
        policy::require_admin(actor, "make an image public")?;
    }
    validate::storable("An owner", c.owner.as_deref().unwrap_or_default())?;
    let owner = match &c.owner {
        Some(owner) if owner.is_empty() || owner.chars().count() > validate::MAX_TEXT => {
            return Err(Rejection::bad_request(
                "'owner' must be a project id of 1 to 255 characters.",
            ));
        }
        // Naming one's own project is what Glance accepts from anyone.
        Some(owner) if *owner == actor.project_id => owner.clone(),
        Some(owner) => {
            policy::require_admin(actor, "set an image's owner")?;
            owner.clone()
        }
        None => actor.project_id.clone(),
    };
    validate::name(c.name.as_deref())?;
    let tags: BTreeSet<String> = c.tags.iter().cloned().collect();
    for tag in &tags {
        validate::tag(tag)?;
    }
    validate::quota("tags", tags.len(), ctx.config.image_tag_quota)?;
    for key in c.properties.keys() {
        validate::property_key(key)?;
    }
    for (key, value) in &c.properties {
        validate::property_value(key, value)?;
    }
    validate::quota(
        "image properties",
        c.properties.len(),
        ctx.config.image_property_quota,
    )?;
    let image = Image {
        id: c.image_id,
        version: 1,
        status: ImageStatus::Queued,
        name: c.name.clone(),
        visibility,
        protected: c.protected.unwrap_or(false),
        os_hidden: c.os_hidden.unwrap_or(false),
        owner,
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        size: None,
        virtual_size: None,
        min_disk: validate::minimum("min_disk", c.min_disk.unwrap_or(0))?,
        min_ram: validate::minimum("min_ram", c.min_ram.unwrap_or(0))?,
        disk_format: c.disk_format,
        container_format: c.container_format,
        tags: tags.into_iter().collect(),
        properties: c.properties.clone(),
        members: Vec::new(),
        locations: Vec::new(),
        stores: Vec::new(),
        created_at: ctx.now,
        updated_at: ctx.now,
        deleted_at: None,
        lease_expires_at: None,
    };
    Ok(vec![Event::Image(ImageChanged {
        kind: ImageEventKind::Created,
        from_status: None,
        image,
    })])
}
