//! What several endpoint groups share: path ids, query pairs and list links, loading an image the
//! caller may see, reading JSON bodies with Glance's 400s, and Glance's empty 204 (also
//! as the answer to an accepted command).

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use db::document;
use db::pool::PgPooled;
use domain::{Actor, Command, Image, ImageId, TaskId, policy};
use serde_json::Value;

use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::state::AppState;

/// An image id from the path; anything but a UUID is an image that does not exist (404).
pub fn image_id(raw: &str) -> Result<ImageId, ApiError> {
    ImageId::parse(raw).map_err(|_| ApiError::not_found(format!("No image found with ID {raw}")))
}

/// A task id from the path; 404 when it is not a UUID.
pub fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).map_err(|_| ApiError::not_found(format!("No task found with ID {raw}")))
}

/// The query string's pairs, decoded, in order (an absent query has none).
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|query| {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    })
    .unwrap_or_default()
}

/// `path` with these query pairs, or bare without any: the `first` and `next` links of
/// Glance's lists.
pub fn list_link(path: &str, pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("{path}?{query}")
}

/// A connection of the read pool; 503 when none can be had.
pub async fn read_connection(state: &AppState) -> Result<PgPooled, ApiError> {
    state
        .reads
        .get()
        .await
        .map_err(|e| ApiError::unavailable(format!("The database is unavailable: {e}")))
}

/// The image if it exists and `actor` may see it; 404 otherwise. One query.
pub async fn visible_image(
    state: &AppState,
    actor: &Actor,
    id: ImageId,
) -> Result<Image, ApiError> {
    let mut conn = read_connection(state).await?;
    let image = document::image_by_id(&mut conn, id.as_uuid())
        .await
        .map_err(ApiError::internal)?;
    match image {
        Some(image) if policy::can_see_image(&image, actor) => Ok(image),
        _ => Err(ApiError::not_found(format!("No image found with ID {id}"))),
    }
}

/// A JSON object body; malformed JSON, a non-object and an empty body are 400 (a JSON
/// array is a 400 here, where Glance answers 500).
pub fn json_object(body: &Bytes) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "The request body is empty: send a JSON object.",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(ApiError::bad_request(format!(
            "The request body must be a JSON object, not {}.",
            kind_of(&other)
        ))),
        Err(error) => Err(ApiError::bad_request(format!(
            "Malformed JSON in request body: {error}"
        ))),
    }
}

/// The JSON type name of a value, for error messages.
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Glance's 204: an empty body typed `text/html; charset=UTF-8` (clients ignore it; the
/// fidelity costs nothing).
pub fn no_content() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
    )
        .into_response()
}

/// Sends `command` and answers Glance's 204 once a worker accepted it (also when it
/// changed nothing).
pub async fn execute_for_no_content(
    state: &AppState,
    request: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<Response, ApiError> {
    execute(state, request, actor, command).await?;
    Ok(no_content())
}
