//! `GET /v2/schemas/{name}` (SPEC 4): the JSON schemas clients such as glanceclient read
//! to learn the attributes, in Glance's shape. The item schemas are static files beside
//! this one; the collections are built from them as Glance builds them: `image` and
//! `images` in full (extra properties are strings; links; the custom properties of
//! Glance's stock `etc/schema-image.json`, such as `os_distro` and `kernel_id`, merged in
//! with `"is_base": false` as Glance serves them), `member`, `members`, `task`
//! and `tasks` in Glance's minimal form, the task list without `input`, `result` and
//! `message`, which lists do not show. Unknown names are 404.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::Path;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{Internal, NotFound, Unauthorized};

/// The item schemas, parsed once. A file that does not parse would be a build defect:
/// it answers 500 (and the unit test below fails first).
static ITEMS: LazyLock<Result<[Value; 3], String>> = LazyLock::new(|| {
    let parse = |name: &str, text: &str| {
        serde_json::from_str::<Value>(text).map_err(|e| format!("schema {name}: {e}"))
    };
    Ok([
        parse("image", include_str!("schemas/image.json"))?,
        parse("member", include_str!("schemas/member.json"))?,
        parse("task", include_str!("schemas/task.json"))?,
    ])
});

/// Glance's `CollectionSchema.raw()`: paging links and the full item schema.
fn full_collection(name: &str, item: &Value) -> Value {
    json!({
        "name": name,
        "properties": {
            name: { "type": "array", "items": item },
            "first": { "type": "string" },
            "next": { "type": "string" },
            "schema": { "type": "string" },
        },
        "links": [
            { "rel": "first", "href": "{first}" },
            { "rel": "next", "href": "{next}" },
            { "rel": "describedby", "href": "{schema}" },
        ],
    })
}

/// Glance's `CollectionSchema.minimal()`.
fn minimal_collection(name: &str, item: &Value) -> Value {
    json!({
        "name": name,
        "properties": {
            name: { "type": "array", "items": item },
            "schema": { "type": "string" },
        },
        "links": [{ "rel": "describedby", "href": "{schema}" }],
    })
}

/// The task schema without the details lists leave out (also the OpenAPI document's
/// task summary).
pub fn partial_task(task: &Value) -> Value {
    let mut partial = task.clone();
    if let Some(Value::Object(properties)) = partial.get_mut("properties") {
        for hidden in ["input", "result", "message"] {
            properties.remove(hidden);
        }
    }
    partial
}

/// The schema called `name`, if there is one.
pub fn schema(name: &str) -> Result<Option<Value>, ApiError> {
    let [image, member, task] = ITEMS.as_ref().map_err(ApiError::internal)?;
    Ok(match name {
        "image" => Some(image.clone()),
        "images" => Some(full_collection("images", image)),
        "member" => Some(member.clone()),
        "members" => Some(minimal_collection("members", member)),
        "task" => Some(task.clone()),
        "tasks" => Some(minimal_collection("tasks", &partial_task(task))),
        _ => None,
    })
}

/// `GET /v2/schemas/{name}`: 200 with the schema; 404 for an unknown name.
#[utoipa::path(
    get, path = "/v2/schemas/{name}", operation_id = "showSchema", tag = "discovery",
    params(("name" = String, Path, pattern = "^(image|images|member|members|task|tasks)$", description = "Any other name is 404")),
    responses(
        (status = 200, description = "Glance's JSON schema", body = Object),
        Unauthorized, NotFound, Internal,
    )
)]
pub async fn show(_caller: Caller, Path(name): Path<String>) -> Result<Json<Value>, ApiError> {
    schema(&name)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No schema named '{name}'.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_parses_and_is_named() {
        for name in ["image", "images", "member", "members", "task", "tasks"] {
            let found = schema(name).ok().flatten();
            let named = found.as_ref().and_then(|s| s.get("name")).cloned();
            assert_eq!(named, Some(Value::from(name)), "{name}");
        }
        assert!(matches!(schema("nope"), Ok(None)));
    }
}
