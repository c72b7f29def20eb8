//! The component schemas of the gateway's own answers (lists, errors, service
//! information) as the handlers write them. Lists refer to the Glance item schemas of
//! [`super::schemas`].

use serde_json::{Map, Value, json};

/// A reference to another component schema.
fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// Named schemas as a JSON object.
pub(super) fn named(entries: Vec<(&str, Value)>) -> Map<String, Value> {
    entries
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
}

/// What the gateway answers with.
pub fn responses() -> Map<String, Value> {
    let string = json!({ "type": "string" });
    let store = json!({
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": string,
            "description": string,
            "default": { "const": "true", "description": "Only on the default store" },
        },
    });
    let counter = json!({
        "type": "object",
        "required": ["limit", "usage"],
        "properties": {
            "limit": { "type": "integer", "description": "-1: no limit" },
            "usage": { "type": "integer", "minimum": 0 },
        },
    });
    named(vec![
        ("Binary", json!({ "type": "string", "format": "binary" })),
        (
            "Error",
            json!({
                "type": "object",
                "required": ["code", "title", "message"],
                "properties": {
                    "code": { "type": "integer", "description": "The HTTP status" },
                    "title": { "type": "string", "description": "Its reason phrase" },
                    "message": { "type": "string" },
                },
            }),
        ),
        (
            "ImageList",
            json!({
                "type": "object",
                "required": ["images", "first", "schema"],
                "properties": {
                    "images": { "type": "array", "items": reference("Image") },
                    "first": string,
                    "next": { "type": "string", "description": "Present while more images may follow" },
                    "schema": string,
                },
            }),
        ),
        (
            "MemberList",
            json!({
                "type": "object",
                "required": ["members", "schema"],
                "properties": {
                    "members": { "type": "array", "items": reference("Member") },
                    "schema": string,
                },
            }),
        ),
        (
            "TaskList",
            json!({
                "type": "object",
                "required": ["tasks", "first", "schema"],
                "properties": {
                    "tasks": { "type": "array", "items": reference("TaskSummary") },
                    "first": string,
                    "next": { "type": "string", "description": "Present while more tasks may follow" },
                    "schema": string,
                },
            }),
        ),
        (
            "ImageTasks",
            json!({
                "type": "object",
                "required": ["tasks"],
                "properties": { "tasks": { "type": "array", "items": reference("Task") } },
            }),
        ),
        (
            "Locations",
            json!({
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["url", "metadata"],
                    "properties": { "url": string, "metadata": { "type": "object" } },
                },
            }),
        ),
        (
            "History",
            json!({
                "type": "object",
                "required": ["history"],
                "properties": { "history": { "type": "array", "items": {
                    "type": "object",
                    "required": ["version", "type", "from_status", "to_status", "occurred_at",
                                 "command_id", "correlation_id", "actor"],
                    "properties": {
                        "version": { "type": "integer", "minimum": 1 },
                        "type": { "type": "string", "description": "The event type" },
                        "from_status": { "type": ["null", "string"] },
                        "to_status": string,
                        "occurred_at": { "type": "string", "format": "date-time" },
                        "command_id": { "type": "string", "format": "uuid" },
                        "correlation_id": { "type": ["null", "string"] },
                        "actor": {
                            "type": "object",
                            "required": ["user_id", "project_id"],
                            "properties": {
                                "user_id": { "type": ["null", "string"] },
                                "project_id": { "type": ["null", "string"] },
                            },
                        },
                    },
                } } },
            }),
        ),
        (
            "Versions",
            json!({
                "type": "object",
                "required": ["versions"],
                "properties": { "versions": { "type": "array", "items": {
                    "type": "object",
                    "required": ["id", "status", "links"],
                    "properties": {
                        "id": string,
                        "status": { "enum": ["CURRENT", "SUPPORTED"] },
                        "links": { "type": "array", "items": {
                            "type": "object",
                            "required": ["rel", "href"],
                            "properties": { "rel": string, "href": string },
                        } },
                    },
                } } },
            }),
        ),
        (
            "ImportInfo",
            json!({
                "type": "object",
                "required": ["import-methods"],
                "properties": { "import-methods": {
                    "type": "object",
                    "required": ["description", "type", "value"],
                    "properties": {
                        "description": string,
                        "type": string,
                        "value": { "type": "array", "items": string },
                    },
                } },
            }),
        ),
        (
            "StoresInfo",
            json!({
                "type": "object",
                "required": ["stores"],
                "properties": { "stores": { "type": "array", "items": store.clone() } },
            }),
        ),
        (
            "StoresInfoDetail",
            json!({
                "type": "object",
                "required": ["stores"],
                "properties": { "stores": { "type": "array", "items": { "allOf": [store, {
                    "type": "object",
                    "required": ["type", "properties", "weight"],
                    "properties": {
                        "type": { "enum": ["file", "s3"] },
                        "properties": {
                            "type": "object",
                            "description": "file: data_dir, chunk_size, thin_provisioning; \
                                s3: s3_store_large_object_size, \
                                s3_store_large_object_chunk_size, s3_store_thread_pools",
                        },
                        "weight": { "type": "integer" },
                    },
                }] } } },
            }),
        ),
        (
            "Usage",
            json!({
                "type": "object",
                "required": ["usage"],
                "properties": { "usage": {
                    "type": "object",
                    "required": ["image_size_total", "image_count_total", "image_stage_total",
                                 "image_count_uploading"],
                    "properties": {
                        "image_size_total": counter,
                        "image_count_total": counter,
                        "image_stage_total": counter,
                        "image_count_uploading": counter,
                    },
                } },
            }),
        ),
        (
            "Readiness",
            json!({
                "type": "object",
                "required": ["status", "failed", "checks"],
                "properties": {
                    "status": { "enum": ["ready", "not ready"] },
                    "failed": { "type": "array", "items": string },
                    "checks": {
                        "type": "object",
                        "additionalProperties": string,
                        "description": "Each check: `ok` or why it failed",
                    },
                },
            }),
        ),
    ])
}
