//! `/v2/info/*` (SPEC 4): the import methods on offer, the stores (404: one store is
//! configured, as Glance answers then), and the caller's project usage against its
//! limits, counted in one query.

use axum::Json;
use axum::extract::State;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
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

/// The four counters of a project.
#[derive(QueryableByName)]
struct Usage {
    #[diesel(sql_type = BigInt)]
    size_total: i64,
    #[diesel(sql_type = BigInt)]
    count_total: i64,
    #[diesel(sql_type = BigInt)]
    stage_total: i64,
    #[diesel(sql_type = BigInt)]
    count_uploading: i64,
}

// As Glance counts: killed and deleted images hold no data and do not count, while
// pending_delete ones keep theirs until scrubbed and do. Staged bytes are the sizes of
// images in uploading and importing; uploads in flight are saving, uploading or
// importing images. `images_owner_idx` serves the filter.
const USAGE: &str = "SELECT \
     COALESCE(SUM(size), 0)::bigint AS size_total, \
     COUNT(*) AS count_total, \
     COALESCE(SUM(size) FILTER (WHERE status IN ('uploading', 'importing')), 0)::bigint \
         AS stage_total, \
     COUNT(*) FILTER (WHERE status IN ('saving', 'uploading', 'importing')) \
         AS count_uploading \
     FROM images WHERE owner = $1 AND status NOT IN ('killed', 'deleted')";

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
    let usage: Usage = diesel::sql_query(USAGE)
        .bind::<Text, _>(&actor.project_id)
        .get_result(&mut conn)
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
