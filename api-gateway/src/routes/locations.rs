//! `/v2/images/{id}/locations`. `GET`: the image's data locations, `[{url, metadata}]`,
//! for admins only (Glance's default policy: locations may hold store credentials);
//! others who may see the image get 403, the rest 404. `POST {url, validation_data?}`
//! (Glance 2024.2's add-location): on a queued image, checks the URL as web-download
//! does and creates a `location_import` task; a worker reads the data once for its size
//! and digests (and format), then the image becomes active with that location. 202.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::status::TaskType;
use domain::{Actor, Image, ImageStatus, policy};
use fetch::UrlRefusal;
use serde_json::{Map, Value, json};

use super::common::{image_id, json_object, kind_of, visible_image};
use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, Forbidden, ImagePath, ReadErrors, TooLarge};
use crate::state::AppState;

/// Keys `validation_data` may hold; only sha512 is computed, so only it can be compared.
const VALIDATION_KEYS: [&str; 3] = ["checksum", "os_hash_algo", "os_hash_value"];

/// `GET /v2/images/{id}/locations`.
#[utoipa::path(
    get, path = "/v2/images/{id}/locations", operation_id = "listLocations", tag = "image data",
    params(ImagePath),
    responses(
        (status = 200, description = "The image's locations (admins only)", body = ref("#/components/schemas/Locations")),
        ReadErrors, Forbidden,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    policy::require_admin(&actor, "list an image's locations")?;
    Ok(Json(json!(image.locations)))
}

/// `POST /v2/images/{id}/locations`.
#[utoipa::path(
    post, path = "/v2/images/{id}/locations", operation_id = "addLocation", tag = "image data",
    params(ImagePath),
    request_body(content = ref("#/components/schemas/LocationAdd"), content_type = "application/json"),
    responses(
        (status = 202, description = "A location_import task hashes the data, then the image is active"),
        CommandErrors, TooLarge,
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let image_id = image_id(&id)?;
    let body = json_object(&body)?;
    if let Some(key) = body
        .keys()
        .find(|k| !["url", "validation_data"].contains(&k.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Unknown key '{key}': a location is {{\"url\", \"validation_data\"}}."
        )));
    }
    let url = match body.get("url") {
        Some(Value::String(url)) if !url.trim().is_empty() => url.clone(),
        _ => return Err(ApiError::bad_request("A location needs a 'url' string.")),
    };
    let validation_data = validation_data(&body)?;
    let image = visible_image(&state, &actor, image_id).await?;
    policy::may_modify_image(&image, &actor)?;
    if image.status != ImageStatus::Queued {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "A location can only be added to a queued image; image {image_id} is {}.",
                image.status
            ),
        ));
    }
    check_location_url(&state, &actor, &url)?;
    start_location_import(&state, &request, &image, &url, validation_data).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The import filter's verdict on a location URL: a scheme other than http(s) is 403
/// for anyone but the service (SPEC 4), any other refusal 400.
pub fn check_location_url(state: &AppState, actor: &Actor, url: &str) -> Result<(), ApiError> {
    state
        .fetcher
        .filter()
        .check_url(url)
        .map(drop)
        .map_err(|refusal| match refusal {
            UrlRefusal::Scheme(_) if !actor.is_service() => {
                ApiError::forbidden(format!("The location is refused: {refusal}"))
            }
            _ => ApiError::bad_request(format!("The location is refused: {refusal}")),
        })
}

/// Creates the `location_import` task that hashes a queued image's new location and
/// then activates the image with it. The caller's right to change the image has been
/// checked; the task is the service's (only the service may create one) and belongs to
/// the image's owner, who sees it at `/v2/images/{id}/tasks`.
pub async fn start_location_import(
    state: &AppState,
    request: &RequestContext,
    image: &Image,
    url: &str,
    validation_data: Value,
) -> Result<(), ApiError> {
    let input = json!({
        "image_id": image.id,
        "owner": image.owner,
        "url": url,
        "validation_data": validation_data,
    });
    let command = request.create_task(TaskType::LocationImport, input);
    execute(state, request, Actor::service(), command)
        .await
        .map(drop)
}

/// `validation_data`: an object of hex strings the hashed data must match.
fn validation_data(body: &Map<String, Value>) -> Result<Value, ApiError> {
    let data = match body.get("validation_data") {
        None | Some(Value::Null) => return Ok(json!({})),
        Some(Value::Object(data)) => data,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'validation_data' must be an object, not {}.",
                kind_of(other)
            )));
        }
    };
    for (key, value) in data {
        if !VALIDATION_KEYS.contains(&key.as_str()) {
            return Err(ApiError::bad_request(format!(
                "Unknown validation_data key '{key}': use checksum, os_hash_algo, os_hash_value."
            )));
        }
        if !value.is_string() {
            return Err(ApiError::bad_request(format!(
                "validation_data '{key}' must be a string."
            )));
        }
    }
    if data
        .get("os_hash_algo")
        .and_then(Value::as_str)
        .is_some_and(|algo| algo != store::OS_HASH_ALGO)
    {
        return Err(ApiError::bad_request(format!(
            "validation_data os_hash_algo must be {}.",
            store::OS_HASH_ALGO
        )));
    }
    Ok(Value::Object(data.clone()))
}
