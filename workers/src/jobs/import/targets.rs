//! The stores an import writes to (the task's `backend`, the default store when it
//! names none) and a glance-direct or web-download import into them: the first store
//! gets the data from its source (see `data`), each further one a copy of that blob,
//! verified against its size and digests in the pass that copies it. After each store
//! the job says how it went (`import_store_done`), so the image's store lists follow
//! the import. With `all_stores_must_succeed` the first failed store fails the import
//! (and what it wrote goes, Glance's revert); without it a failed store is recorded
//! and the import goes on, failing only if no store was written.

use domain::command::{ImportMethod, ImportStoreDone};
use domain::{Command, Image, Task};
use store::{Area, ImageStore, NamedStore, Stores, WriteError};

use super::super::plugins::Stored;
use super::super::steps::apply;
use super::super::{JobContext, JobError};
use super::data::{Written, write};
use super::{Cleanup, Outcome};

/// Where an import's data goes.
pub(super) struct Plan<'a> {
    /// The stores, in the order they are written.
    pub targets: Vec<&'a NamedStore>,
    /// Whether one store failing fails the import.
    pub must_succeed: bool,
    /// Whether the stores have names (multi-store mode).
    pub named: bool,
}

impl<'a> Plan<'a> {
    /// The plan a task's input records, or why it cannot be followed.
    pub fn of(task: &Task, stores: &'a Stores) -> Result<Self, String> {
        let must_succeed = task.input["import_req"]["all_stores_must_succeed"]
            .as_bool()
            .unwrap_or(true);
        if !stores.is_multi() {
            return Ok(Self {
                targets: vec![stores.default_store()],
                must_succeed,
                named: false,
            });
        }
        let ids: Vec<String> = match task.input.get("backend") {
            None | Some(serde_json::Value::Null) => Vec::new(),
            Some(ids) => serde_json::from_value(ids.clone())
                .map_err(|e| format!("the import task's stores are unreadable: {e}"))?,
        };
        let targets = if ids.is_empty() {
            vec![stores.default_store()]
        } else {
            ids.iter()
                .map(|id| {
                    stores
                        .get(id)
                        .ok_or_else(|| format!("store '{id}' is not configured"))
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Self {
            targets,
            must_succeed,
            named: true,
        })
    }
}

/// Imports the method's data into every store of the plan.
pub(super) async fn import(
    ctx: &JobContext,
    task: &Task,
    image: &Image,
    method: &ImportMethod,
    plan: &Plan<'_>,
) -> Result<Outcome, JobError> {
    let mut first: Option<(&ImageStore, Stored)> = None;
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for target in &plan.targets {
        // A worker killed mid-write left its temporary file; this write replaces it.
        let cleared = if plan.named {
            target
                .store
                .remove_partial_writes(Area::Images, image.id)
                .await
                .map_err(|e| e.to_string())
        } else {
            Ok(())
        };
        let result = match (&first, cleared) {
            (_, Err(message)) => Err(message),
            (None, Ok(())) => match write(ctx, image, method, &target.store).await? {
                Written::Stored(stored) => {
                    first = Some((&target.store, stored));
                    Ok(())
                }
                Written::Refused(message) => {
                    return Ok(Outcome::Failed {
                        message,
                        cleanup: Cleanup::Everything,
                    });
                }
                // One store: its failures are the worker's, retried as before.
                Written::StoreFailed(message) if !plan.named => {
                    return Err(JobError::Transient(message));
                }
                Written::StoreFailed(message) => Err(message),
            },
            (Some((source, stored)), Ok(())) => {
                copy_blob(source, &target.store, image, &stored.written.digest).await
            }
        };
        let succeeded = result.is_ok();
        if plan.named {
            store_done(ctx, task, image, &target.id, succeeded).await?;
        }
        match result {
            Ok(()) => written.push(target.id.clone()),
            Err(message) => {
                tracing::info!(task.id = %task.id, store = %target.id, %message, "import to a store failed");
                failed.push(format!("store '{}': {message}", target.id));
                if plan.must_succeed {
                    break;
                }
            }
        }
    }
    if plan.must_succeed && !failed.is_empty() {
        return Ok(Outcome::Failed {
            message: format!("importing failed at {}", failed.join("; ")),
            cleanup: Cleanup::Everything,
        });
    }
    match first {
        Some((_, stored)) => Ok(Outcome::Written {
            stored,
            stores: if plan.named { written } else { Vec::new() },
            cleanup: Cleanup::Everything,
        }),
        None => Ok(Outcome::Failed {
            message: format!("no store could be written: {}", failed.join("; ")),
            cleanup: Cleanup::Everything,
        }),
    }
}

/// Copies the image's blob from `source` to `target`, verified against `expected`.
async fn copy_blob(
    source: &ImageStore,
    target: &ImageStore,
    image: &Image,
    expected: &domain::image::DataDigest,
) -> Result<(), String> {
    let data = match source.read(Area::Images, image.id, None).await {
        Ok(Some(data)) => data,
        Ok(None) => return Err("the data written to the first store is gone".to_owned()),
        Err(error) => return Err(format!("reading the first store: {error}")),
    };
    target
        .write_verified(Area::Images, image.id, data.stream, expected)
        .await
        .map(|_| ())
        .map_err(copy_error)
}

/// What a failed copy into a store tells the task.
pub(super) fn copy_error(error: WriteError<store::StoreError>) -> String {
    match error {
        WriteError::Refused(refused) => refused.message,
        other => other.to_string(),
    }
}

/// Tells the domain the import is done with `store`. The step is named after the
/// image's version when this run read it: a rerun that finds the image as the run
/// before left it replays that run's steps, while one that follows a step of it (a
/// store written, then failing again) is a new step and applied.
pub(super) async fn store_done(
    ctx: &JobContext,
    task: &Task,
    image: &Image,
    store: &str,
    succeeded: bool,
) -> Result<(), JobError> {
    let outcome = if succeeded { "written" } else { "failed" };
    let command = Command::ImportStoreDone(ImportStoreDone {
        image_id: image.id,
        task_id: task.id,
        store: store.to_owned(),
        succeeded,
    });
    if let Err(rejection) = apply(
        ctx,
        task.id,
        &format!("store/{store}/{outcome}/{}", image.version),
        command,
    )
    .await?
    {
        tracing::warn!(task.id = %task.id, store, %rejection, "store progress refused");
    }
    Ok(())
}
