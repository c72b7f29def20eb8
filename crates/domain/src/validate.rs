//! Checks of client-supplied values shared by creation and JSON-patch (SPEC 5): lengths,
//! ranges, reserved names and quotas, each refused with Glance's code.

use super::image::RESERVED_PROPERTY_PREFIX;
use super::rejection::Rejection;

/// Attributes clients can see but never write (403 on create and patch).
pub const READ_ONLY: &[&str] = &[
    "id",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "deleted",
    "deleted_at",
    "stores",
];

/// Core attributes clients may write but not remove (JSON-patch sets them as fields, not
/// as extra properties).
pub const CORE: &[&str] = &[
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "tags",
    "owner",
];

/// Longest name, tag, property key or value Glance accepts.
pub const MAX_TEXT: usize = 255;

/// Text without NUL characters, which Postgres cannot store in text or JSON: refused
/// here, as bad input, rather than failing (and being retried) at the database.
pub fn storable(what: &str, text: &str) -> Result<(), Rejection> {
    if text.contains('\0') {
        return Err(Rejection::bad_request(format!(
            "{what} must not contain NUL characters."
        )));
    }
    Ok(())
}

/// The largest magnitude a JSON number may have in stored documents. `jsonb` keeps
/// numbers as exact decimals and prints them without an exponent; near `f64::MAX` the
/// 309-digit result no longer reads back as a JSON number (schemathesis found a task
/// whose input held -1.7976931348623155e308 answering 500 on every read).
pub const MAX_STORED_NUMBER: f64 = 1e300;

/// JSON whose keys and strings hold no NUL characters (`jsonb` cannot store `\u0000`)
/// and whose numbers are within [`MAX_STORED_NUMBER`]: task input and results, location
/// metadata.
pub fn storable_json(what: &str, value: &serde_json::Value) -> Result<(), Rejection> {
    match value {
        serde_json::Value::String(text) => storable(what, text),
        serde_json::Value::Number(number)
            if number.as_f64().is_some_and(|n| n.abs() > MAX_STORED_NUMBER) =>
        {
            Err(Rejection::bad_request(format!(
                "{what} must not hold numbers beyond ±{MAX_STORED_NUMBER:e}; {number} cannot be stored."
            )))
        }
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| storable_json(what, i)),
        serde_json::Value::Object(fields) => fields.iter().try_for_each(|(key, field)| {
            storable(what, key)?;
            storable_json(what, field)
        }),
        _ => Ok(()),
    }
}

/// A name of at most 255 characters.
pub fn name(name: Option<&str>) -> Result<(), Rejection> {
    storable("An image name", name.unwrap_or_default())?;
    match name {
        Some(n) if n.chars().count() > MAX_TEXT => Err(Rejection::bad_request(format!(
            "Image name is {} characters long; at most {MAX_TEXT} are allowed.",
            n.chars().count()
        ))),
        _ => Ok(()),
    }
}

/// A tag of 1 to 255 characters.
pub fn tag(tag: &str) -> Result<(), Rejection> {
    storable("A tag", tag)?;
    let len = tag.chars().count();
    if len == 0 || len > MAX_TEXT {
        return Err(Rejection::bad_request(format!(
            "Tags must be 1 to {MAX_TEXT} characters long; this one has {len}."
        )));
    }
    Ok(())
}

/// A client-writable extra property name: 1 to 255 characters, not `os_glance_*`.
pub fn property_key(key: &str) -> Result<(), Rejection> {
    storable("A property name", key)?;
    let len = key.chars().count();
    if len == 0 || len > MAX_TEXT {
        return Err(Rejection::bad_request(format!(
            "Property names must be 1 to {MAX_TEXT} characters long; '{key}' has {len}."
        )));
    }
    if READ_ONLY.contains(&key) {
        return Err(Rejection::forbidden(format!(
            "Attribute '{key}' is read-only."
        )));
    }
    if key.starts_with(RESERVED_PROPERTY_PREFIX) {
        return Err(Rejection::forbidden(format!(
            "Attribute '{key}' is reserved: names starting with {RESERVED_PROPERTY_PREFIX} are the service's own."
        )));
    }
    Ok(())
}

/// An extra property's value against the constraints of Glance's stock custom
/// properties (`etc/schema-image.json`, served in the image schema): `kernel_id` and
/// `ramdisk_id` are image ids (8-4-4-4-12 hex digits), and
/// `cinder_encryption_key_deletion_policy` is `on_image_deletion` or `do_not_delete`.
pub fn property_value(key: &str, value: &str) -> Result<(), Rejection> {
    storable("A property value", value)?;
    let fits = match key {
        "kernel_id" | "ramdisk_id" => is_hyphenated_uuid(value),
        "cinder_encryption_key_deletion_policy" => {
            matches!(value, "on_image_deletion" | "do_not_delete")
        }
        _ => true,
    };
    if fits {
        Ok(())
    } else {
        Err(Rejection::bad_request(format!(
            "Provided object does not match schema 'image': '{value}' is not a valid '{key}'."
        )))
    }
}

/// The image schema's id pattern: `^([0-9a-fA-F]){8}-(..){4}-(..){4}-(..){4}-(..){12}$`.
fn is_hyphenated_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `min_disk` or `min_ram`: a non-negative 32-bit integer.
pub fn minimum(attribute: &str, value: i64) -> Result<i32, Rejection> {
    i32::try_from(value)
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| {
            Rejection::bad_request(format!(
                "{attribute} must be an integer from 0 to {}; got {value}.",
                i32::MAX
            ))
        })
}

/// Refuses a collection that would grow past its quota (413).
pub fn quota(what: &str, count: usize, quota: usize) -> Result<(), Rejection> {
    if count > quota {
        Err(Rejection::too_large(format!(
            "Maximum {what} exceeded: {count} requested, the quota is {quota}."
        )))
    } else {
        Ok(())
    }
}
