//! `/v2/tasks`: `create_task` (the tasks API), and the steps a worker takes:
//! `start_task`, `succeed_task`, `fail_task` and `expire_task`. Also the two task steps
//! an image import shares: a new pending task ([`new_task`]) and its end ([`finish_task`]).

use super::Decision;
use crate::command::{CreateTask, FailTask, SucceedTask, TaskRef};
use crate::context::Context;
use crate::event::{Event, TaskChanged, TaskEventKind};
use crate::ids::{ImageId, TaskId};
use crate::rejection::Rejection;
use crate::status::{TaskStatus, TaskType};
use crate::task::Task;
use crate::transitions::{Step, TaskAction, task_step};
use crate::{policy, validate};

/// The task a worker's step is about: only the service takes these steps, and the task
/// must exist and not be expired.
fn service_task<'a>(task: Option<&'a Task>, ctx: &Context) -> Result<&'a Task, Rejection> {
    policy::require_service(&ctx.actor)?;
    task.filter(|t| !t.deleted)
        .ok_or_else(|| Rejection::not_found("No task found with this id."))
}

/// The task at its next version, moved or kept per the table.
fn advanced(task: &Task, action: TaskAction, ctx: &Context) -> Result<Task, Rejection> {
    let mut next = task.clone();
    match task_step(action, task.status) {
        Step::Move(to) => next.status = to,
        Step::Stay => {}
        Step::Refuse(kind, message) => return Err(Rejection::new(kind, message)),
    }
    next.version += 1;
    next.updated_at = ctx.now;
    Ok(next)
}

fn task_event(kind: TaskEventKind, before: &Task, after: Task) -> Event {
    Event::Task(TaskChanged {
        kind,
        from_status: Some(before.status),
        task: after,
    })
}

/// Ends a task in success or failure: it expires `task_time_to_live` from now.
pub(super) fn finish_task(
    task: &Task,
    action: TaskAction,
    ctx: &Context,
    record: impl FnOnce(&mut Task),
) -> Result<Event, Rejection> {
    let mut next = advanced(task, action, ctx)?;
    next.expires_at = Some(ctx.now + ctx.config.task_time_to_live);
    record(&mut next);
    // A failure must always land, or the task (and its image) stays in flight: a NUL
    // that came with a remote error is replaced rather than refused by Postgres.
    next.message = next.message.replace('\0', "\u{FFFD}");
    let kind = match next.status {
        TaskStatus::Success => TaskEventKind::Succeeded,
        _ => TaskEventKind::Failed,
    };
    Ok(task_event(kind, task, next))
}

pub(super) fn create_task(existing: Option<&Task>, c: &CreateTask, ctx: &Context) -> Decision {
    if c.task_type == TaskType::Import {
        policy::require_admin(&ctx.actor, "use the tasks API")?;
    }
    let input = c
        .input
        .as_object()
        .ok_or_else(|| Rejection::bad_request("Task input must be an object."))?;
    validate::storable_json("Task input", &c.input)?;
    validate::storable("A request id", c.request_id.as_deref().unwrap_or_default())?;
    let (image_id, owner) = match c.task_type {
        TaskType::Import => {
            check_import_input(input)?;
            (None, ctx.actor.project_id.clone())
        }
        TaskType::LocationImport => {
            let (image_id, owner) = check_location_input(input, ctx)?;
            (Some(image_id), owner)
        }
        TaskType::ApiImageImport => {
            return Err(Rejection::bad_request(format!(
                "Invalid type value: {}. The tasks API creates 'import' tasks; use POST /v2/images/{{id}}/import for interoperable imports.",
                c.task_type
            )));
        }
    };
    if existing.is_some() {
        return Err(Rejection::conflict(format!(
            "A task with id {} already exists.",
            c.task_id
        )));
    }
    Ok(vec![new_task(
        c.task_id,
        c.task_type,
        c.input.clone(),
        owner,
        image_id,
        c.request_id.clone(),
        ctx,
    )])
}

