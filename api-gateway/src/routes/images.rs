//! `/v2/images` and `/v2/images/{id}`: list, create, show, JSON-patch and delete (SPEC 4-7).
//! Reads go straight to Postgres; create, patch and delete are commands answered by the
//! workers, and the answer shows the image the command left behind. Image answers carry
//! `ETag: "<version>"` (extension) for `If-Match` on later writes.

use crate::list_query::parse_image_list;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use db::image_list::list_images;
use serde_json::{Value, json};

use super::common::read_connection;
use domain::command::{ImageRef, UpdateImage};
use domain::{Command, Image};

use super::common::{
    execute_for_no_content, image_id, json_object, list_link, query_pairs, visible_image,
};
use super::import_stores::import_methods;
use super::{image_create, image_patch, location_patch};
use crate::command::{RequestContext, execute_for_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{
    CommandErrors, CreateErrors, ImagePath, ListErrors, PreconditionFailed, ReadErrors, TooLarge,
    UnsupportedMediaType,
};
use crate::origin::Origin;
use crate::state::AppState;

/// `GET /v2/images`: one page of the images the caller may list, with Glance's links.
#[utoipa::path(
    get, path = "/v2/images", operation_id = "listImages", tag = "images",
    description = "Any other parameter filters on an extra property (`key=value`).",
    params(
        ("limit" = Option<u32>, Query, description = "Page size (default 25, capped at 1000; 0 gives an empty page)"),
        ("marker" = Option<uuid::Uuid>, Query, description = "Id of the last image seen (400 when not visible)"),
        ("sort" = Option<String>, Query, pattern = "^(name|status|container_format|disk_format|size|id|created_at|updated_at|visibility|owner|min_disk|min_ram|virtual_size|protected|os_hidden)(:(asc|desc))?(,(name|status|container_format|disk_format|size|id|created_at|updated_at|visibility|owner|min_disk|min_ram|virtual_size|protected|os_hidden)(:(asc|desc))?)*$", description = "`key[:asc|desc],...` (not with sort_key)"),
        ("sort_key" = Option<String>, Query, pattern = "^(name|status|container_format|disk_format|size|id|created_at|updated_at|visibility|owner|min_disk|min_ram|virtual_size|protected|os_hidden)$", description = "Repeatable"),
        ("sort_dir" = Option<String>, Query, pattern = "^(asc|desc)$", description = "One, or one per sort_key"),
        ("name" = Option<String>, Query),
        ("status" = Option<String>, Query, description = "An unknown status matches nothing"),
        ("visibility" = Option<String>, Query, pattern = "^(public|private|shared|community|all)$"),
        ("owner" = Option<String>, Query),
        ("member_status" = Option<String>, Query, pattern = "^(pending|accepted|rejected|all)$"),
        ("tag" = Option<String>, Query, description = "Repeatable: every tag must match"),
        ("size_min" = Option<i64>, Query, minimum = 0),
        ("size_max" = Option<i64>, Query, minimum = 0),
        ("protected" = Option<bool>, Query),
        ("os_hidden" = Option<bool>, Query, description = "Without it, hidden images are not listed"),
        ("disk_format" = Option<String>, Query),
        ("container_format" = Option<String>, Query),
        ("checksum" = Option<String>, Query),
        ("os_hash_value" = Option<String>, Query),
        ("id" = Option<String>, Query, pattern = "^(in:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(,[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})*$", description = "`in:<uuid>,<uuid>`"),
        ("created_at" = Option<String>, Query, pattern = "^((gt|gte|lt|lte|eq|neq):)?[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$", description = "`[gt|gte|lt|lte|eq|neq:]<ISO 8601 time>`"),
        ("updated_at" = Option<String>, Query, pattern = "^((gt|gte|lt|lte|eq|neq):)?[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z$", description = "As created_at"),
    ),
    responses(
        (status = 200, description = "One page of images", body = ref("#/components/schemas/ImageList")),
        ListErrors,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let pairs = query_pairs(raw.as_deref());
    let query = parse_image_list(&pairs)?;
    let mut conn = read_connection(&state).await?;
    let page = list_images(&mut conn, &actor, &query).await?;
    let show_locations = state.settings.show_multiple_locations;
    let images: Vec<Value> = page
        .images
        .iter()
        .map(|image| crate::view::image(image, show_locations, &state.stores))
        .collect();
    // As in Glance, `first` and `next` repeat every parameter but the marker: `first`
    // without one, `next` with the last image of this page first.
    let kept: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(key, _)| key != "marker")
        .collect();
    let mut body = json!({
        "images": images,
        "first": list_link("/v2/images", &kept),
        "schema": "/v2/schemas/images",
    });
    if let Some(marker) = page.next_marker() {
        let mut next = vec![("marker".to_owned(), marker.to_string())];
        next.extend(kept);
        body["next"] = Value::String(list_link("/v2/images", &next));
    }
    Ok(Json(body))
}

