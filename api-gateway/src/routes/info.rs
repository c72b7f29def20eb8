//! `/v2/info/*` (SPEC 4): the import methods on offer, the stores and (admin) their
//! settings, as Glance's discovery API shows them (404 when one store is configured, as
//! Glance answers without `enabled_backends`), and the caller's project usage against
//! its limits.

use axum::Json;
use axum::extract::State;
use db::usage::project_usage;
use serde_json::{Map, Value, json};
use store::{NamedStore, StoreKind, Stores};

use super::common::read_connection;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{Forbidden, NotFound, ServerErrors, Unauthorized};
use crate::state::AppState;

/// Glance's "no limit": no per-project quota is configured in this service yet, so every
/// resource reports it (Glance does the same without Keystone unified limits).
const UNLIMITED: i64 = -1;

/// `GET /v2/info/import`: the import methods on offer (copy-image only with several
/// stores).
#[utoipa::path(
    get, path = "/v2/info/import", operation_id = "importInfo", tag = "discovery",
    responses(
        (status = 200, description = "The import methods on offer", body = ref("#/components/schemas/ImportInfo")),
        Unauthorized,
    )
)]
pub async fn import(State(state): State<AppState>, _caller: Caller) -> Json<Value> {
    Json(json!({
        "import-methods": {
            "description": "Import methods available.",
            "type": "array",
            "value": super::import_stores::import_methods(&state.stores),
        }
    }))
}

/// `GET /v2/info/stores`: the stores by id, the default one marked, each with its
/// description when one is configured; 404 with a single store, as Glance answers
/// without `enabled_backends`.
#[utoipa::path(
    get, path = "/v2/info/stores", operation_id = "storesInfo", tag = "discovery",
    responses(
        (status = 200, description = "The stores", body = ref("#/components/schemas/StoresInfo")),
        Unauthorized, NotFound,
    )
)]
pub async fn stores(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let listed = listed_stores(&state.stores)?;
    Ok(Json(
        json!({ "stores": listed.into_iter().map(|(entry, _)| entry).collect::<Vec<_>>() }),
    ))
}

/// `GET /v2/info/stores/detail` (admin, Glance's `stores_info_detail` policy): the
/// stores as `/v2/info/stores` lists them, each with its type, properties and weight.
#[utoipa::path(
    get, path = "/v2/info/stores/detail", operation_id = "storesInfoDetail", tag = "discovery",
    responses(
        (status = 200, description = "The stores with their settings", body = ref("#/components/schemas/StoresInfoDetail")),
        Unauthorized, Forbidden, NotFound,
    )
)]
pub async fn stores_detail(
    State(state): State<AppState>,
    Caller(actor): Caller,
) -> Result<Json<Value>, ApiError> {
    // As Glance: a single store is 404 for everyone, before the policy is asked.
    let listed = listed_stores(&state.stores)?;
    if !actor.is_admin() {
        return Err(ApiError::forbidden(
            "You are not authorized to complete stores_info_detail action.",
        ));
    }
    let detailed: Vec<Value> = listed
        .into_iter()
        .map(|(mut entry, named)| {
            entry.insert("type".into(), json!(named.kind.type_name()));
            entry.insert("properties".into(), properties(named));
            entry.insert("weight".into(), json!(STORE_WEIGHT));
            Value::Object(entry)
        })
        .collect();
    Ok(Json(json!({ "stores": detailed })))
}

/// Glance's default store weight: no store is preferred for reads.
const STORE_WEIGHT: i64 = 0;

/// A store as `/v2/info/stores` shows it, with the store it describes.
type Listed<'a> = (Map<String, Value>, &'a NamedStore);

/// Each store as `/v2/info/stores` shows it, with the store it describes; 404 in
/// single-store mode.
fn listed_stores(stores: &Stores) -> Result<Vec<Listed<'_>>, ApiError> {
    if !stores.is_multi() {
        return Err(ApiError::not_found(
            "Multi backend is not supported at this site.",
        ));
    }
    let default = &stores.default_store().id;
    Ok(stores
        .all()
        .iter()
        .map(|named| {
            let mut entry = Map::new();
            entry.insert("id".into(), json!(named.id));
            if let Some(description) = &named.description {
                entry.insert("description".into(), json!(description));
            }
            // A string, as Glance spells it.
            if &named.id == default {
                entry.insert("default".into(), json!("true"));
            }
            (entry, named)
        })
        .collect())
}

/// A store's settings under Glance's property names for its type, with our values: a
/// file store's directory and write part size (never thin-provisioned), an S3 store's
/// multipart settings (every write is multipart, so from 0 bytes on).
fn properties(named: &NamedStore) -> Value {
    let store = &named.store;
    match &named.kind {
        StoreKind::File { dir } => json!({
            "data_dir": dir.display().to_string(),
            "chunk_size": store.part_size(),
            "thin_provisioning": false,
        }),
        StoreKind::S3 => json!({
            "s3_store_large_object_size": 0,
            "s3_store_large_object_chunk_size": store.part_size(),
            "s3_store_thread_pools": store.parts_in_flight(),
        }),
    }
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
