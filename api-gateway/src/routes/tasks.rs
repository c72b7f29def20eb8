//! The tasks API (SPEC 3): `GET /v2/tasks` (one page, Glance's `first`/`next` links),
//! `POST /v2/tasks` (a command; the domain lets only admins create tasks), `GET
//! /v2/tasks/{id}`, and `GET /v2/images/{id}/tasks` (an image's import tasks). The
//! tasks API is admin-only, as Glance's default policy (`get_tasks`, `get_task`: admin):
//! others get 403. An image's tasks are shown to whoever may see the task
//! (`policy::can_see_task`: admins and the owning project). `DELETE /v2/tasks/{id}` is a 405 because
//! only GET is routed there (tasks expire on their own, as in Glance).

use super::common::read_connection;
use crate::list_query::parse_task_list;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use db::document;
use db::task_list::{image_tasks, list_tasks};
use domain::status::TaskType;
use domain::{Command, Task, policy};
use serde_json::{Value, json};

use super::common::{
    image_id, json_object, kind_of, list_link, query_pairs, task_id, visible_image,
};
use crate::command::{RequestContext, execute};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CreateErrors, Forbidden, ImagePath, ListErrors, ReadErrors};
use crate::origin::Origin;
use crate::state::AppState;
use crate::view;

/// A task as lists show it: without `input` (it may hold credentials), `result` and
/// `message`, as Glance's partial task schema has it.
fn summary(task: &Task) -> Value {
    let mut body = view::task(task);
    if let Value::Object(fields) = &mut body {
        for hidden in ["input", "result", "message"] {
            fields.remove(hidden);
        }
    }
    body
}

/// `GET /v2/tasks`: 200 `{tasks, first, schema, next?}`; 400 for a bad filter, sort,
/// limit or marker. `first` keeps the query but the marker; `next` replaces the marker.
#[utoipa::path(
    get, path = "/v2/tasks", operation_id = "listTasks", tag = "tasks",
    description = "Any other parameter is 400.",
    params(
        ("type" = Option<String>, Query, pattern = "^(import|api_image_import|location_import)$"),
        ("status" = Option<String>, Query, pattern = "^(pending|processing|success|failure)$"),
        ("sort_key" = Option<String>, Query, pattern = "^(id|type|status|created_at|updated_at)$"),
        ("sort_dir" = Option<String>, Query, pattern = "^(asc|desc)$"),
        ("limit" = Option<u32>, Query, description = "Page size (default 25, capped at 1000)"),
        ("marker" = Option<uuid::Uuid>, Query, description = "Id of the last task seen"),
    ),
    responses(
        (status = 200, description = "One page of tasks (admins only)", body = ref("#/components/schemas/TaskList")),
        ListErrors, Forbidden,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    policy::require_admin(&actor, "use the tasks API")?;
    let pairs = query_pairs(raw.as_deref());
    let query = parse_task_list(&pairs)?;
    let mut conn = read_connection(&state).await?;
    let page = list_tasks(&mut conn, &actor, &query).await?;
    let mut kept: Vec<(String, String)> =
        pairs.into_iter().filter(|(k, _)| k != "marker").collect();
    let mut body = json!({
        "tasks": page.tasks.iter().map(summary).collect::<Vec<_>>(),
        "first": list_link("/v2/tasks", &kept),
        "schema": "/v2/schemas/tasks",
    });
    if let Some(marker) = page.next_marker() {
        kept.push(("marker".to_owned(), marker.to_string()));
        body["next"] = Value::String(list_link("/v2/tasks", &kept));
    }
    Ok(Json(body))
}

/// The task a `POST /v2/tasks` body asks for: `type` and `input` are required, nothing
/// else is allowed (Glance's schema has no additional properties).
fn create_command(body: &Bytes, request: &RequestContext) -> Result<Command, ApiError> {
    let mut object = json_object(body)?;
    if let Some(extra) = object.keys().find(|k| *k != "type" && *k != "input") {
        return Err(ApiError::bad_request(format!(
            "Attribute '{extra}' is not allowed in a task: send only 'type' and 'input'."
        )));
    }
    let task_type: TaskType = match object.remove("type") {
        Some(Value::String(text)) => text
            .parse()
            .map_err(|e: domain::status::UnknownValue| ApiError::bad_request(e.to_string()))?,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Task 'type' must be a string, not {}.",
                kind_of(&other)
            )));
        }
        None => return Err(ApiError::bad_request("Task 'type' is required.")),
    };
    let input = match object.remove("input") {
        Some(input @ Value::Object(_)) => input,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Task 'input' must be an object, not {}.",
                kind_of(&other)
            )));
        }
        None => return Err(ApiError::bad_request("Task 'input' is required.")),
    };
    Ok(request.create_task(task_type, input))
}

/// `POST /v2/tasks`: 201 with the pending task and its `Location`; 400 for a bad body,
/// 403 for anyone but an admin.
#[utoipa::path(
    post, path = "/v2/tasks", operation_id = "createTask", tag = "tasks",
    request_body(content = ref("#/components/schemas/TaskCreate"), content_type = "application/json"),
    responses(
        (status = 201, description = "The pending task", body = ref("#/components/schemas/Task"),
            headers(("Location" = String))),
        CreateErrors,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    origin: Origin,
    body: Bytes,
) -> Result<Response, ApiError> {
    let command = create_command(&body, &request)?;
    let result = execute(&state, &request, actor, command).await?;
    let task = result
        .task
        .ok_or_else(|| ApiError::internal("create_task returned no task"))?;
    // Absolute, as WebOb makes every `Location`.
    let location = origin.absolute(&format!("/v2/tasks/{}", task.id));
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view::task(&task)),
    )
        .into_response())
}

/// `GET /v2/tasks/{id}`: 200 with the task; 404 when unknown, malformed or not visible.
#[utoipa::path(
    get, path = "/v2/tasks/{id}", operation_id = "showTask", tag = "tasks",
    params(("id" = uuid::Uuid, Path, description = "The task (anything but a UUID is 404)")),
    responses(
        (status = 200, description = "The task", body = ref("#/components/schemas/Task")),
        ReadErrors, Forbidden,
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    policy::require_admin(&actor, "use the tasks API")?;
    let id = task_id(&id)?;
    let mut conn = read_connection(&state).await?;
    let task = document::task_by_id(&mut conn, id.as_uuid())
        .await
        .map_err(ApiError::internal)?
        .filter(|task| policy::can_see_task(task, &actor))
        .ok_or_else(|| ApiError::not_found(format!("No task found with ID {id}")))?;
    Ok(Json(view::task(&task)))
}

/// `GET /v2/images/{id}/tasks`: 200 `{"tasks": [...]}`, newest first, for a caller who
/// sees the image; only the tasks it may see (its own project's, or all for an admin),
/// so a shared member gets an empty list rather than another project's task input.
#[utoipa::path(
    get, path = "/v2/images/{id}/tasks", operation_id = "imageTasks", tag = "tasks",
    params(ImagePath),
    responses(
        (status = 200, description = "The image's tasks the caller may see, newest first", body = ref("#/components/schemas/ImageTasks")),
        ReadErrors,
    )
)]
pub async fn of_image(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    let mut conn = read_connection(&state).await?;
    let tasks = image_tasks(&mut conn, image.id)
        .await
        .map_err(ApiError::internal)?;
    let tasks: Vec<Value> = tasks
        .iter()
        .filter(|task| policy::can_see_task(task, &actor))
        .map(view::task)
        .collect();
    Ok(Json(json!({ "tasks": tasks })))
}