/// `POST /v2/images`: 201 with the queued image, `Location`, the import methods and,
/// with named stores, their ids.
#[utoipa::path(
    post, path = "/v2/images", operation_id = "createImage", tag = "images",
    request_body(content = ref("#/components/schemas/ImageCreate"), content_type = "application/json",
        description = "Read as JSON whatever its Content-Type"),
    responses(
        (status = 201, description = "The queued image", body = ref("#/components/schemas/Image"),
            headers(("Location" = String), ("OpenStack-image-import-methods" = String), ("OpenStack-image-store-ids" = String, description = "With named stores only"), ("ETag" = String))),
        CreateErrors,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    origin: Origin,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    // Glance reads the body as JSON whatever its Content-Type (text/plain included).
    let body = body.map_err(body_rejection)?;
    let command = image_create::parse(json_object(&body)?, &actor)?;
    let image = execute_for_image(&state, &request, actor, Command::CreateImage(command)).await?;
    let mut response = image_response(&state, StatusCode::CREATED, &image);
    let headers = response.headers_mut();
    // The answered image, not the command's id: a replayed `Idempotency-Key` answers
    // with the image the first request created. Absolute, as WebOb makes it.
    let location = origin.absolute(&format!("/v2/images/{}", image.id));
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    let methods = import_methods(&state.stores).join(",");
    if let Ok(methods) = HeaderValue::from_str(&methods) {
        headers.insert(
            HeaderName::from_static("openstack-image-import-methods"),
            methods,
        );
    }
    // With named stores Glance also names them, in configured order.
    if state.stores.is_multi()
        && let Ok(ids) = HeaderValue::from_str(&state.stores.ids().join(","))
    {
        headers.insert(HeaderName::from_static("openstack-image-store-ids"), ids);
    }
    Ok(response)
}

/// `GET /v2/images/{id}`: 200, or 404 when not a UUID, hidden or deleted.
#[utoipa::path(
    get, path = "/v2/images/{id}", operation_id = "showImage", tag = "images",
    params(ImagePath),
    responses(
        (status = 200, description = "The image", body = ref("#/components/schemas/Image"),
            headers(("ETag" = String, description = "The image's version, for If-Match"))),
        ReadErrors,
    )
)]
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
#[utoipa::path(
    patch, path = "/v2/images/{id}", operation_id = "updateImage", tag = "images",
    params(
        ImagePath,
        ("If-Match" = Option<String>, Header, pattern = "^([*]|[0-9]{1,18}|\"[0-9]{1,18}\")$", description = "`\"<version>\"` or `*`: 412 when the image has moved on"),
    ),
    request_body(content(
        (ref("#/components/schemas/ImagePatch") = "application/openstack-images-v2.1-json-patch"),
        (ref("#/components/schemas/ImagePatchDraft04") = "application/openstack-images-v2.0-json-patch"),
    )),
    responses(
        (status = 200, description = "The image after the patch", body = ref("#/components/schemas/Image"),
            headers(("ETag" = String))),
        CommandErrors, PreconditionFailed, TooLarge, UnsupportedMediaType,
    )
)]
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
    let image = execute_for_image(&state, &request, actor, command).await?;
    Ok(image_response(&state, StatusCode::OK, &image))
}

/// `DELETE /v2/images/{id}`: 204; protected 403 and not visible 404 come from the domain.
/// `If-Match` is honoured as on PATCH.
#[utoipa::path(
    delete, path = "/v2/images/{id}", operation_id = "deleteImage", tag = "images",
    params(
        ImagePath,
        ("If-Match" = Option<String>, Header, pattern = "^([*]|[0-9]{1,18}|\"[0-9]{1,18}\")$", description = "As on PATCH"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        CommandErrors, PreconditionFailed,
    )
)]
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
    execute_for_no_content(&state, &request, actor, command).await
}

/// An image as JSON with its `ETag`.
fn image_response(state: &AppState, status: StatusCode, image: &Image) -> Response {
    let body = crate::view::image(image, state.settings.show_multiple_locations, &state.stores);
    let mut response = (status, Json(body)).into_response();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", image.version)) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// A body that could not be read (too large, broken stream), in Glance's error shape.
fn body_rejection(rejection: BytesRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}
