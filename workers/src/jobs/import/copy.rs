//! copy-image: the data of an active image, read from a store holding it (the first
//! that can be read, in the image's order), copied to each target store and verified
//! there against the image's recorded size and checksums in the pass that copies it; a
//! copy that differs fails that store. The import plugins do not run (as in Glance).
//! The image stays active with its stores whatever happens; a failed copy fails only
//! the task, and what it wrote goes.

use domain::Image;
use domain::image::DataDigest;
use store::{Area, NamedStore, WrittenData};

use super::super::plugins::Stored;
use super::super::{JobContext, JobError};
use super::targets::{Plan, copy_error, store_done};
use super::{Cleanup, Outcome};
use domain::Task;

/// How copying to one store went.
enum Copy {
    Done,
    Failed(String),
    /// No store holding the image could be read.
    NoSource(String),
}

/// Copies the image's data to the plan's stores that do not hold it yet.
pub(super) async fn copy(
    ctx: &JobContext,
    task: &Task,
    image: &Image,
    plan: &Plan<'_>,
) -> Result<Outcome, JobError> {
    let sources = ctx.stores.holding(&image.stores);
    let holding: Vec<String> = sources.iter().map(|s| s.id.clone()).collect();
    let targets: Vec<&NamedStore> = plan
        .targets
        .iter()
        .copied()
        .filter(|t| !holding.contains(&t.id))
        .collect();
    // Only the targets: the stores holding the image keep their data whatever happens.
    let cleanup = Cleanup::Stores(targets.iter().map(|t| t.id.clone()).collect());
    let Some(expected) = recorded(image) else {
        return Ok(Outcome::Failed {
            message: "the image has no recorded size and checksums to copy".to_owned(),
            cleanup,
        });
    };
    let mut written = Vec::new();
    let mut failed = Vec::new();
    for target in &targets {
        // A worker killed mid-copy left its temporary file; this copy replaces it.
        let cleared = target
            .store
            .remove_partial_writes(Area::Images, image.id)
            .await;
        let copied = match cleared {
            Ok(()) => copy_from_any(&sources, target, image, &expected).await,
            Err(error) => Copy::Failed(error.to_string()),
        };
        let message = match copied {
            Copy::Done => None,
            Copy::Failed(message) => Some(message),
            Copy::NoSource(message) => {
                return Ok(Outcome::Failed {
                    message: format!("Image not found in any configured store: {message}"),
                    cleanup,
                });
            }
        };
        store_done(ctx, task, image, &target.id, message.is_none()).await?;
        match message {
            None => written.push(target.id.clone()),
            Some(message) => {
                tracing::info!(task.id = %task.id, store = %target.id, %message, "copy to a store failed");
                failed.push(format!("store '{}': {message}", target.id));
                if plan.must_succeed {
                    break;
                }
            }
        }
    }
    if !failed.is_empty() && (plan.must_succeed || written.is_empty()) {
        return Ok(Outcome::Failed {
            message: format!("copying failed at {}", failed.join("; ")),
            cleanup,
        });
    }
    let mut stores = holding;
    stores.extend(written.iter().cloned());
    Ok(Outcome::Written {
        stored: Stored {
            written: WrittenData { digest: expected },
            converted_to: None,
        },
        stores,
        cleanup: Cleanup::Stores(written),
    })
}

/// Copies from the first source that can be read; a source that breaks mid-read gives
/// way to the next.
async fn copy_from_any(
    sources: &[&NamedStore],
    target: &NamedStore,
    image: &Image,
    expected: &DataDigest,
) -> Copy {
    let mut unread = Vec::new();
    for source in sources {
        let data = match source.store.read(Area::Images, image.id, None).await {
            Ok(Some(data)) => data,
            Ok(None) => {
                unread.push(format!("no data in store '{}'", source.id));
                continue;
            }
            Err(error) => {
                unread.push(format!("store '{}': {error}", source.id));
                continue;
            }
        };
        match target
            .store
            .write_verified(Area::Images, image.id, data.stream, expected)
            .await
        {
            Ok(_) => return Copy::Done,
            Err(store::WriteError::Source(error)) => {
                unread.push(format!("store '{}': {error}", source.id));
            }
            Err(error) => return Copy::Failed(copy_error(error)),
        }
    }
    Copy::NoSource(unread.join("; "))
}

/// The image's recorded size and checksums, which every copy must match.
fn recorded(image: &Image) -> Option<DataDigest> {
    Some(DataDigest {
        size: image.size?,
        checksum: image.checksum.clone()?,
        os_hash_algo: image.os_hash_algo.clone()?,
        os_hash_value: image.os_hash_value.clone()?,
        virtual_size: image.virtual_size,
    })
}
