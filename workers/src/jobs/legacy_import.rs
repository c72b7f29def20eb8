//! The tasks API's `import` task (`POST /v2/tasks`, admins): creates an image from
//! `image_properties` in the task's project and fills it from `import_from` (read
//! behind the import filter, inspected and hashed as it is written), then the task
//! succeeds with `{"image_id": ...}`. On failure the new image goes back to queued
//! without data and the task fails with the reason, as Glance's import task does.

use chrono::Utc;
use domain::command::{Abort, CreateImage, Leased, WithDigest};
use domain::{Actor, Command, ImageId, Task};
use serde_json::{Map, Value, json};
use store::{Area, DataLimits, FormatCheck};
use uuid::Uuid;

use super::steps::{apply, apply_as, finish, start};
use super::{JobContext, JobError, describe};

/// Names the ids of images created by import tasks (one per task, so a rerun finds it).
const IMAGE_NAMESPACE: Uuid = Uuid::from_u128(0x8a4f_0c2e_61b7_4d93_b5a0_7e1c_d2f4_3a68);

/// How long the new image's upload may hold it (the janitor's lease).
const LEASE_HOURS: i64 = 24;

/// Runs a tasks API import to its end.
pub async fn run(task: &Task, ctx: &JobContext) -> Result<(), JobError> {
    start(ctx, task.id).await?;
    // Only admins may create import tasks (SPEC 3), so the job acts as the admin who
    // created it, in the task's project.
    let creator = Actor::new(
        task.owner.clone(),
        task.user_id.clone().unwrap_or_default(),
        &["admin", "member", "reader"],
    );
    let image_id = ImageId::from_uuid(Uuid::new_v5(&IMAGE_NAMESPACE, task.id.as_uuid().as_bytes()));
    let outcome = match create_image(task, image_id) {
        Err(message) => Err(message),
        Ok(create) => match apply_as(ctx, &creator, task.id, "create-image", create).await? {
            Err(rejection) => Err(format!(
                "the image could not be created: {}",
                rejection.message
            )),
            Ok(_) => fill(ctx, task, &creator, image_id).await?,
        },
    };
    finish(ctx, task.id, outcome.map(|()| image_id)).await
}

/// The create command from `image_properties`: core attributes as Glance reads them,
/// other string values as extra properties; `import_from_format` is the disk format
/// unless the properties name one, and `bare` the default container.
fn create_image(task: &Task, image_id: ImageId) -> Result<Command, String> {
    let mut properties: Map<String, Value> = task.input["image_properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    if !properties.contains_key("disk_format") {
        properties.insert(
            "disk_format".into(),
            task.input["import_from_format"].clone(),
        );
    }
    properties
        .entry("container_format")
        .or_insert_with(|| json!("bare"));
    const CORE: [&str; 10] = [
        "name",
        "visibility",
        "protected",
        "os_hidden",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "tags",
        "owner",
    ];
    let mut fields = Map::new();
    let mut extra = Map::new();
    for (key, value) in properties {
        if CORE.contains(&key.as_str()) {
            fields.insert(key, value);
        } else {
            extra.insert(key, value);
        }
    }
    fields.insert("image_id".into(), json!(image_id));
    fields.insert("properties".into(), Value::Object(extra));
    serde_json::from_value::<CreateImage>(Value::Object(fields))
        .map(Command::CreateImage)
        .map_err(|e| format!("invalid image_properties: {e}"))
}

/// Uploads `import_from` into the new image: the outcome the task reports.
async fn fill(
    ctx: &JobContext,
    task: &Task,
    creator: &Actor,
    image_id: ImageId,
) -> Result<Result<(), String>, JobError> {
    let begin = Command::BeginUpload(Leased {
        image_id,
        lease_expires_at: Utc::now() + chrono::Duration::hours(LEASE_HOURS),
    });
    let image = match apply_as(ctx, creator, task.id, "begin-upload", begin).await? {
        Ok(applied) => applied.result.image,
        Err(rejection) => {
            return Ok(Err(format!(
                "the upload could not start: {}",
                rejection.message
            )));
        }
    };
    let Some(image) = image else {
        return Err(JobError::Permanent(format!("image {image_id} vanished")));
    };
    let url = task.input["import_from"].as_str().unwrap_or_default();
    let limits = DataLimits {
        max_bytes: ctx.image_size_cap,
    };
    // The tasks API names no store: the data goes to the default one.
    let target = ctx.stores.default_store();
    let written = match ctx.fetcher.open(url).await {
        Err(e) => Err(Ok(format!("reading {} failed: {e}", super::shown_url(url)))),
        Ok(body) => target
            .store
            .write(
                Area::Images,
                image_id,
                body,
                limits,
                FormatCheck::for_image(&image),
            )
            .await
            .map_err(describe),
    };
    match written {
        Ok(written) => {
            let complete = Command::CompleteUpload(WithDigest {
                image_id,
                digest: written.digest,
                store: ctx.stores.is_multi().then(|| target.id.clone()),
            });
            match apply(ctx, task.id, "complete-upload", complete).await? {
                Ok(_) => Ok(Ok(())),
                // The image this task created moved on (deleted, or its lease given
                // back); what is under its key is removed with it or overwritten.
                Err(rejection) => Ok(Err(rejection.message)),
            }
        }
        Err(Err(transient)) => Err(transient),
        Err(Ok(message)) => {
            let abort = Command::AbortUpload(Abort {
                image_id,
                reason: message.clone(),
                data_removed: true,
            });
            // As for the interoperable import: give back, then remove only what this
            // run gave back.
            if let Ok(applied) = apply(ctx, task.id, "abort-upload", abort).await?
                && !applied.replayed
            {
                target.store.delete(Area::Images, image_id).await?;
            }
            Ok(Err(message))
        }
    }
}
