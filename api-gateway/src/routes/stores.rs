//! `DELETE /v2/stores/{store_id}/{image_id}` (Glance's `delete_from_store`): removes one
//! store's copy of an image's data. The store must be configured here (404 with a single
//! store, 409 for an unknown one, as Glance answers); the rest (visibility, the admin
//! policy, the image's status, a running import, the only copy, a store not holding
//! it) is the domain's `delete_from_store`. A job then removes the copy's blob.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use domain::Command;
use domain::command::DeleteFromStore;

use super::common::{execute_for_no_content, image_id};
use crate::command::RequestContext;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::CommandErrors;
use crate::state::AppState;

/// Sends `delete_from_store`; 204 once accepted.
#[utoipa::path(
    delete, path = "/v2/stores/{store_id}/{image_id}", operation_id = "deleteFromStore", tag = "images",
    params(
        ("store_id" = String, Path, description = "A store of `GET /v2/info/stores`"),
        ("image_id" = uuid::Uuid, Path, description = "The image"),
    ),
    responses(
        (status = 204, description = "The store's copy is gone; the image keeps the others"),
        CommandErrors,
    )
)]
pub async fn delete_from_store(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((store, raw)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    if !state.stores.is_multi() {
        return Err(ApiError::not_found("The resource could not be found."));
    }
    if state.stores.get(&store).is_none() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("The selected store {store} is not available on this node."),
        ));
    }
    let command = Command::DeleteFromStore(DeleteFromStore {
        image_id: image_id(&raw)?,
        store,
    });
    execute_for_no_content(&state, &request, actor, command).await
}
