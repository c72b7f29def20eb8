//! `/v2/images` and `/v2/images/{id}`: list, create, show, JSON-patch and delete (SPEC 4-7).
//! Reads go straight to Postgres; create, patch and delete are commands answered by the
//! workers, and the answer shows the image the command left behind. Image answers carry
//! `ETag: "<version>"` (extension) for `If-Match` on later writes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use shared::db::image_list::{ImageListQuery, list_images};

use super::common::read_connection;
use shared::domain::command::{ImageRef, UpdateImage};
use shared::domain::{Command, Image};

use super::common::{image_id, json_object, no_content, visible_image};
use super::{image_create, image_patch, location_patch};
use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::state::AppState;

/// The import methods a single-store service offers (copy-image needs several stores).
const IMPORT_METHODS: &str = "glance-direct,web-download";

/// `GET /v2/images`: one page of the images the caller may list, with Glance's links.
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default();
    let query = ImageListQuery::from_pairs(&pairs)?;
    let mut conn = read_connection(&state).await?;
    let page = list_images(&mut conn, &actor, &query).await?;
    let show_locations = state.settings.show_multiple_locations;
    let images: Vec<Value> = page
        .images
        .iter()
        .map(|image| crate::view::image(image, show_locations))
        .collect();
    // As in Glance, `first` and `next` repeat every parameter but the marker: `first`
    // without one, `next` after the last image of this page.
    let kept: Vec<&(String, String)> = pairs.iter().filter(|(key, _)| key != "marker").collect();
    let encode = |marker: Option<String>| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(marker) = &marker {
            query.append_pair("marker", marker);
        }
        query.extend_pairs(kept.iter().copied());
        match query.finish() {
            query if query.is_empty() => "/v2/images".to_owned(),
            query => format!("/v2/images?{query}"),
        }
    };
    let mut body = json!({
        "images": images,
        "first": encode(None),
        "schema": "/v2/schemas/images",
    });
    if let Some(marker) = page.next_marker() {
        body["next"] = Value::String(encode(Some(marker.to_string())));
    }
    Ok(Json(body))
}

/// `POST /v2/images`: 201 with the queued image, `Location` and the import methods.
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Glance reads the body as JSON whatever its Content-Type (text/plain included).
    let body = body.map_err(body_rejection)?;
    let command = image_create::parse(json_object(&body)?, &actor)?;
    let result = execute(&state, &request, actor, Command::CreateImage(command)).await?;
    let image = answered_image(result.image)?;
    let mut response = image_response(&state, StatusCode::CREATED, &image);
    let headers = response.headers_mut();
    // The answered image, not the command's id: a replayed `Idempotency-Key` answers
    // with the image the first request created.
    if let Ok(location) = HeaderValue::from_str(&format!("/v2/images/{}", image.id)) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(
        HeaderName::from_static("openstack-image-import-methods"),
        HeaderValue::from_static(IMPORT_METHODS),
    );
    Ok(response)
}

/// `GET /v2/images/{id}`: 200, or 404 when not a UUID, hidden or deleted.
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let image = visible_image(&state, &actor, image_id(&raw)?).await?;
    Ok(image_response(&state, StatusCode::OK, &image))
}

/// `PATCH /v2/images/{id}`: one `update_image` command with every operation, all applied
/// or none; 200 with the image it left.
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // A hidden image answers 404 whatever else is wrong with the request, so a bad
    // request never reveals that it exists.
    let image = visible_image(&state, &actor, image_id(&raw)?).await?;
    let image_id = image.id;
    let dialect = image_patch::dialect(&headers)?;
    let body = body.map_err(body_rejection)?;
    if state.settings.show_multiple_locations
        && let Some(change) = location_patch::location_change(&body, dialect)?
    {
        let image = location_patch::apply(&state, &request, actor, image, change).await?;
        return Ok(image_response(&state, StatusCode::OK, &image));
    }
    let operations = image_patch::operations(&body, dialect)?;
    let expected_version = image_patch::expected_version(&headers)?;
    // An empty list still goes through the domain: it is a no-op for those allowed to
    // patch, and the same 403 or 412 as any patch for the others.
    let command = Command::UpdateImage(UpdateImage {
        image_id,
        operations,
        expected_version,
    });
    let result = execute(&state, &request, actor, command).await?;
    let image = answered_image(result.image)?;
    Ok(image_response(&state, StatusCode::OK, &image))
}

/// `DELETE /v2/images/{id}`: 204; protected 403 and not visible 404 come from the domain.
/// `If-Match` is honoured as on PATCH.
pub async fn delete(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let image_id = image_id(&raw)?;
    let expected_version = image_patch::expected_version(&headers)?;
    let command = Command::DeleteImage(ImageRef {
        image_id,
        expected_version,
    });
    execute(&state, &request, actor, command).await?;
    Ok(no_content())
}

/// An image as JSON with its `ETag`.
fn image_response(state: &AppState, status: StatusCode, image: &Image) -> Response {
    let body = crate::view::image(image, state.settings.show_multiple_locations);
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", image.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// The image a command about an image must answer with.
fn answered_image(image: Option<Image>) -> Result<Image, ApiError> {
    image.ok_or_else(|| ApiError::internal("an image command was answered without the image"))
}

/// A body that could not be read (too large, broken stream), in Glance's error shape.
fn body_rejection(rejection: BytesRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}
