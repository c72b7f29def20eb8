//! `PUT` and `DELETE /v2/images/{id}/tags/{tag}` (SPEC 4): one command each. The domain
//! checks, in this order, that the caller sees the image (404), may change it (403) and
//! that the tag is 1 to 255 characters (400); adding a present tag changes nothing and
//! removing an absent one is a 404.

use axum::extract::{Path, State};
use axum::response::Response;
use domain::Command;
use domain::command::TagRef;

use super::common::{execute_for_no_content, image_id};
use crate::command::RequestContext;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, ImagePath, TooLarge};
use crate::state::AppState;

fn tag_ref(id: &str, tag: String) -> Result<TagRef, ApiError> {
    Ok(TagRef {
        image_id: image_id(id)?,
        tag,
    })
}

/// `PUT /v2/images/{id}/tags/{tag}`: 204, also when the tag was already there.
#[utoipa::path(
    put, path = "/v2/images/{id}/tags/{tag}", operation_id = "addTag", tag = "images",
    params(ImagePath, ("tag" = String, Path, description = "1 to 255 characters")),
    responses(
        (status = 204, description = "The image carries the tag"),
        CommandErrors, TooLarge,
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let command = Command::AddTag(tag_ref(&id, tag)?);
    execute_for_no_content(&state, &request, actor, command).await
}

/// `DELETE /v2/images/{id}/tags/{tag}`: 204; 404 when the image has no such tag.
#[utoipa::path(
    delete, path = "/v2/images/{id}/tags/{tag}", operation_id = "removeTag", tag = "images",
    params(ImagePath, ("tag" = String, Path)),
    responses(
        (status = 204, description = "The tag is gone"),
        CommandErrors,
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((id, tag)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let command = Command::RemoveTag(tag_ref(&id, tag)?);
    execute_for_no_content(&state, &request, actor, command).await
}
