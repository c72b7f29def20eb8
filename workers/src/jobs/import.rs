//! The interoperable import's task (`api_image_import`): glance-direct copies the staged
//! data into place, web-download reads the URL behind the import filter; either way the
//! bytes are inspected, counted and hashed in the pass that writes them, after the
//! configured import plugins (see [`super::plugins`]) had their turn (`data`). With
//! named stores the data goes to each of the task's stores (`targets`); copy-image
//! copies an active image's data to more stores (`copy`). Success makes the image
//! active (a copy: adds its stores) and the task `success`; failure returns the image
//! to queued with the task's message, and leaves no data (neither partial nor staged)
//! behind (a copy: the image keeps its data and stores, the copies go).
//!
//! Every write publishes its blob only when complete, so a worker killed mid-copy
//! leaves at most a temporary file, which the rerun of the job (the event redelivered)
//! removes before it writes again.

mod copy;
mod data;
mod targets;

use domain::command::{CompleteImport, FailImport, ImportMethod};
use domain::{Command, Image, ImageId, ImageStatus, Task, injection};
use store::Area;

use super::plugins::Stored;
use super::steps::{apply, start};
use super::{JobContext, JobError};
use targets::Plan;

/// How an import's writing ended.
enum Outcome {
    /// The data is in place: in these stores (named ones only); `cleanup` goes if the
    /// completion is refused.
    Written {
        stored: Stored,
        stores: Vec<String>,
        cleanup: Cleanup,
    },
    /// The task fails with this message, and this data goes.
    Failed { message: String, cleanup: Cleanup },
}

/// The data a failed import removes once the image is given back.
enum Cleanup {
    /// The image's data and staged data, in every store (an import into an image
    /// that had none).
    Everything,
    /// The image's data in these stores only (a copy's targets).
    Stores(Vec<String>),
}

/// Runs an image import task to its end.
pub async fn run(task: &Task, ctx: &JobContext) -> Result<(), JobError> {
    let image_id = task
        .image_id
        .ok_or_else(|| JobError::Permanent(format!("import task {} names no image", task.id)))?;
    let method: ImportMethod = serde_json::from_value(task.input["import_req"]["method"].clone())
        .map_err(|e| {
        JobError::Permanent(format!("import task {}: bad method: {e}", task.id))
    })?;
    let copying = method == ImportMethod::CopyImage;
    let everything = || {
        if copying {
            Cleanup::Stores(Vec::new())
        } else {
            Cleanup::Everything
        }
    };
    start(ctx, task.id).await?;
    let roles = match requester_roles(&task.input) {
        Ok(roles) => roles,
        Err(message) => return fail(ctx, task, image_id, message, everything()).await,
    };
    let Some(image) = ctx.image(image_id).await? else {
        let gone = "the image no longer exists".to_owned();
        return fail(ctx, task, image_id, gone, Cleanup::Everything).await;
    };
    let plan = match Plan::of(task, &ctx.stores) {
        Ok(plan) => plan,
        Err(message) => return fail(ctx, task, image_id, message, everything()).await,
    };
    let outcome = if copying {
        copy::copy(ctx, task, &image, &plan).await?
    } else {
        targets::import(ctx, task, &image, &method, &plan).await?
    };
    match outcome {
        Outcome::Written {
            stored,
            stores,
            cleanup,
        } => {
            // The plugins do not run on a copy: it adds no properties either.
            let injected = if copying {
                Default::default()
            } else {
                ctx.plugins.injected(&roles)
            };
            let command = Command::CompleteImport(CompleteImport {
                image_id,
                task_id: task.id,
                digest: stored.written.digest,
                stores,
                converted_to: stored.converted_to,
                injected,
            });
            complete(ctx, task, image_id, &method, command, cleanup).await
        }
        Outcome::Failed { message, cleanup } => fail(ctx, task, image_id, message, cleanup).await,
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

/// Sends the completion; if it is refused, fails the task while the image is still
/// the task's (`cleanup` then goes).
async fn complete(
    ctx: &JobContext,
    task: &Task,
    image_id: ImageId,
    method: &ImportMethod,
    command: Command,
    cleanup: Cleanup,
) -> Result<(), JobError> {
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
                return fail(ctx, task, image_id, rejection.message, cleanup).await;
            }
            // The image moved on while the data was copied. Only a deleted image's key
            // is certainly nobody's: another writer may hold a reset image by now, and
            // its data must not go (what is left there is overwritten by its next write
            // or removed with the image).
            tracing::warn!(task.id = %task.id, %rejection, "import finished for an image that moved on");
            remove_if_gone(ctx, image.as_ref(), image_id, cleanup).await
        }
    }
}

