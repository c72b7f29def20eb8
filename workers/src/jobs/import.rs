//! The interoperable import's task (`api_image_import`): glance-direct copies the staged
//! data into place, web-download reads the URL behind the import filter; either way the
//! bytes are inspected, counted and hashed in the pass that writes them, after the
//! configured import plugins (see [`super::plugins`]) had their turn. Success makes
//! the image active and the task `success`; failure returns the image to queued with the
//! task's message, and leaves no data (neither partial nor staged) behind.

use bytes::Bytes;
use domain::command::{CompleteImport, FailImport, ImportMethod};
use domain::{Command, Image, ImageId, Task, injection};
use futures::Stream;
use store::{Area, DataLimits, FormatCheck, WriteError};

use super::plugins::{PluginError, Stored};
use super::steps::{apply, start};
use super::{JobContext, JobError, describe};

/// Runs an image import task to its end.
pub async fn run(task: &Task, ctx: &JobContext) -> Result<(), JobError> {
    let image_id = task
        .image_id
        .ok_or_else(|| JobError::Permanent(format!("import task {} names no image", task.id)))?;
    let method: ImportMethod = serde_json::from_value(task.input["import_req"]["method"].clone())
        .map_err(|e| {
        JobError::Permanent(format!("import task {}: bad method: {e}", task.id))
    })?;
    start(ctx, task.id).await?;
    let roles = match requester_roles(&task.input) {
        Ok(roles) => roles,
        Err(message) => return fail(ctx, task, image_id, message).await,
    };
    let image = ctx.image(image_id).await?;
    let written = match image {
        None => Err("the image no longer exists".to_owned()),
        Some(image) => write(ctx, &image, &method).await?,
    };
    match written {
        Ok(written) => complete(ctx, task, image_id, &method, &roles, written).await,
        Err(message) => fail(ctx, task, image_id, message).await,
    }
}

/// Writes the image's data from the method's source, through the import plugins that
/// work on data: what was stored, or the message the task fails with.
async fn write(
    ctx: &JobContext,
    image: &Image,
    method: &ImportMethod,
) -> Result<Result<Stored, String>, JobError> {
    let limits = DataLimits {
        max_bytes: ctx.image_size_cap,
    };
    match method {
        ImportMethod::GlanceDirect => {
            let Some(staged) = ctx
                .stores
                .staging()
                .read(Area::Staging, image.id, None)
                .await?
            else {
                return Ok(Err(
                    "no staged data: stage the image's data with PUT /stage first".to_owned(),
                ));
            };
            match store_data(ctx, image, staged.stream, limits).await {
                // Reading the staging area failed: the store's fault, not the data's;
                // the job runs again rather than throwing the staged data away.
                Err(PluginError::Write(WriteError::Source(e))) => Err(e.into()),
                stored => outcome(stored),
            }
        }
        ImportMethod::WebDownload { uri } => match ctx.fetcher.open(uri).await {
            Ok(body) => outcome(store_data(ctx, image, body, limits).await),
            Err(e) => {
                let source = super::shown_url(uri);
                Ok(Err(format!("web-download of {source} failed: {e}")))
            }
        },
        ImportMethod::CopyImage => Ok(Err("copy-image needs more than one store".to_owned())),
    }
}

/// Stores `data` as the image's data: through the data plugins when one is configured,
/// else straight from the source.
async fn store_data<S, E>(
    ctx: &JobContext,
    image: &Image,
    data: S,
    limits: DataLimits,
) -> Result<Stored, PluginError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    if ctx.plugins.touch_data() {
        return ctx
            .plugins
            .store(&ctx.stores.default_store().store, image, data, limits)
            .await;
    }
    let check = FormatCheck::for_image(image);
    match ctx
        .stores
        .default_store()
        .store
        .write(Area::Images, image.id, data, limits, check)
        .await
    {
        Ok(written) => Ok(Stored {
            written,
            converted_to: None,
        }),
        Err(error) => Err(PluginError::Write(error)),
    }
}

/// What a data pass comes to: stored, a message for the task, or a transient failure.
fn outcome<E: std::fmt::Display>(
    stored: Result<Stored, PluginError<E>>,
) -> Result<Result<Stored, String>, JobError> {
    match stored {
        Ok(stored) => Ok(Ok(stored)),
        Err(PluginError::Write(error)) => describe(error).map(Err),
        Err(PluginError::Failed(message)) => Ok(Err(message)),
        // A full scratch disk would fail every retry alike: the task fails and says so.
        Err(PluginError::Scratch(error)) if error.kind() == std::io::ErrorKind::StorageFull => {
            Ok(Err(format!(
                "the import plugins' scratch area is full (IMAGEFLEET_SCRATCH_DIR): {error}"
            )))
        }
        Err(PluginError::Scratch(error)) => Err(JobError::Transient(format!(
            "the import plugins' scratch area: {error}"
        ))),
    }
}

