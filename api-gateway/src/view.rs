//! The Glance v2 representations of images, members and tasks: core attributes, extra
//! properties flattened in, links, and timestamps as ISO 8601 with `Z`. With named
//! stores (Glance's `enabled_backends`) an image with data shows the stores holding it,
//! and its shown locations include one per store.

use chrono::{DateTime, SecondsFormat, Utc};
use domain::image::Member;
use domain::{Image, Task};
use serde_json::{Map, Value, json};
use store::Stores;

/// Glance's timestamp form: seconds precision, `Z`.
pub fn timestamp(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An image as `GET /v2/images/{id}` shows it, its locations only when `show_locations`
/// (Glance's `show_multiple_locations`).
pub fn image(image: &Image, show_locations: bool, stores: &Stores) -> Value {
    let mut body = Map::new();
    for (key, value) in &image.properties {
        body.insert(key.clone(), Value::String(value.clone()));
    }
    let id = image.id.to_string();
    let core = json!({
        "id": id,
        "name": image.name,
        "status": image.status.as_str(),
        "visibility": image.visibility.as_str(),
        "protected": image.protected,
        "os_hidden": image.os_hidden,
        "owner": image.owner,
        "checksum": image.checksum,
        "os_hash_algo": image.os_hash_algo,
        "os_hash_value": image.os_hash_value,
        "size": image.size,
        "virtual_size": image.virtual_size,
        "min_disk": image.min_disk,
        "min_ram": image.min_ram,
        "disk_format": image.disk_format.map(|f| f.as_str()),
        "container_format": image.container_format.map(|f| f.as_str()),
        "tags": image.tags,
        "created_at": timestamp(&image.created_at),
        "updated_at": timestamp(&image.updated_at),
        "self": format!("/v2/images/{id}"),
        "file": format!("/v2/images/{id}/file"),
        "schema": "/v2/schemas/image",
    });
    if let Value::Object(core) = core {
        body.extend(core);
    }
    let holding = holding_stores(image, stores);
    if show_locations {
        // Each store's copy is a location, as Glance records one per store; after the
        // image's own, whose indexes location patches (`remove /locations/N`) use.
        let mut locations: Vec<Value> = image.locations.iter().map(|l| json!(l)).collect();
        locations.extend(holding.iter().filter_map(|id| stores.get(id)).map(|named| {
            let root = named.store.description().trim_end_matches('/');
            json!({ "url": format!("{root}/images/{id}"), "metadata": { "store": named.id } })
        }));
        if let Some(first) = locations.first() {
            body.insert("direct_url".into(), first["url"].clone());
        }
        body.insert("locations".into(), Value::Array(locations));
    }
    if !holding.is_empty() {
        body.insert("stores".into(), Value::String(holding.join(",")));
    }
    Value::Object(body)
}

/// The ids of the stores holding an image's data, in multi-store mode only: the ones it
/// lists, or the default store for data written before stores had names (an image whose
/// data is only at external locations is in no store).
fn holding_stores(image: &Image, stores: &Stores) -> Vec<String> {
    if !stores.is_multi() {
        return Vec::new();
    }
    if !image.stores.is_empty() {
        return image.stores.clone();
    }
    if image.checksum.is_some() && image.locations.is_empty() {
        return vec![stores.default_store().id.clone()];
    }
    Vec::new()
}

/// A member as `/v2/images/{id}/members` shows it.
pub fn member(image: &Image, member: &Member) -> Value {
    json!({
        "image_id": image.id.to_string(),
        "member_id": member.member_id,
        "status": member.status.as_str(),
        "created_at": timestamp(&member.created_at),
        "updated_at": timestamp(&member.updated_at),
        "schema": "/v2/schemas/member",
    })
}

/// A task as `/v2/tasks/{id}` shows it. The requester's roles, recorded in the input
/// for the worker's `inject_image_metadata` step, are not shown: Glance has no such key,
/// and an admin's roles are no business of the image owner's project.
pub fn task(task: &Task) -> Value {
    let id = task.id.to_string();
    let mut input = task.input.clone();
    if let Some(fields) = input.as_object_mut() {
        fields.remove(domain::injection::REQUESTER_ROLES);
    }
    json!({
        "id": id,
        "type": task.task_type.as_str(),
        "status": task.status.as_str(),
        "input": input,
        "result": task.result,
        "message": task.message,
        "owner": task.owner,
        "expires_at": task.expires_at.as_ref().map(timestamp),
        "created_at": timestamp(&task.created_at),
        "updated_at": timestamp(&task.updated_at),
        "image_id": task.image_id.map(|i| i.to_string()),
        "request_id": task.request_id,
        "user_id": task.user_id,
        "self": format!("/v2/tasks/{id}"),
        "schema": "/v2/schemas/task",
    })
}
