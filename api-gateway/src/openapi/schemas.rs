//! `#/components/schemas`: the bodies the gateway answers with and accepts. The image,
//! member and task shapes are Glance's schemas as `/v2/schemas/*` serves them, marked as
//! objects with the keys the views always write; the request shapes are built from the
//! same constants the handlers and the domain check (read-only attributes, the reserved
//! prefix, the 255-character limit), so the document cannot drift from them.

use domain::image::RESERVED_PROPERTY_PREFIX;
use domain::validate::{MAX_TEXT, READ_ONLY};
use serde_json::{Map, Value, json};

use crate::routes::image_create::IGNORED_AT_CREATE;
use crate::routes::schemas::{partial_task, schema};

/// Keys `view::image` writes for every image.
const IMAGE_KEYS: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "tags",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
];

/// Keys `view::member` writes.
const MEMBER_KEYS: &[&str] = &[
    "image_id",
    "member_id",
    "status",
    "created_at",
    "updated_at",
    "schema",
];

/// Keys a task summary (lists) always has; the full task adds `input`, `result` and
/// `message`.
const TASK_KEYS: &[&str] = &[
    "id",
    "type",
    "status",
    "owner",
    "expires_at",
    "created_at",
    "updated_at",
    "image_id",
    "request_id",
    "user_id",
    "self",
    "schema",
];

/// Text Postgres can store: the domain refuses NUL characters (400).
pub(super) const NO_NUL: &str = "^[^\\u0000]*$";

/// A Glance schema as a response component: an object with these keys always present.
fn object(mut schema: Value, required: &[&str]) -> Value {
    schema["type"] = json!("object");
    schema["required"] = json!(required);
    schema
}

/// A Glance schema by name; the files are compiled in, so only a build defect fails.
fn glance(name: &str) -> Result<Value, String> {
    schema(name)
        .map_err(|e| e.message)?
        .ok_or_else(|| format!("openapi: no Glance schema named {name}"))
}

/// Every component schema, by name.
pub fn all() -> Result<Map<String, Value>, String> {
    let task = glance("task")?;
    let mut task_keys = TASK_KEYS.to_vec();
    task_keys.extend(["input", "result", "message"]);
    let mut schemas = super::bodies::named(vec![
        ("Image", object(glance("image")?, IMAGE_KEYS)),
        ("Member", object(glance("member")?, MEMBER_KEYS)),
        ("TaskSummary", object(partial_task(&task), TASK_KEYS)),
        ("Task", object(task, &task_keys)),
    ]);
    schemas.insert("ImageCreate".to_owned(), image_create(&schemas["Image"]));
    schemas.extend(super::bodies::responses());
    schemas.extend(super::requests::all());
    Ok(schemas)
}

/// `POST /v2/images`: the writable core attributes with the types the handler checks;
/// any other key is an extra property with a string value, except read-only and reserved
/// names (403).
fn image_create(image: &Value) -> Value {
    let nullable_text =
        json!({ "type": ["null", "string"], "maxLength": MAX_TEXT, "pattern": NO_NUL });
    let count = json!({ "type": "integer", "minimum": 0, "maximum": i32::MAX });
    let property = |name: &str| image["properties"][name].clone();
    // `id` may be chosen, and the ignored attributes are dropped before the check.
    let mut read_only: Vec<&str> = READ_ONLY
        .iter()
        .copied()
        .filter(|k| *k != "id" && !IGNORED_AT_CREATE.contains(k))
        .collect();
    read_only.sort_unstable();
    json!({
        "type": "object",
        "properties": {
            "id": property("id"),
            "name": nullable_text,
            "visibility": property("visibility"),
            "protected": { "type": "boolean" },
            "os_hidden": { "type": "boolean" },
            "min_disk": count,
            "min_ram": count,
            "disk_format": property("disk_format"),
            "container_format": property("container_format"),
            "tags": {
                "type": "array",
                "items": { "type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": NO_NUL },
            },
            "owner": {
                "type": ["null", "string"], "minLength": 1, "maxLength": MAX_TEXT, "pattern": NO_NUL,
                "description": "Only an admin may name another project (403)",
            },
        },
        "propertyNames": {
            "minLength": 1,
            "maxLength": MAX_TEXT,
            "pattern": NO_NUL,
            "not": {
                "anyOf": [
                    { "enum": read_only },
                    { "pattern": format!("^{RESERVED_PROPERTY_PREFIX}") },
                ],
            },
        },
        "additionalProperties": { "type": "string", "pattern": NO_NUL },
        "description": "Read-only attributes and names starting with os_glance_ are refused \
                        with 403; extra property values are strings. `visibility: public` \
                        needs an admin (403).",
    })
}