/// The roles of who asked for the import, for `inject_image_metadata`: none on a task
/// begun before they were recorded (injected as for anyone); anything but a list of
/// strings fails the import rather than being read as no roles.
fn requester_roles(input: &serde_json::Value) -> Result<Vec<String>, String> {
    match input.get(injection::REQUESTER_ROLES) {
        None => Ok(Vec::new()),
        Some(roles) => serde_json::from_value(roles.clone())
            .map_err(|e| format!("the import task's recorded requester roles are unreadable: {e}")),
    }
}

async fn complete(
    ctx: &JobContext,
    task: &Task,
    image_id: ImageId,
    method: &ImportMethod,
    roles: &[String],
    stored: Stored,
) -> Result<(), JobError> {
    let command = Command::CompleteImport(CompleteImport {
        image_id,
        task_id: task.id,
        digest: stored.written.digest,
        stores: Vec::new(),
        converted_to: stored.converted_to,
        injected: ctx.plugins.injected(roles),
    });
    match apply(ctx, task.id, "complete", command).await? {
        Ok(_) => {
            if matches!(method, ImportMethod::GlanceDirect) {
                ctx.stores.staging().delete(Area::Staging, image_id).await?;
            }
            Ok(())
        }
        Err(rejection) => {
            let image = ctx.image(image_id).await?;
            if image.as_ref().is_some_and(|image| {
                !image.status.is_deleted() && image.import_task() == Some(task.id)
            }) {
                // Still ours: the completion itself was refused (an injected property
                // past the quota, say). The task fails with why, and the image goes back
                // to queued at once rather than when its lease runs out.
                return fail(ctx, task, image_id, rejection.message).await;
            }
            // The image moved on while the data was copied. Only a deleted image's key
            // is certainly nobody's: another writer may hold a reset image by now, and
            // its data must not go (what is left there is overwritten by its next write
            // or removed with the image).
            tracing::warn!(task.id = %task.id, %rejection, "import finished for an image that moved on");
            if image.is_none_or(|image| image.status.is_deleted()) {
                ctx.stores.delete_everywhere(Area::Images, image_id).await?;
            }
            Ok(())
        }
    }
}

async fn fail(
    ctx: &JobContext,
    task: &Task,
    image_id: ImageId,
    message: String,
) -> Result<(), JobError> {
    tracing::info!(task.id = %task.id, %message, "import failed");
    let command = Command::FailImport(FailImport {
        image_id,
        task_id: task.id,
        message,
    });
    // The image is given back first, and its data removed only by the job that gave it
    // back: a rerun of this job (the outcome replayed) may find the image in another
    // writer's hands, whose data must stay.
    match apply(ctx, task.id, "fail", command).await? {
        Ok(applied) if !applied.replayed => {
            for area in [Area::Images, Area::Staging] {
                ctx.stores.delete_everywhere(area, image_id).await?;
            }
        }
        Ok(_) => {}
        Err(rejection) => {
            tracing::warn!(task.id = %task.id, %rejection, "import could not be failed")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_requester_roles_are_none_and_malformed_ones_fail_the_import() {
        let roles = |input| requester_roles(&input);
        assert_eq!(roles(json!({})), Ok(Vec::new()));
        assert_eq!(
            roles(json!({ injection::REQUESTER_ROLES: ["member"] })),
            Ok(vec!["member".to_owned()])
        );
        let malformed = roles(json!({ injection::REQUESTER_ROLES: "admin" }));
        assert!(malformed.is_err_and(|message| message.contains("requester roles are unreadable")));
    }

    #[test]
    fn a_full_scratch_disk_fails_the_task_and_other_scratch_errors_are_retried() {
        let scratch =
            |kind| outcome::<std::io::Error>(Err(PluginError::Scratch(std::io::Error::from(kind))));
        let full = scratch(std::io::ErrorKind::StorageFull);
        assert!(matches!(full, Ok(Err(message)) if message.contains("scratch area is full")));
        let broken = scratch(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(broken, Err(JobError::Transient(_))));
    }
}
