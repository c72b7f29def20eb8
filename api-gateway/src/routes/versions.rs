//! `/` and `/versions`: the API versions clients negotiate with. Glance 33 lists v2.17
//! as current and v2.0-v2.15 as supported; we also list v2.12, which glanceclient needs
//! for `image-tasks` (SPEC 4, "do better"), and no id whose features we do not serve.

use axum::Json;
use axum::extract::OriginalUri;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

const CURRENT: &str = "v2.17";
const SUPPORTED: &[&str] = &[
    "v2.15", "v2.12", "v2.9", "v2.7", "v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0",
];

fn versions(headers: &HeaderMap) -> Value {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:9292");
    let link = json!([{"rel": "self", "href": format!("http://{host}/v2/")}]);
    let entry = |id: &str, status: &str| json!({"id": id, "status": status, "links": link});
    let mut list = vec![entry(CURRENT, "CURRENT")];
    list.extend(SUPPORTED.iter().map(|id| entry(id, "SUPPORTED")));
    json!({ "versions": list })
}

/// `GET /versions`: 200 with the list.
#[utoipa::path(
    get, path = "/versions", operation_id = "listVersions", tag = "versions",
    responses((status = 200, description = "The API versions", body = ref("#/components/schemas/Versions")))
)]
pub async fn list(headers: HeaderMap) -> impl IntoResponse {
    Json(versions(&headers))
}

/// `GET /` and unknown versions: 300 Multiple Choices with the same list.
#[utoipa::path(
    get, path = "/", operation_id = "versionChoices", tag = "versions",
    responses((status = 300, description = "The API versions", body = ref("#/components/schemas/Versions")))
)]
pub async fn multiple_choices(headers: HeaderMap, _uri: OriginalUri) -> impl IntoResponse {
    (StatusCode::MULTIPLE_CHOICES, Json(versions(&headers)))
}
