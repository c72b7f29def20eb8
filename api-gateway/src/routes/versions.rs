//! `/` and `/versions`: the API versions clients negotiate with. Glance 33 lists v2.17
//! as current and v2.0-v2.15 as supported; we also list v2.12, which glanceclient needs
//! for `image-tasks` (SPEC 4, "do better"), and no id whose features we do not serve.
//! With named stores we list what Glance adds with `enabled_backends`: v2.8 to v2.13.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::origin::Origin;
use crate::state::AppState;

/// The listed versions in Glance 33's order (v2.15, the multi-store ids, v2.9, then the
/// current v2.17 and v2.7 down to v2.0), each with its status.
const VERSIONS: &[(&str, &str)] = &[
    ("v2.15", "SUPPORTED"),
    ("v2.12", "SUPPORTED"),
    ("v2.9", "SUPPORTED"),
    ("v2.17", "CURRENT"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

/// The same with named stores, where Glance lists v2.13 down to v2.8 in place of v2.9.
const MULTI_STORE_VERSIONS: &[(&str, &str)] = &[
    ("v2.15", "SUPPORTED"),
    ("v2.13", "SUPPORTED"),
    ("v2.12", "SUPPORTED"),
    ("v2.11", "SUPPORTED"),
    ("v2.10", "SUPPORTED"),
    ("v2.9", "SUPPORTED"),
    ("v2.8", "SUPPORTED"),
    ("v2.17", "CURRENT"),
    ("v2.7", "SUPPORTED"),
    ("v2.6", "SUPPORTED"),
    ("v2.5", "SUPPORTED"),
    ("v2.4", "SUPPORTED"),
    ("v2.3", "SUPPORTED"),
    ("v2.2", "SUPPORTED"),
    ("v2.1", "SUPPORTED"),
    ("v2.0", "SUPPORTED"),
];

/// The versions a deployment lists: more with named stores.
fn listed(multi_store: bool) -> &'static [(&'static str, &'static str)] {
    if multi_store {
        MULTI_STORE_VERSIONS
    } else {
        VERSIONS
    }
}

/// Whether a URL's first path segment (or an `application/vnd.openstack.images-`
/// media type's suffix) names a version this gateway serves: `v2` and every listed id,
/// all of them served by the v2 routes, as Glance's version negotiation maps them.
pub fn is_served(id: &str, multi_store: bool) -> bool {
    id == "v2" || listed(multi_store).iter().any(|(listed, _)| *listed == id)
}

/// The versions document is served without identity and its links follow the request's
/// `Host`: a shared cache must not keep one client's links for another.
const NO_STORE: [(header::HeaderName, HeaderValue); 1] =
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];

fn versions(origin: &Origin, multi_store: bool) -> Value {
    // Glance links each version to the application URL joined with `v2/`.
    let href = format!("{}/v2/", origin.application_url());
    let link = json!([{"rel": "self", "href": href}]);
    let entry = |id: &str, status: &str| json!({"id": id, "status": status, "links": link});
    let list: Vec<Value> = listed(multi_store)
        .iter()
        .map(|(id, status)| entry(id, status))
        .collect();
    json!({ "versions": list })
}

/// `/versions`, whatever the method (as Glance): 200 with the list.
#[utoipa::path(
    method(get, put, post, delete, patch), path = "/versions", operation_id = "listVersions", tag = "versions",
    responses((status = 200, description = "The API versions", body = ref("#/components/schemas/Versions")))
)]
pub async fn list(State(state): State<AppState>, origin: Origin) -> impl IntoResponse {
    (NO_STORE, Json(versions(&origin, state.stores.is_multi())))
}

/// `/`, whatever the method: 300 Multiple Choices with the same list (also the answer to
/// a path under a version this gateway does not serve, see `crate::version_negotiation`).
#[utoipa::path(
    method(get, put, post, delete, patch), path = "/", operation_id = "versionChoices", tag = "versions",
    responses((status = 300, description = "The API versions", body = ref("#/components/schemas/Versions")))
)]
pub async fn multiple_choices(State(state): State<AppState>, origin: Origin) -> Response {
    choices(&origin, state.stores.is_multi())
}

/// The 300 with the versions document, for `origin`.
pub fn choices(origin: &Origin, multi_store: bool) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        NO_STORE,
        Json(versions(origin, multi_store)),
    )
        .into_response()
}
