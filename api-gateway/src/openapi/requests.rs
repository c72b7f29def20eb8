//! The component schemas of the request bodies other than image creation, with the
//! types and bounds the handlers check; what needs the image's state or the caller's
//! roles (409, 403) is left to the descriptions.

use domain::validate::MAX_TEXT;
use serde_json::{Map, Value, json};
use store::OS_HASH_ALGO;

use super::bodies::named;
use super::schemas::NO_NUL;
use crate::routes::image_patch::{MEDIA_TYPE_V20, MEDIA_TYPE_V21};

/// A URL the import filter may accept (it refuses other schemes and addresses: 400).
const HTTP_URL: &str = "^https?://[^\\s/?#]+([/?#]\\S*)?$";

/// What the gateway reads, besides `ImageCreate`.
pub fn all() -> Map<String, Value> {
    let text =
        json!({ "type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": NO_NUL });
    let op_path = json!({ "type": "string", "pattern": "^/", "description":
        "A JSON pointer to one attribute (`/name`, `/locations/-` where enabled)" });
    let any = json!({ "description": "Any JSON value the attribute accepts" });
    named(vec![
        (
            "ImagePatch",
            json!({
                "type": "array",
                "description": format!("{MEDIA_TYPE_V21}: RFC 6902 operations"),
                "items": {
                    "type": "object",
                    "required": ["op", "path"],
                    "properties": {
                        "op": { "enum": ["add", "replace", "remove"] },
                        "path": op_path,
                        "value": any,
                    },
                    "if": { "properties": { "op": { "enum": ["add", "replace"] } } },
                    "then": { "required": ["value"] },
                },
            }),
        ),
        (
            "ImagePatchDraft04",
            json!({
                "type": "array",
                "description": format!("{MEDIA_TYPE_V20}: the operation's name is the key of its path"),
                "items": {
                    "type": "object",
                    "oneOf": [
                        { "required": ["add", "value"], "properties": { "add": op_path } },
                        { "required": ["replace", "value"], "properties": { "replace": op_path } },
                        { "required": ["remove"], "properties": { "remove": op_path } },
                    ],
                },
            }),
        ),
        (
            "MemberCreate",
            json!({
                "type": "object",
                "required": ["member"],
                "properties": { "member": text },
            }),
        ),
        (
            "MemberUpdate",
            json!({
                "type": "object",
                "required": ["status"],
                "properties": { "status": { "enum": ["pending", "accepted", "rejected"] } },
            }),
        ),
        (
            "ImportRequest",
            json!({
                "type": "object",
                "required": ["method"],
                "properties": {
                    "method": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {
                            "name": { "enum": ["glance-direct", "web-download", "copy-image"] },
                            "uri": { "type": "string", "pattern": HTTP_URL, "description": "web-download: the URL to fetch (the import filter may refuse it: 400)" },
                        },
                        "if": { "properties": { "name": { "const": "web-download" } } },
                        "then": { "required": ["uri"] },
                    },
                    "stores": {
                        "type": ["null", "array"],
                        "items": { "type": "string" },
                        "description": "The stores to import into (or, for copy-image, to copy to), with named stores; none may be named with a single store. Not with all_stores or an X-Image-Meta-Store header (400); an unknown store is 409",
                    },
                    "all_stores": { "type": "boolean", "description": "Every store (copy-image: every store lacking the image)" },
                    "all_stores_must_succeed": { "type": "boolean", "description": "Whether one store failing fails the import (default true); false needs named stores" },
                },
            }),
        ),
        (
            "LocationAdd",
            json!({
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": { "type": "string", "pattern": HTTP_URL, "description": "The import filter may refuse it: 400, or 403 for another scheme" },
                    "validation_data": {
                        "type": ["null", "object"],
                        "additionalProperties": false,
                        "properties": {
                            "checksum": { "type": "string" },
                            "os_hash_algo": { "const": OS_HASH_ALGO },
                            "os_hash_value": { "type": "string" },
                        },
                    },
                },
            }),
        ),
        (
            "TaskCreate",
            json!({
                "type": "object",
                "required": ["type", "input"],
                "additionalProperties": false,
                "properties": {
                    "type": { "enum": ["import"], "description": "The tasks API creates import tasks only" },
                    "input": {
                        "type": "object",
                        "required": ["import_from", "import_from_format", "image_properties"],
                        "properties": {
                            "import_from": { "type": "string", "minLength": 1, "pattern": NO_NUL },
                            "import_from_format": { "type": "string", "minLength": 1, "pattern": NO_NUL },
                            "image_properties": { "type": "object" },
                        },
                    },
                },
            }),
        ),
    ])
}
