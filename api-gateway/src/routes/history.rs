//! Extension `GET /v2/images/{id}/history` (SPEC 12): every version of an image as the
//! event log recorded it, oldest first: what happened, the status before and after, when,
//! by which command, for which request and for whom. Read from the append-only `events`
//! table in one query, for the image's own project and admins: the log names the
//! projects that acted on the image (members answering a share among them), which no
//! other tenant may read (`policy::may_read_history`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, SecondsFormat, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};
use shared::domain::policy;

use super::common::read_connection;
use super::common::{image_id, visible_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{Forbidden, ImagePath, ReadErrors};
use crate::state::AppState;

/// One recorded version; the actor's roles stay in the log, unshown.
#[derive(QueryableByName)]
struct Entry {
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Nullable<Text>)]
    from_status: Option<String>,
    #[diesel(sql_type = Text)]
    to_status: String,
    #[diesel(sql_type = Timestamptz)]
    occurred_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    command_id: uuid::Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    correlation_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_id: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    project_id: Option<String>,
}

// `UNIQUE (aggregate_id, version)` indexes exactly this lookup and order.
const HISTORY: &str = "SELECT version, event_type, from_status, to_status, occurred_at, \
     command_id, correlation_id, actor->>'user_id' AS user_id, \
     actor->>'project_id' AS project_id \
     FROM events WHERE aggregate_id = $1 AND aggregate_type = 'image' ORDER BY version";

impl Entry {
    fn view(&self) -> Value {
        json!({
            "version": self.version,
            "type": self.event_type,
            "from_status": self.from_status,
            "to_status": self.to_status,
            // Microseconds, unlike the image view: several versions can share a second.
            "occurred_at": self.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            "command_id": self.command_id,
            "correlation_id": self.correlation_id,
            "actor": { "user_id": self.user_id, "project_id": self.project_id },
        })
    }
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
    let entries: Vec<Entry> = diesel::sql_query(HISTORY)
        .bind::<SqlUuid, _>(image.id.as_uuid())
        .load(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    let history: Vec<Value> = entries.iter().map(Entry::view).collect();
    Ok(Json(json!({ "history": history })))
}
