//! The gateway's OpenAPI 3.1 document, served at `GET /openapi.json` without identity.
//!
//! Operations come from `#[utoipa::path]` on the handlers themselves, so a handler's
//! statuses are documented beside the code that returns them: error statuses as the
//! shared sets of [`responses`], the image id as the one parameter of [`params`]. The
//! schemas are spliced in as JSON afterwards ([`schemas`], with the gateway's own bodies
//! from [`bodies`] and [`requests`]): the image, member and task shapes are Glance's own
//! JSON Schemas (the files `/v2/schemas/*` serves), whose keywords (`type` lists, `links`)
//! utoipa's typed schema model cannot carry. A snapshot of the document is checked in
//! (`api-gateway/openapi.json`) and compared by the `openapi` integration test.

mod bodies;
mod params;
mod requests;
mod responses;
mod schemas;

use std::sync::LazyLock;

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

pub use params::ImagePath;
pub use responses::{
    CommandErrors, CreateErrors, Error, Forbidden, Gone, Internal, ListErrors, NotFound,
    PreconditionFailed, RangeNotSatisfiable, ReadErrors, ServerErrors, TooLarge, Unauthorized,
    Unavailable, UnsupportedMediaType,
};

/// The path the document is served at.
pub const PATH: &str = "/openapi.json";

/// How identity is passed, for the document's description.
const DESCRIPTION: &str = "OpenStack Glance's Image API v2 (SPEC.md), served by imagefleet's \
gateway, with the operations endpoints. Callers identify with the headers a trusted proxy \
sets (`X-Project-Id` or `X-Tenant-Id`, `X-User-Id`, `X-Roles`, comma-separated) or, in token \
mode, `X-Auth-Token`; a request without identity acts as the configured default identity, \
or gets 401 when there is none. Writes accept `Idempotency-Key` (a retry replays the first \
outcome; 400 unless visible ASCII). Error bodies are `{\"code\", \"title\", \"message\"}` \
JSON when the `Accept` header prefers `application/json` over `text/plain`, else plain text. \
Every response carries `X-Openstack-Request-Id`. A method a path does not serve is 405 \
with `Allow`; an unknown path is 404.";

/// The operations, in the order of `routes::routes` and the operations router.
#[derive(OpenApi)]
#[openapi(
    info(title = "imagefleet", description = DESCRIPTION, license(name = "Apache-2.0")),
    paths(
        routes::versions::multiple_choices,
        routes::versions::list,
        routes::v2_redirect,
        routes::images::list,
        routes::images::create,
        routes::images::show,
        routes::images::update,
        routes::images::delete,
        routes::tags::add,
        routes::tags::remove,
        routes::members::list,
        routes::members::create,
        routes::members::show,
        routes::members::update,
        routes::members::remove,
        routes::actions::act,
        routes::history::show,
        routes::image_data::upload,
        routes::image_download::download,
        routes::image_data::stage,
        routes::import::import,
        routes::locations::list,
        routes::locations::add,
        routes::stores::delete_from_store,
        routes::tasks::of_image,
        routes::tasks::list,
        routes::tasks::create,
        routes::tasks::show,
        routes::schemas::show,
        routes::info::import,
        routes::info::stores,
        routes::info::stores_detail,
        routes::info::usage,
        routes::ops::metrics,
        routes::ops::healthz,
        routes::ops::readyz,
        serve,
    ),
    components(responses(Error, Unavailable)),
    tags(
        (name = "versions", description = "API version discovery"),
        (name = "images", description = "Images and their metadata (SPEC 4-7)"),
        (name = "image data", description = "Upload, download, staging and import (SPEC 8-9)"),
        (name = "members", description = "Image sharing (SPEC 7)"),
        (name = "tasks", description = "The tasks API (SPEC 3)"),
        (name = "discovery", description = "Schemas and service information"),
        (name = "operations", description = "Metrics, liveness, readiness and this document; no identity"),
    )
)]
struct ApiDoc;

/// The document, built once: utoipa's operations with the schemas spliced in.
static DOCUMENT: LazyLock<Result<Value, String>> = LazyLock::new(|| {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).map_err(|e| format!("openapi: {e}"))?;
    let components = document
        .get_mut("components")
        .and_then(Value::as_object_mut)
        .ok_or("openapi: the document has no components")?;
    components.insert("schemas".to_owned(), Value::Object(schemas::all()?));
    if let Some(Value::Object(paths)) = document.get_mut("paths") {
        paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
            .filter_map(Value::as_object_mut)
            .for_each(normalise);
    }
    Ok(document)
});

/// Corrects what utoipa's attributes cannot say about an operation: every request body
/// the gateway reads is required (an empty one is 400, or 415 for data without its
/// Content-Type), and optional parameters are not nullable (see [`not_nullable`]).
fn normalise(operation: &mut Map<String, Value>) {
    if let Some(Value::Object(body)) = operation.get_mut("requestBody") {
        body.insert("required".to_owned(), Value::Bool(true));
    }
    if let Some(Value::Array(parameters)) = operation.get_mut("parameters") {
        parameters.iter_mut().for_each(not_nullable);
    }
}

/// utoipa types an optional parameter (`Option<T>`) as `[T, "null"]`; a query or header
/// value is never JSON null, and a generator would send it as a literal, so the optional
/// parameter keeps only its type (`required: false` says it may be left out).
fn not_nullable(parameter: &mut Value) {
    let Some(Value::Array(types)) = parameter.pointer_mut("/schema/type") else {
        return;
    };
    types.retain(|t| t != "null");
    if let [only] = types.as_slice() {
        let only = only.clone();
        parameter["schema"]["type"] = only;
    }
}

/// The OpenAPI document as served. A build defect (it cannot be serialised, a Glance
/// schema file does not parse) is an error, answered as a 500.
pub fn document() -> Result<&'static Value, String> {
    DOCUMENT.as_ref().map_err(Clone::clone)
}

/// The document as the snapshot file holds it: pretty-printed, with a final newline.
pub fn pretty() -> Result<String, String> {
    let document = document()?;
    serde_json::to_string_pretty(document)
        .map(|text| text + "\n")
        .map_err(|e| format!("openapi: {e}"))
}

/// The route serving the document; like the operations routes it needs no identity.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(serve))
}

/// `GET /openapi.json`: this document.
#[utoipa::path(
    get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object),
        Internal,
    )
)]
pub async fn serve() -> Response {
    match pretty() {
        Ok(text) => ([(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(cause) => ApiError::internal(cause).into_response(),
    }
}
