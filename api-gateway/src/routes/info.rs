//! `/v2/info/*` (SPEC 4): the import methods on offer, the stores (404: one store is
//! configured, as Glance answers then), and the caller's project usage against its
//! limits.

use axum::Json;
use axum::extract::State;
use db::usage::project_usage;
use serde_json::{Value, json};

use super::common::read_connection;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{NotFound, ServerErrors, Unauthorized};
use crate::state::AppState;

/// Glance's "no limit": no per-project quota is configured in this service yet, so every
/// resource reports it (Glance does the same without Keystone unified limits).
const UNLIMITED: i64 = -1;

/// `GET /v2/info/import`: the import methods a single-store deployment serves
/// (copy-image needs several stores).
#[utoipa::path(
    get, path = "/v2/info/import", operation_id = "importInfo", tag = "discovery",
    responses(
        (status = 200, description = "The import methods on offer", body = ref("#/components/schemas/ImportInfo")),
        Unauthorized,
    )
)]
pub async fn import(_caller: Caller) -> Json<Value> {
    Json(json!({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": ["glance-direct", "web-download"],
        }
    }))
}

/// `GET /v2/info/stores`: 404, as Glance answers when one store is configured.
#[utoipa::path(
    get,
    path = "/v2/info/stores",
    operation_id = "storesInfo",
    tag = "discovery",
    responses(Unauthorized, NotFound,)
)]
pub async fn stores(_caller: Caller) -> ApiError {
    ApiError::not_found("Multi backend is not supported at this site.")
}

/// `GET /v2/info/usage`: the caller's project usage, each with its limit.
#[utoipa::path(
    get, path = "/v2/info/usage", operation_id = "usageInfo", tag = "discovery",
    responses(
        (status = 200, description = "The caller's project usage and limits", body = ref("#/components/schemas/Usage")),
        Unauthorized, ServerErrors,
    )
)]
pub async fn usage(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, ApiError> {
    let mut conn = read_connection(&state).await?;
    let usage = project_usage(&mut conn, &actor.project_id)
        .await
        .map_err(ApiError::internal)?;
    let entry = |usage: i64| json!({ "limit": UNLIMITED, "usage": usage });
    Ok(Json(json!({
        "usage": {
            "image_size_total": entry(usage.size_total),
            "image_count_total": entry(usage.count_total),
            "image_stage_total": entry(usage.stage_total),
            "image_count_uploading": entry(usage.count_uploading),
        }
    })))
}
