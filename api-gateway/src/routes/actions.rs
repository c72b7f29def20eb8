//! `POST /v2/images/{id}/actions/{action}`: `deactivate` and `reactivate` (SPEC 2), and
//! the extension `restore` (admin: pending_delete -> active). Each is one command; the
//! domain decides visibility (404), permission (403) and the status table. Any other
//! action is 404, and a GET on an action is 405. `If-Match: "<version>"` becomes the
//! command's expected version (extension): 412 when the image has moved on.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use domain::Command;
use domain::command::ImageRef;

use super::common::{execute_for_no_content, image_id};
use super::image_patch::expected_version;
use crate::command::RequestContext;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, ImagePath, PreconditionFailed};
use crate::state::AppState;

/// The command an action path names.
fn command_for(action: &str) -> Option<fn(ImageRef) -> Command> {
    match action {
        "deactivate" => Some(Command::DeactivateImage),
        "reactivate" => Some(Command::ReactivateImage),
        "restore" => Some(Command::RestoreImage),
        _ => None,
    }
}

/// Sends the action for the image in the path; 204 when accepted, also when it changed
/// nothing (deactivating a deactivated image).
#[utoipa::path(
    post, path = "/v2/images/{id}/actions/{action}", operation_id = "imageAction", tag = "images",
    params(
        ImagePath,
        ("action" = String, Path, pattern = "^(deactivate|reactivate|restore)$", description = "Any other action is 404; restore is an admin extension"),
        ("If-Match" = Option<String>, Header, pattern = "^([*]|[0-9]{1,18}|\"[0-9]{1,18}\")$", description = "`\"<version>\"` or `*`: 412 when the image has moved on"),
    ),
    responses(
        (status = 204, description = "Done, or nothing to do"),
        CommandErrors, PreconditionFailed,
    )
)]
pub async fn act(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let make = command_for(&action)
        .ok_or_else(|| ApiError::not_found(format!("There is no image action '{action}'.")))?;
    let reference = ImageRef {
        image_id: image_id(&id)?,
        expected_version: expected_version(&headers)?,
    };
    execute_for_no_content(&state, &request, actor, make(reference)).await
}
