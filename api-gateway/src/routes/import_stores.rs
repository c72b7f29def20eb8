//! The target stores of `POST /v2/images/{id}/import` (Glance's
//! `get_stores_from_request`): the body's `stores`, every store for `all_stores`, the
//! `X-Image-Meta-Store` header, or the default store; and the import methods on offer,
//! which include copy-image only where there are stores to copy between.

use axum::http::{HeaderMap, StatusCode};
use domain::Image;
use serde_json::{Map, Value};
use store::Stores;

use super::common::kind_of;
use super::image_data::STORE_HEADER;
use crate::error::ApiError;

/// The import methods a deployment offers, for `/v2/info/import` and the
/// `OpenStack-image-import-methods` header.
pub fn import_methods(stores: &Stores) -> &'static [&'static str] {
    if stores.is_multi() {
        &["glance-direct", "web-download", "copy-image"]
    } else {
        &["glance-direct", "web-download"]
    }
}

/// `all_stores` and `all_stores_must_succeed`: booleans when present (400 otherwise,
/// with Glance's messages); `all_stores_must_succeed` true when absent.
pub fn flags(body: &Map<String, Value>) -> Result<(bool, bool), ApiError> {
    let flag = |name: &str, default: bool| match body.get(name) {
        None => Ok(default),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(ApiError::bad_request(format!(
            "'{name}' must be boolean value only"
        ))),
    };
    let must_succeed = flag("all_stores_must_succeed", true)?;
    let all_stores = flag("all_stores", false)?;
    Ok((all_stores, must_succeed))
}

/// The stores a multi-store import writes to, as Glance picks them; a store that is not
/// configured is 409, as Glance answers its `UnknownScheme`.
pub fn requested(
    stores: &Stores,
    headers: &HeaderMap,
    body: &Map<String, Value>,
    all_stores: bool,
) -> Result<Vec<String>, ApiError> {
    let header = headers.get(STORE_HEADER);
    let named = body.get("stores");
    let requested = if all_stores {
        if named.is_some() || header.is_some() {
            return Err(ApiError::bad_request(
                "All_stores parameter can't be used with x-image-meta-store header or stores parameter",
            ));
        }
        stores.ids()
    } else if let Some(named) = named {
        if header.is_some() {
            return Err(ApiError::bad_request(
                "Stores parameter and x-image-meta-store header can't be both specified",
            ));
        }
        store_list(named)?
    } else if let Some(header) = header {
        let id = header.to_str().map_err(|_| {
            ApiError::bad_request("The x-image-meta-store header must be a store id.")
        })?;
        vec![id.trim().to_owned()]
    } else {
        vec![stores.default_store().id.clone()]
    };
    for id in &requested {
        if stores.get(id).is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Unknown scheme '{id}' found in URI"),
            ));
        }
    }
    Ok(requested)
}

/// `stores`: a list of store id strings, each named once.
fn store_list(value: &Value) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(ApiError::bad_request(format!(
            "'stores' must be a list of store ids, not {}.",
            kind_of(value)
        )));
    };
    let mut ids: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let id = item
            .as_str()
            .ok_or_else(|| ApiError::bad_request("'stores' must be a list of store id strings."))?;
        if !ids.iter().any(|known| known == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

/// What a copy-image asks for once the stores already holding the image are accounted
/// for, as Glance does: with `all_stores` they are dropped (none left: nothing to do),
/// named one by one they are 400.
pub fn copy_targets(
    stores: &Stores,
    image: &Image,
    requested: Vec<String>,
    all_stores: bool,
) -> Result<Vec<String>, ApiError> {
    let holding: Vec<&str> = stores
        .holding(&image.stores)
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    if all_stores {
        return Ok(requested
            .into_iter()
            .filter(|id| !holding.contains(&id.as_str()))
            .collect());
    }
    if let Some(present) = requested.iter().find(|id| holding.contains(&id.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Image is already present at store '{present}'"
        )));
    }
    Ok(requested)
}
