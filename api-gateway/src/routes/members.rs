//! `/v2/images/{id}/members` (SPEC 4 and 7): reads come from Postgres; adding, answering
//! and removing are commands. As in Glance, the owning project and admins see every
//! member, and a member project sees only its own entry; only `shared` images have
//! members, so listing those of another image is a 403 (as Glance). The domain refuses
//! members of images that are not `shared` (403), duplicates (409), changes by anyone
//! but the owner (403) and status answers by anyone but the member itself (403).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use domain::command::{MemberRef, UpdateMember};
use domain::image::Member;
use domain::status::{MemberStatus, Visibility};
use domain::{Actor, Command, Image};
use serde_json::{Value, json};

use super::common::{execute_for_no_content, image_id, json_object, kind_of, visible_image};
use crate::command::{RequestContext, execute_for_image};
use crate::error::ApiError;
use crate::identity::Caller;
use crate::openapi::{CommandErrors, Forbidden, ImagePath, ReadErrors, TooLarge};
use crate::state::AppState;
use crate::view;

/// Whether `actor` sees every member of `image` (the owning project and admins), rather
/// than only its own entry.
fn sees_all_members(image: &Image, actor: &Actor) -> bool {
    actor.is_admin() || (image.owner == actor.project_id && actor.is_reader())
}

/// The members of `image` that `actor` may see.
fn visible_members<'a>(image: &'a Image, actor: &'a Actor) -> impl Iterator<Item = &'a Member> {
    let all = sees_all_members(image, actor);
    image
        .members
        .iter()
        .filter(move |m| all || m.member_id == actor.project_id)
}

fn member_not_found(image: &Image, member: &str) -> ApiError {
    ApiError::not_found(format!(
        "Project {member} is not a member of image {}.",
        image.id
    ))
}

/// The member entry in the image a command returned, as the view shows it.
fn member_after(image: Image, member: &str) -> Result<Json<Value>, ApiError> {
    let entry = image
        .member(member)
        .ok_or_else(|| ApiError::internal("a member command returned no member entry"))?;
    Ok(Json(view::member(&image, entry)))
}

/// A required string field of a JSON object body; 400 when absent, empty or not a string.
fn required_text(body: &Bytes, field: &str) -> Result<String, ApiError> {
    let object = json_object(body)?;
    match object.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        Some(Value::String(_)) => Err(ApiError::bad_request(format!("'{field}' can't be empty."))),
        Some(other) => Err(ApiError::bad_request(format!(
            "'{field}' must be a string, not {}.",
            kind_of(other)
        ))),
        None => Err(ApiError::bad_request(format!(
            "The request body needs '{field}'."
        ))),
    }
}

/// `GET /v2/images/{id}/members`: 200 `{members, schema}`; 403 for an image that is not
/// shared.
#[utoipa::path(
    get, path = "/v2/images/{id}/members", operation_id = "listMembers", tag = "members",
    params(ImagePath),
    responses(
        (status = 200, description = "The members the caller may see", body = ref("#/components/schemas/MemberList")),
        ReadErrors, Forbidden,
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    if image.visibility != Visibility::Shared {
        return Err(ApiError::forbidden(format!(
            "Only shared images have members; image {} is {}.",
            image.id, image.visibility
        )));
    }
    let members: Vec<Value> = visible_members(&image, &actor)
        .map(|m| view::member(&image, m))
        .collect();
    Ok(Json(
        json!({ "members": members, "schema": "/v2/schemas/members" }),
    ))
}

/// `GET /v2/images/{id}/members/{member}`: 200 with the member; 404 for a project that
/// is not a member, or one the caller may not see.
#[utoipa::path(
    get, path = "/v2/images/{id}/members/{member}", operation_id = "showMember", tag = "members",
    params(ImagePath, ("member" = String, Path, description = "The member project")),
    responses(
        (status = 200, description = "The member", body = ref("#/components/schemas/Member")),
        ReadErrors,
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Caller(actor): Caller,
    Path((id, member)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let image = visible_image(&state, &actor, image_id(&id)?).await?;
    let entry = visible_members(&image, &actor)
        .find(|m| m.member_id == member)
        .ok_or_else(|| member_not_found(&image, &member))?;
    Ok(Json(view::member(&image, entry)))
}

/// `POST /v2/images/{id}/members` `{"member": "<project>"}`: 200 with the new member,
/// pending.
#[utoipa::path(
    post, path = "/v2/images/{id}/members", operation_id = "createMember", tag = "members",
    params(ImagePath),
    request_body(content = ref("#/components/schemas/MemberCreate"), content_type = "application/json"),
    responses(
        (status = 200, description = "The new member, pending", body = ref("#/components/schemas/Member")),
        CommandErrors, TooLarge,
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let image_id = image_id(&id)?;
    let member_id = required_text(&body, "member")?;
    let command = Command::AddMember(MemberRef {
        image_id,
        member_id: member_id.clone(),
    });
    let image = execute_for_image(&state, &request, actor, command).await?;
    member_after(image, &member_id)
}

/// `PUT /v2/images/{id}/members/{member}` `{"status": "accepted"}`: 200 with the member.
#[utoipa::path(
    put, path = "/v2/images/{id}/members/{member}", operation_id = "updateMember", tag = "members",
    params(ImagePath, ("member" = String, Path, description = "The member project")),
    request_body(content = ref("#/components/schemas/MemberUpdate"), content_type = "application/json"),
    responses(
        (status = 200, description = "The member with its new status", body = ref("#/components/schemas/Member")),
        CommandErrors, TooLarge,
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((id, member)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let image_id = image_id(&id)?;
    let status: MemberStatus = required_text(&body, "status")?
        .parse()
        .map_err(|e: domain::status::UnknownValue| ApiError::bad_request(e.to_string()))?;
    let command = Command::UpdateMember(UpdateMember {
        image_id,
        member_id: member.clone(),
        status,
    });
    let image = execute_for_image(&state, &request, actor, command).await?;
    member_after(image, &member)
}

/// `DELETE /v2/images/{id}/members/{member}`: 204.
#[utoipa::path(
    delete, path = "/v2/images/{id}/members/{member}", operation_id = "removeMember", tag = "members",
    params(ImagePath, ("member" = String, Path, description = "The member project")),
    responses(
        (status = 204, description = "The member is gone"),
        CommandErrors,
    )
)]
pub async fn remove(
    State(state): State<AppState>,
    Caller(actor): Caller,
    request: RequestContext,
    Path((id, member)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let command = Command::RemoveMember(MemberRef {
        image_id: image_id(&id)?,
        member_id: member,
    });
    execute_for_no_content(&state, &request, actor, command).await
}
