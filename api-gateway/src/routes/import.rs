//! `POST /v2/images/{id}/import`: starts an interoperable import (SPEC 9). The body is
//! checked here (method object and name, web-download's `uri` against the import
//! filter), then one `BeginImport` command locks the image with a new
//! `api_image_import` task; a worker runs the task from the jobs queue. 202 on success.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::command::{BeginImport, ImportMethod};
use domain::{Command, TaskId, policy};
use serde_json::{Map, Value};

use super::common::{image_id, json_object, kind_of, visible_image};
use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, ImagePath, TooLarge};
use crate::state::AppState;

/// `POST /v2/images/{id}/import`.
#[utoipa::path(
    post, path = "/v2/images/{id}/import", operation_id = "importImage", tag = "image data",
    params(ImagePath),
    request_body(content = ref("#/components/schemas/ImportRequest"), content_type = "application/json"),
    responses(
        (status = 202, description = "The import task started"),
        CommandErrors, TooLarge,
    )
)]
pub async fn import(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let image_id = image_id(&id)?;
    let body = json_object(&body)?;
    let name = body.get("method").and_then(|m| m.get("name"));
    if name.and_then(Value::as_str) == Some("copy-image") {
        // As Glance orders it: not visible 404, not an admin 403; then, where Glance
        // answers 500 with one store, a clear 409.
        let image = visible_image(&state, &actor, image_id).await?;
        policy::require_admin(&actor, "copy image data between stores")?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "copy-image copies data between stores, and this deployment has a single store (image {}).",
                image.id
            ),
        ));
    }
    let method = import_method(&state, &body)?;
    let stores = stores(&body)?;
    let command = Command::BeginImport(BeginImport {
        image_id,
        task_id: TaskId::generate(),
        method,
        stores,
        all_stores_must_succeed: true,
        lease_expires_at: Utc::now() + state.settings.data_lease,
        request_id: request.recorded_request_id(),
    });
    execute(&state, &request, actor, command).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The `method` object: a known name, and for web-download a URL the filter allows.
fn import_method(state: &AppState, body: &Map<String, Value>) -> Result<ImportMethod, ApiError> {
    let method = match body.get("method") {
        Some(Value::Object(method)) => method,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "'method' must be an object such as {{\"name\": \"glance-direct\"}}, not {}.",
                kind_of(other)
            )));
        }
        None => return Err(ApiError::bad_request("The import needs a 'method' object.")),
    };
    match method.get("name").and_then(Value::as_str) {
        Some("glance-direct") => Ok(ImportMethod::GlanceDirect),
        Some("web-download") => {
            let uri = method
                .get("uri")
                .and_then(Value::as_str)
                .filter(|uri| !uri.trim().is_empty())
                .ok_or_else(|| ApiError::bad_request("web-download needs a 'uri' string."))?;
            state.fetcher.filter().check_url(uri).map_err(|refusal| {
                ApiError::bad_request(format!("The URI is refused: {refusal}"))
            })?;
            Ok(ImportMethod::WebDownload {
                uri: uri.to_owned(),
            })
        }
        Some(other) => Err(ApiError::bad_request(format!(
            "Unknown import method '{other}': use glance-direct or web-download."
        ))),
        None => Err(ApiError::bad_request(
            "The import method needs a 'name' string.",
        )),
    }
}

/// `stores`, `all_stores`, `all_stores_must_succeed`: well-typed, and with a single store
/// nothing but an empty list or `all_stores` makes sense.
fn stores(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    for flag in ["all_stores", "all_stores_must_succeed"] {
        if body.get(flag).is_some_and(|v| !v.is_boolean()) {
            return Err(ApiError::bad_request(format!(
                "'{flag}' must be a boolean."
            )));
        }
    }
    match body.get("stores") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(stores)) if stores.is_empty() => Ok(Vec::new()),
        Some(Value::Array(_)) => Err(ApiError::bad_request(
            "This deployment has a single store: do not name 'stores'.",
        )),
        Some(other) => Err(ApiError::bad_request(format!(
            "'stores' must be a list, not {}.",
            kind_of(other)
        ))),
    }
}
