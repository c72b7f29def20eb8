//! `POST /v2/images/{id}/actions/deactivate` and `/reactivate` (SPEC 2), and the
//! extension `POST /v2/images/{id}/actions/restore` (admin: pending_delete -> active).
//! Each is one command; the domain decides visibility (404), permission (403) and the
//! status table. Only these three paths are routed, so another action falls through to
//! the 404 fallback and a GET on one of them is a 405. `If-Match: "<version>"` becomes the
//! command's expected version (extension): 412 when the image has moved on.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use shared::domain::Command;
use shared::domain::command::ImageRef;

use super::common::{image_id, no_content};
use super::image_patch::expected_version;
use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::state::AppState;

/// Sends the action `make` builds for the image in the path; 204 when accepted, also
/// when it changed nothing (deactivating a deactivated image).
async fn act(
    state: &AppState,
    request: &RequestContext,
    caller: Caller,
    raw_id: &str,
    headers: &HeaderMap,
    make: fn(ImageRef) -> Command,
) -> Result<Response, ApiError> {
    let reference = ImageRef {
        image_id: image_id(raw_id)?,
        expected_version: expected_version(headers)?,
    };
    execute(state, request, caller.0, make(reference)).await?;
    Ok(no_content())
}

/// `POST /v2/images/{id}/actions/deactivate`: 204; 403 for readers, shared members and
/// images that are not active or deactivated; 404 when not visible.
pub async fn deactivate(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(
        &state,
        &request,
        caller,
        &id,
        &headers,
        Command::DeactivateImage,
    )
    .await
}

/// `POST /v2/images/{id}/actions/reactivate`: as deactivate, the other way.
pub async fn reactivate(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(
        &state,
        &request,
        caller,
        &id,
        &headers,
        Command::ReactivateImage,
    )
    .await
}

/// Extension `POST /v2/images/{id}/actions/restore`: an admin brings a pending_delete
/// image back to active (409 in any other status).
pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    request: RequestContext,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    act(
        &state,
        &request,
        caller,
        &id,
        &headers,
        Command::RestoreImage,
    )
    .await
}
