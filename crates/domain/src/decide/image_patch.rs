//! `PATCH /v2/images/{id}`: `update_image`, Glance's JSON-patch semantics (SPEC 6) on
//! core attributes and extra properties, all operations or none, as one new version.

use super::Decision;
use super::common::{editable, image_event, next_version};
use crate::command::{PatchOperation, UpdateImage};
use crate::context::Context;
use crate::event::ImageEventKind;
use crate::image::{Image, RESERVED_PROPERTY_PREFIX};
use crate::rejection::Rejection;
use crate::status::{ContainerFormat, DiskFormat, ImageStatus, Visibility};
use crate::{policy, validate};
use serde_json::Value;
use std::collections::BTreeSet;
use std::str::FromStr;

pub(super) fn update_image(image: Option<&Image>, c: &UpdateImage, ctx: &Context) -> Decision {
    let image = editable(image, c.expected_version, ctx)?;
    if c.operations.is_empty() {
        return Ok(Vec::new());
    }
    let mut next = next_version(image, ctx);
    for operation in &c.operations {
        apply(&mut next, operation, ctx)?;
    }
    validate::quota(
        "image properties",
        next.properties.len(),
        ctx.config.image_property_quota,
    )?;
    Ok(vec![image_event(ImageEventKind::Updated, image, next)])
}

fn apply(image: &mut Image, operation: &PatchOperation, ctx: &Context) -> Result<(), Rejection> {
    let (attribute, value, must_exist) = match operation {
        PatchOperation::Add { attribute, value } => (attribute.as_str(), Some(value), false),
        PatchOperation::Replace { attribute, value } => (attribute.as_str(), Some(value), true),
        PatchOperation::Remove { attribute } => (attribute.as_str(), None, true),
    };
    if validate::READ_ONLY.contains(&attribute) {
        return Err(Rejection::forbidden(format!(
            "Attribute '{attribute}' is read-only."
        )));
    }
    if attribute.starts_with(RESERVED_PROPERTY_PREFIX) {
        return validate::property_key(attribute);
    }
    if validate::CORE.contains(&attribute) {
        let Some(value) = value else {
            return Err(Rejection::forbidden(format!(
                "Attribute '{attribute}' is a core attribute and cannot be removed."
            )));
        };
        return set_core(image, attribute, value, ctx);
    }
    validate::property_key(attribute)?;
    let exists = image.properties.contains_key(attribute);
    if must_exist && !exists {
        return Err(Rejection::conflict(format!(
            "Property '{attribute}' does not exist: use 'add' to create it."
        )));
    }
    match value {
        None => {
            image.properties.remove(attribute);
        }
        Some(Value::String(text)) => {
            validate::property_value(attribute, text)?;
            image.properties.insert(attribute.to_owned(), text.clone());
        }
        Some(other) => {
            return Err(Rejection::bad_request(format!(
                "Property '{attribute}' must be a string, not {other}."
            )));
        }
    }
    Ok(())
}

fn set_core(
    image: &mut Image,
    attribute: &str,
    value: &Value,
    ctx: &Context,
) -> Result<(), Rejection> {
    match attribute {
        "name" => {
            let name = nullable(attribute, value, |v| v.as_str().map(str::to_owned))?;
            validate::name(name.as_deref())?;
            image.name = name;
        }
        "visibility" => {
            let visibility: Visibility = parse(attribute, value)?;
            if visibility == Visibility::Public && image.visibility != Visibility::Public {
                policy::require_admin(&ctx.actor, "make an image public")?;
            }
            image.visibility = visibility;
        }
        "protected" => image.protected = boolean(attribute, value)?,
        "os_hidden" => image.os_hidden = boolean(attribute, value)?,
        "min_disk" => image.min_disk = validate::minimum(attribute, integer(attribute, value)?)?,
        "min_ram" => image.min_ram = validate::minimum(attribute, integer(attribute, value)?)?,
        "disk_format" => {
            let format = nullable(attribute, value, |v| v.as_str().map(DiskFormat::from_str))?
                .transpose()
                .map_err(|e| Rejection::bad_request(e.to_string()))?;
            frozen_once_data_exists(image, attribute)?;
            image.disk_format = format;
        }
        "container_format" => {
            let format = nullable(attribute, value, |v| {
                v.as_str().map(ContainerFormat::from_str)
            })?
            .transpose()
            .map_err(|e| Rejection::bad_request(e.to_string()))?;
            frozen_once_data_exists(image, attribute)?;
            image.container_format = format;
        }
        "tags" => {
            let tags = value
                .as_array()
                .and_then(|items| {
                    items
                        .iter()
                        .map(|t| t.as_str().map(str::to_owned))
                        .collect::<Option<BTreeSet<_>>>()
                })
                .ok_or_else(|| Rejection::bad_request("'tags' must be a list of strings."))?;
            for tag in &tags {
                validate::tag(tag)?;
            }
            validate::quota("tags", tags.len(), ctx.config.image_tag_quota)?;
            image.tags = tags.into_iter().collect();
        }
        "owner" => {
            policy::require_admin(&ctx.actor, "change an image's owner")?;
            image.owner = value
                .as_str()
                .filter(|o| !o.is_empty() && o.chars().count() <= validate::MAX_TEXT)
                .ok_or_else(|| {
                    Rejection::bad_request("'owner' must be a project id of 1 to 255 characters.")
                })?
                .to_owned();
            validate::storable("An owner", &image.owner)?;
        }
        other => {
            return Err(Rejection::bad_request(format!(
                "Attribute '{other}' cannot be patched."
            )));
        }
    }
    Ok(())
}

fn frozen_once_data_exists(image: &Image, attribute: &str) -> Result<(), Rejection> {
    if image.status == ImageStatus::Queued {
        Ok(())
    } else {
        Err(Rejection::forbidden(format!(
            "Attribute {attribute} can be only replaced for a queued image."
        )))
    }
}

fn nullable<T>(
    attribute: &str,
    value: &Value,
    read: impl Fn(&Value) -> Option<T>,
) -> Result<Option<T>, Rejection> {
    if value.is_null() {
        return Ok(None);
    }
    read(value)
        .map(Some)
        .ok_or_else(|| Rejection::bad_request(format!("Invalid value {value} for '{attribute}'.")))
}

fn parse<T: FromStr<Err = crate::status::UnknownValue>>(
    attribute: &str,
    value: &Value,
) -> Result<T, Rejection> {
    let text = value
        .as_str()
        .ok_or_else(|| Rejection::bad_request(format!("'{attribute}' must be a string.")))?;
    text.parse()
        .map_err(|e: crate::status::UnknownValue| Rejection::bad_request(e.to_string()))
}

fn boolean(attribute: &str, value: &Value) -> Result<bool, Rejection> {
    value.as_bool().ok_or_else(|| {
        Rejection::bad_request(format!("'{attribute}' must be true or false, not {value}."))
    })
}

fn integer(attribute: &str, value: &Value) -> Result<i64, Rejection> {
    value.as_i64().ok_or_else(|| {
        Rejection::bad_request(format!("'{attribute}' must be an integer, not {value}."))
    })
}