/// A pending task at version 1, created now by the context's actor, as its event.
pub(super) fn new_task(
    id: TaskId,
    task_type: TaskType,
    input: serde_json::Value,
    owner: String,
    image_id: Option<ImageId>,
    request_id: Option<String>,
    ctx: &Context,
) -> Event {
    let task = Task {
        id,
        version: 1,
        task_type,
        status: TaskStatus::Pending,
        input,
        result: None,
        message: String::new(),
        owner,
        image_id,
        request_id,
        user_id: Some(ctx.actor.user_id.clone()),
        expires_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
        deleted: false,
        deleted_at: None,
    };
    Event::Task(TaskChanged {
        kind: TaskEventKind::Created,
        from_status: None,
        task,
    })
}

/// A location import names its image, the image's owner and the URL. Only the service
/// creates one (the gateway, after checking that the caller may change the image): the
/// tasks API must not let anyone point another project's image at their own data. The
/// location is added only if the image is still queued once its data is hashed.
fn check_location_input(
    input: &serde_json::Map<String, serde_json::Value>,
    ctx: &Context,
) -> Result<(ImageId, String), Rejection> {
    if !ctx.actor.is_service() {
        return Err(Rejection::forbidden(
            "Location imports are started by POST /v2/images/{id}/locations.",
        ));
    }
    let owner = input
        .get("owner")
        .and_then(|v| v.as_str())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| Rejection::bad_request("A location import needs the image's 'owner'."))?;
    if input
        .get("url")
        .and_then(|v| v.as_str())
        .is_none_or(str::is_empty)
    {
        return Err(Rejection::bad_request("A location import needs a 'url'."));
    }
    let image_id = input
        .get("image_id")
        .and_then(|v| v.as_str())
        .and_then(|id| ImageId::parse(id).ok())
        .ok_or_else(|| Rejection::bad_request("A location import needs an 'image_id'."))?;
    Ok((image_id, owner.to_owned()))
}

/// The tasks API's `import` input: `{import_from, import_from_format, image_properties}`.
fn check_import_input(input: &serde_json::Map<String, serde_json::Value>) -> Result<(), Rejection> {
    for field in ["import_from", "import_from_format"] {
        let given = input
            .get(field)
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        if given.is_empty() {
            return Err(Rejection::bad_request(format!(
                "Task input needs a string '{field}'."
            )));
        }
    }
    if !input.get("image_properties").is_some_and(|v| v.is_object()) {
        return Err(Rejection::bad_request(
            "Task input needs an object 'image_properties'.",
        ));
    }
    Ok(())
}

pub(super) fn start_task(task: Option<&Task>, _c: &TaskRef, ctx: &Context) -> Decision {
    let task = service_task(task, ctx)?;
    let next = advanced(task, TaskAction::Start, ctx)?;
    Ok(vec![task_event(TaskEventKind::Started, task, next)])
}

/// An image's import task ends only together with its image (complete_import or
/// fail_import): ending it alone would leave the image importing for good.
fn standalone(task: &Task) -> Result<(), Rejection> {
    if task.task_type == TaskType::ApiImageImport {
        return Err(Rejection::conflict(format!(
            "Task {} is an image import: it ends with complete_import or fail_import, which also move its image.",
            task.id
        )));
    }
    Ok(())
}

pub(super) fn succeed_task(task: Option<&Task>, c: &SucceedTask, ctx: &Context) -> Decision {
    let task = service_task(task, ctx)?;
    standalone(task)?;
    validate::storable_json("A task result", &c.result)?;
    Ok(vec![finish_task(task, TaskAction::Succeed, ctx, |t| {
        t.result = Some(c.result.clone())
    })?])
}

pub(super) fn fail_task(task: Option<&Task>, c: &FailTask, ctx: &Context) -> Decision {
    let task = service_task(task, ctx)?;
    standalone(task)?;
    Ok(vec![finish_task(task, TaskAction::Fail, ctx, |t| {
        t.message = c.message.clone()
    })?])
}

pub(super) fn expire_task(task: Option<&Task>, _c: &TaskRef, ctx: &Context) -> Decision {
    let task = service_task(task, ctx)?;
    let mut next = advanced(task, TaskAction::Expire, ctx)?;
    if task.expires_at.is_none_or(|at| at > ctx.now) {
        return Err(Rejection::conflict(format!(
            "Task {} has not expired yet.",
            task.id
        )));
    }
    next.deleted = true;
    next.deleted_at = Some(ctx.now);
    Ok(vec![task_event(TaskEventKind::Expired, task, next)])
}