async fn fail(
    ctx: &JobContext,
    task: &Task,
    image_id: ImageId,
    message: String,
    cleanup: Cleanup,
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
        Ok(applied) if !applied.replayed => remove(ctx, image_id, cleanup).await?,
        Ok(_) => {}
        Err(rejection) => {
            tracing::warn!(task.id = %task.id, %rejection, "import could not be failed");
            // Deleted meanwhile: what this task wrote may have landed after the image's
            // cleanup ran.
            let image = ctx.image(image_id).await?;
            remove_if_gone(ctx, image.as_ref(), image_id, cleanup).await?;
        }
    }
    Ok(())
}

/// Removes what a task wrote when its image is gone for good: deleted, or no longer
/// recorded. An image in pending_delete keeps its data (an admin may restore it), and a
/// copy's cleanup names only the stores it wrote to.
async fn remove_if_gone(
    ctx: &JobContext,
    image: Option<&Image>,
    image_id: ImageId,
    cleanup: Cleanup,
) -> Result<(), JobError> {
    if gone_for_good(image) {
        remove(ctx, image_id, cleanup).await?;
    }
    Ok(())
}

/// Whether an image's data is nobody's: deleted, or no longer recorded (pending_delete
/// is not: a restore brings the image back with its data).
fn gone_for_good(image: Option<&Image>) -> bool {
    image.is_none_or(|image| image.status == ImageStatus::Deleted)
}

/// Removes `cleanup`'s data of the image.
async fn remove(ctx: &JobContext, image_id: ImageId, cleanup: Cleanup) -> Result<(), JobError> {
    match cleanup {
        Cleanup::Everything => {
            for area in [Area::Images, Area::Staging] {
                ctx.stores.delete_everywhere(area, image_id).await?;
            }
        }
        Cleanup::Stores(ids) => {
            for named in ids.iter().filter_map(|id| ctx.stores.get(id)) {
                named.store.delete(Area::Images, image_id).await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_deleted_or_vanished_image_is_gone_for_good() {
        let image = |status| {
            let mut image: Image = serde_json::from_value(json!({
                "id": ImageId::generate(), "version": 1, "status": "active", "name": null,
                "visibility": "shared", "protected": false, "os_hidden": false, "owner": "p",
                "checksum": null, "os_hash_algo": null, "os_hash_value": null, "size": null,
                "virtual_size": null, "min_disk": 0, "min_ram": 0, "disk_format": null,
                "container_format": null, "tags": [], "properties": {}, "members": [],
                "locations": [], "created_at": "2026-12-07T00:00:00Z",
                "updated_at": "2026-12-07T00:00:00Z", "deleted_at": null,
                "lease_expires_at": null
            }))
            .expect("an image");
            image.status = status;
            image
        };
        assert!(gone_for_good(None));
        assert!(gone_for_good(Some(&image(ImageStatus::Deleted))));
        for kept in [
            ImageStatus::PendingDelete,
            ImageStatus::Active,
            ImageStatus::Queued,
        ] {
            assert!(!gone_for_good(Some(&image(kept))), "{kept:?}");
        }
    }

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
}
