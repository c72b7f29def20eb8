//! `POST /v2/images/{id}/import`: starts an interoperable import (SPEC 9). The body is
//! checked here (method object and name, web-download's `uri` against the import
//! filter, the target stores in multi-store mode, see `import_stores`), then one
//! `BeginImport` command locks the image with a new `api_image_import` task; a worker
//! runs the task from the jobs queue. 202 on success. copy-image is served only with
//! several stores, to admins (Glance's `copy_image` policy).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use domain::command::{BeginImport, ImportMethod};
use domain::{Actor, Command, ImageId, ImageStatus, TaskId, policy};
use serde_json::{Map, Value};

use super::common::{image_id, json_object, kind_of, visible_image};
use super::import_stores;
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
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let image_id = image_id(&id)?;
    let body = json_object(&body)?;
    let (all_stores, all_stores_must_succeed) = import_stores::flags(&body)?;
    let copy = body
        .get("method")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        == Some("copy-image");
    let (method, stores) = if !state.stores.is_multi() {
        single_store(
            &state,
            &actor,
            image_id,
            &body,
            copy,
            all_stores_must_succeed,
        )
        .await?
    } else {
        // As Glance orders it: the body's method (400), the image (404, and 403 for a
        // copy by a non-admin, 409 for a copy of an image that is not active), then
        // the stores.
        let method = if copy {
            ImportMethod::CopyImage
        } else {
            import_method(&state, &body)?
        };
        let image = visible_image(&state, &actor, image_id).await?;
        if copy {
            policy::require_admin(&actor, "copy image data between stores")?;
            if image.status != ImageStatus::Active {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "Only images with status active can be targeted for copying",
                ));
            }
        }
        let requested = import_stores::requested(&state.stores, &headers, &body, all_stores)?;
        let stores = if copy {
            import_stores::copy_targets(&state.stores, &image, requested, all_stores)?
        } else {
            requested
        };
        if copy && stores.is_empty() {
            // Every store holds the image already: nothing to do, as Glance answers.
            return Ok(StatusCode::ACCEPTED.into_response());
        }
        (method, stores)
    };
    let command = Command::BeginImport(BeginImport {
        image_id,
        task_id: TaskId::generate(),
        method,
        stores,
        all_stores_must_succeed,
        lease_expires_at: Utc::now() + state.settings.data_lease,
        request_id: request.recorded_request_id(),
    });
    execute(&state, &request, actor, command).await?;
    Ok(StatusCode::ACCEPTED.into_response())
}

/// The method and stores of an import where the deployment names no stores: copy-image
/// has nothing to copy between (a clear 409 where Glance answers 500, after Glance's
/// 404 and 403), and stores can be neither named nor allowed to fail.
async fn single_store(
    state: &AppState,
    actor: &Actor,
    image_id: ImageId,
    body: &Map<String, Value>,
    copy: bool,
    all_stores_must_succeed: bool,
) -> Result<(ImportMethod, Vec<String>), ApiError> {
    if copy {
        let image = visible_image(state, actor, image_id).await?;
        policy::require_admin(actor, "copy image data between stores")?;
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "copy-image copies data between stores, and this deployment has a single store (image {}).",
                image.id
            ),
        ));
    }
    let method = import_method(state, body)?;
    let stores = stores(body)?;
    if !all_stores_must_succeed {
        return Err(ApiError::bad_request(
            "All_stores_must_succeed can only be set with enabled_backends",
        ));
    }
    Ok((method, stores))
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

/// `stores` with a single store: nothing but an empty list makes sense.
fn stores(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
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
