//! The body of `POST /v2/images` turned into a [`CreateImage`] command (SPEC 5): core
//! attributes type-checked here with Glance's 400s, read-only and reserved attributes
//! refused with 403, and every other key kept as an extra property whose value must be a
//! string. Rules that need the caller or the quotas (public and owner by non-admins, name
//! and tag lengths, property names and counts) stay with the domain, which decides them
//! once for every producer of the command.

use std::collections::BTreeMap;
use std::str::FromStr;

use domain::command::CreateImage;
use domain::image::RESERVED_PROPERTY_PREFIX;
use domain::status::{ContainerFormat, DiskFormat, UnknownValue, Visibility};
use domain::{Actor, ImageId, validate};
use serde_json::{Map, Value};

use super::common::kind_of;
use crate::error::ApiError;

/// Read-only attributes Glance silently drops at create instead of refusing (SPEC 5: "a
/// supplied `os_hash_value` at create is ignored").
pub const IGNORED_AT_CREATE: &[&str] = &["os_hash_value"];

/// The command `actor` asks for with this body. The id is generated unless given.
pub fn parse(mut body: Map<String, Value>, actor: &Actor) -> Result<CreateImage, ApiError> {
    // Glance refuses read-only attributes before it looks at the values of the others.
    refuse_read_only(&body)?;
    for key in IGNORED_AT_CREATE {
        body.remove(*key);
    }
    let image_id = match body.remove("id") {
        None => ImageId::generate(),
        Some(Value::String(text)) => ImageId::parse(&text).map_err(|_| {
            ApiError::bad_request(format!("Invalid id '{text}': an image id must be a UUID."))
        })?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid id: an image id must be a UUID string, not {}.",
                kind_of(&other)
            )));
        }
    };
    let name = take(&mut body, "name", nullable_string)?.flatten();
    let visibility = take(&mut body, "visibility", vocabulary::<Visibility>)?;
    let protected = take(&mut body, "protected", boolean)?;
    let os_hidden = take(&mut body, "os_hidden", boolean)?;
    let min_disk = take(&mut body, "min_disk", non_negative)?;
    let min_ram = take(&mut body, "min_ram", non_negative)?;
    let disk_format = take(&mut body, "disk_format", nullable_vocabulary::<DiskFormat>)?;
    let container_format = take(
        &mut body,
        "container_format",
        nullable_vocabulary::<ContainerFormat>,
    )?;
    let tags = take(&mut body, "tags", strings)?.unwrap_or_default();
    let owner = take(&mut body, "owner", nullable_string)?
        .flatten()
        .filter(|owner| *owner != actor.project_id);
    if let Some(owner) = &owner {
        check_owner(owner)?;
    }
    let properties = body
        .into_iter()
        .map(|(key, value)| match value {
            Value::String(text) => Ok((key, text)),
            other => Err(ApiError::bad_request(format!(
                "Property '{key}' must be a string, not {}: extra properties hold strings only.",
                kind_of(&other)
            ))),
        })
        .collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(CreateImage {
        image_id,
        name,
        visibility,
        protected,
        os_hidden,
        disk_format: disk_format.flatten(),
        container_format: container_format.flatten(),
        min_disk,
        min_ram,
        tags,
        properties,
        owner,
    })
}

/// 403 for attributes only the service writes (`id` aside: a client may choose it).
fn refuse_read_only(body: &Map<String, Value>) -> Result<(), ApiError> {
    for key in body.keys() {
        let key = key.as_str();
        if key == "id" || IGNORED_AT_CREATE.contains(&key) {
            continue;
        }
        if validate::READ_ONLY.contains(&key) {
            return Err(ApiError::forbidden(format!(
                "Attribute '{key}' is read-only."
            )));
        }
        if key.starts_with(RESERVED_PROPERTY_PREFIX) {
            return Err(ApiError::forbidden(format!(
                "Attribute '{key}' is reserved: names starting with \
                 {RESERVED_PROPERTY_PREFIX} are the service's own."
            )));
        }
    }
    Ok(())
}

/// An owner other than the caller's project (the domain lets only admins name one). A
/// non-admin naming its own project is accepted, as in Glance, by dropping it above.
fn check_owner(owner: &str) -> Result<(), ApiError> {
    let len = owner.chars().count();
    if len == 0 || len > validate::MAX_TEXT {
        return Err(ApiError::bad_request(format!(
            "'owner' must be a project id of 1 to {} characters.",
            validate::MAX_TEXT
        )));
    }
    Ok(())
}

/// Removes `key` from the body and reads it with `read`, when present.
fn take<T>(
    body: &mut Map<String, Value>,
    key: &str,
    read: impl FnOnce(&str, Value) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    body.remove(key).map(|value| read(key, value)).transpose()
}

fn wrong_type(key: &str, expected: &str, value: &Value) -> ApiError {
    ApiError::bad_request(format!(
        "Invalid value for '{key}': expected {expected}, got {}.",
        kind_of(value)
    ))
}

fn nullable_string(key: &str, value: Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Ok(Some(text)),
        other => Err(wrong_type(key, "a string or null", &other)),
    }
}

fn boolean(key: &str, value: Value) -> Result<bool, ApiError> {
    value
        .as_bool()
        .ok_or_else(|| wrong_type(key, "true or false", &value))
}

/// A non-negative integer; the domain checks the upper bound (32 bits).
fn non_negative(key: &str, value: Value) -> Result<i64, ApiError> {
    match value.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        _ => Err(ApiError::bad_request(format!(
            "Invalid value {value} for '{key}': expected a non-negative integer."
        ))),
    }
}

fn vocabulary<T: FromStr<Err = UnknownValue>>(key: &str, value: Value) -> Result<T, ApiError> {
    match value {
        Value::String(text) => text
            .parse()
            .map_err(|e: UnknownValue| ApiError::bad_request(e.to_string())),
        other => Err(wrong_type(key, "a string", &other)),
    }
}

fn nullable_vocabulary<T: FromStr<Err = UnknownValue>>(
    key: &str,
    value: Value,
) -> Result<Option<T>, ApiError> {
    match value {
        Value::Null => Ok(None),
        other => vocabulary(key, other).map(Some),
    }
}

fn strings(key: &str, value: Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(wrong_type(key, "a list of strings", &value));
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(text) => Ok(text),
            other => Err(wrong_type(key, "a list of strings", &other)),
        })
        .collect()
}
