//! The legacy JSON-patch of `/locations`, served only when multiple locations are shown
//! (Glance's `show_multiple_locations`; otherwise `locations` is read-only, 403). One
//! location operation per request: `add` `/locations/-` with `{url, metadata}` (on an
//! active image the location is recorded at once; on a queued one its data is hashed
//! first, as `POST /locations` does) and `remove` `/locations/<index>` (removing the last
//! location of an active image returns it to queued, SPEC 2).

use domain::command::{AddLocation, RemoveLocation};
use domain::image::Location;
use domain::{Actor, Command, Image, ImageStatus, policy};
use serde_json::{Map, Value, json};

use super::image_patch::Dialect;
use super::locations::{check_location_url, start_location_import};
use crate::command::{RequestContext, execute_for_image};
use crate::error::ApiError;
use crate::state::AppState;

/// One change to an image's locations.
#[derive(Debug, Clone, PartialEq)]
pub enum LocationChange {
    /// A new location.
    Add {
        /// Where the data is.
        url: String,
        /// Store metadata.
        metadata: Value,
    },
    /// The location at this index goes.
    Remove {
        /// Its position in the image's list.
        index: usize,
    },
}

/// The location change a patch body asks for, if it touches `/locations` at all; a
/// location operation mixed with others, or one this service does not serve, is 400.
pub fn location_change(body: &[u8], dialect: Dialect) -> Result<Option<LocationChange>, ApiError> {
    let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) else {
        // Not a list: the general patch parser gives the precise 400.
        return Ok(None);
    };
    let touches =
        |item: &Value| path_of(item, dialect).is_some_and(|p| p.starts_with("/locations"));
    if !items.iter().any(touches) {
        return Ok(None);
    }
    let [item] = items.as_slice() else {
        return Err(ApiError::bad_request(
            "Send a change to /locations alone, one operation per request.",
        ));
    };
    let path = path_of(item, dialect).unwrap_or_default();
    let index = path.strip_prefix("/locations/");
    match (op_of(item, dialect), index) {
        (Some("add"), Some(_)) => {
            let value = item
                .get("value")
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ApiError::bad_request("A location to add is an object {\"url\", \"metadata\"}.")
                })?;
            location_value(value).map(Some)
        }
        (Some("remove"), Some(index)) => index
            .parse::<usize>()
            .map(|index| Some(LocationChange::Remove { index }))
            .map_err(|_| ApiError::bad_request(format!("Invalid location index '{index}'."))),
        _ => Err(ApiError::bad_request(
            "Locations change by 'add' /locations/- or 'remove' /locations/<index>.",
        )),
    }
}

fn op_of(item: &Value, dialect: Dialect) -> Option<&str> {
    match dialect {
        Dialect::Rfc6902 => item.get("op").and_then(Value::as_str),
        Dialect::Draft04 => ["add", "remove", "replace"]
            .into_iter()
            .find(|op| item.get(*op).is_some()),
    }
}

fn path_of(item: &Value, dialect: Dialect) -> Option<&str> {
    match dialect {
        Dialect::Rfc6902 => item.get("path").and_then(Value::as_str),
        Dialect::Draft04 => op_of(item, dialect).and_then(|op| item.get(op)?.as_str()),
    }
}

fn location_value(value: &Map<String, Value>) -> Result<LocationChange, ApiError> {
    let url = value
        .get("url")
        .and_then(Value::as_str)
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("A location needs a 'url' string."))?;
    let metadata = match value.get("metadata") {
        None => json!({}),
        Some(metadata @ Value::Object(_)) => metadata.clone(),
        Some(_) => {
            return Err(ApiError::bad_request(
                "A location's 'metadata' must be an object.",
            ));
        }
    };
    Ok(LocationChange::Add {
        url: url.to_owned(),
        metadata,
    })
}

/// Applies the change; the image after it (a queued image stays queued until its new
/// location's data has been hashed).
pub async fn apply(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    image: Image,
    change: LocationChange,
) -> Result<Image, ApiError> {
    policy::may_modify_image(&image, &actor)?;
    let command = match change {
        LocationChange::Remove { index } => {
            let location = image.locations.get(index).ok_or_else(|| {
                ApiError::bad_request(format!("The image has no location at index {index}."))
            })?;
            let remove = RemoveLocation {
                image_id: image.id,
                url: location.url.clone(),
            };
            return execute_for_image(state, request, actor, Command::RemoveLocation(remove)).await;
        }
        LocationChange::Add { url, metadata } => {
            check_location_url(state, &actor, &url)?;
            if image.status == ImageStatus::Queued {
                start_location_import(state, request, &image, &url, json!({})).await?;
                return Ok(image);
            }
            Command::AddLocation(AddLocation {
                image_id: image.id,
                location: Location { url, metadata },
                digest: None,
            })
        }
    };
    // The caller's right to change the image was checked above; recording a location
    // is the service's step, as for locations whose data was hashed.
    execute_for_image(state, request, Actor::service(), command).await
}
