//! Extension `GET /v2/images/{id}/history` (SPEC 12): every version of an image as the
//! event log recorded it, oldest first: what happened, the status before and after, when,
//! by which command, for which request and for whom. Read from the append-only `events`
//! table, for the image's own project and admins: the log names the
//! projects that acted on the image (members answering a share among them), which no
//! other tenant may read (`policy::may_read_history`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::SecondsFormat;
use db::history::{HistoryEntry, image_history};
use domain::policy;
use serde_json::{Value, json};

use super::common::read_connection;
use super::common::{image_id, visible_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{Forbidden, ImagePath, ReadErrors};
use crate::state::AppState;

/// One entry as the extension shows it.
fn entry_view(entry: &HistoryEntry) -> Value {
    json!({
        "version": entry.version,
        "type": entry.event_type,
        "from_status": entry.from_status,
        "to_status": entry.to_status,
        // Microseconds, unlike the image view: several versions can share a second.
        "occurred_at": entry.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "command_id": entry.command_id,
        "correlation_id": entry.correlation_id,
        "actor": { "user_id": entry.user_id, "project_id": entry.project_id },
    })
}

/// `GET /v2/images/{id}/history`: 200 `{"history": [...]}` in version order; 404 when the
/// caller may not see the image, 403 when it sees it but is not of its project.
#[utoipa::path(
    get, path = "/v2/images/{id}/history", operation_id = "imageHistory", tag = "images",
    params(ImagePath),
    responses(
        (status = 200, description = "The image's versions, oldest first (extension)", body = ref("#/components/schemas/History")),
        ReadErrors, Forbidden,
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    policy::may_read_history(&image, &actor)?;
    let mut conn = read_connection(&state).await?;
    let entries = image_history(&mut conn, image.id)
        .await
        .map_err(ApiError::internal)?;
    let history: Vec<Value> = entries.iter().map(entry_view).collect();
    Ok(Json(json!({ "history": history })))
}
