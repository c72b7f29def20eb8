//! `GET /v2/images/{id}/locations`: an image's data locations, `[{url, metadata}]`, for
//! admins only (Glance's default policy: locations may hold store credentials); others
//! who may see the image get 403, the rest 404. Adding a location (`POST`) validates and
//! hashes its data, which belongs with the image data service.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use shared::domain::policy;

use super::common::{image_id, visible_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::state::AppState;

/// `GET /v2/images/{id}/locations`.
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    policy::require_admin(&actor, "list an image's locations")?;
    Ok(Json(json!(image.locations)))
}
