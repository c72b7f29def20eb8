//! The first write of a glance-direct or web-download import: the method's source, read
//! through the import plugins that work on data, into one store; the bytes are
//! inspected, counted and hashed in the pass that writes them.

use bytes::Bytes;
use domain::Image;
use domain::command::ImportMethod;
use futures::Stream;
use store::{Area, DataLimits, FormatCheck, ImageStore, WriteError};

use super::super::plugins::{PluginError, Stored};
use super::super::{JobContext, JobError, describe, shown_url};

/// How the first write went.
pub(super) enum Written {
    /// The data is in the store.
    Stored(Stored),
    /// The data (or its source) is at fault: the import fails whatever the store.
    Refused(String),
    /// The store failed.
    StoreFailed(String),
}

/// Writes the image's data from the method's source into `target`, through the import
/// plugins that work on data.
pub(super) async fn write(
    ctx: &JobContext,
    image: &Image,
    method: &ImportMethod,
    target: &ImageStore,
) -> Result<Written, JobError> {
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
                return Ok(Written::Refused(
                    "no staged data: stage the image's data with PUT /stage first".to_owned(),
                ));
            };
            match store_data(ctx, image, staged.stream, limits, target).await {
                // Reading the staging area failed: the store's fault, not the data's;
                // the job runs again rather than throwing the staged data away.
                Err(PluginError::Write(WriteError::Source(e))) => Err(e.into()),
                stored => outcome(stored),
            }
        }
        ImportMethod::WebDownload { uri } => match ctx.fetcher.open(uri).await {
            Ok(body) => outcome(store_data(ctx, image, body, limits, target).await),
            Err(e) => {
                let source = shown_url(uri);
                Ok(Written::Refused(format!(
                    "web-download of {source} failed: {e}"
                )))
            }
        },
        ImportMethod::CopyImage => Ok(Written::Refused(
            "copy-image copies an active image's data, it does not import new data".to_owned(),
        )),
    }
}

/// Stores `data` as the image's data: through the data plugins when one is configured,
/// else straight from the source.
async fn store_data<S, E>(
    ctx: &JobContext,
    image: &Image,
    data: S,
    limits: DataLimits,
    target: &ImageStore,
) -> Result<Stored, PluginError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    if ctx.plugins.touch_data() {
        return ctx.plugins.store(target, image, data, limits).await;
    }
    let check = FormatCheck::for_image(image);
    match target
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

/// What a data pass comes to: stored, a message for the task, a failed store, or a
/// transient failure of the worker.
pub(super) fn outcome<E: std::fmt::Display>(
    stored: Result<Stored, PluginError<E>>,
) -> Result<Written, JobError> {
    match stored {
        Ok(stored) => Ok(Written::Stored(stored)),
        Err(PluginError::Write(WriteError::Store(error))) => {
            Ok(Written::StoreFailed(error.to_string()))
        }
        Err(PluginError::Write(error)) => describe(error).map(Written::Refused),
        Err(PluginError::Failed(message)) => Ok(Written::Refused(message)),
        // A full scratch disk would fail every retry alike: the task fails and says so.
        Err(PluginError::Scratch(error)) if error.kind() == std::io::ErrorKind::StorageFull => {
            Ok(Written::Refused(format!(
                "the import plugins' scratch area is full (IMAGEFLEET_SCRATCH_DIR): {error}"
            )))
        }
        Err(PluginError::Scratch(error)) => Err(JobError::Transient(format!(
            "the import plugins' scratch area: {error}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_scratch_disk_fails_the_task_and_other_scratch_errors_are_retried() {
        let scratch =
            |kind| outcome::<std::io::Error>(Err(PluginError::Scratch(std::io::Error::from(kind))));
        let full = scratch(std::io::ErrorKind::StorageFull);
        assert!(
            matches!(full, Ok(Written::Refused(message)) if message.contains("scratch area is full"))
        );
        let broken = scratch(std::io::ErrorKind::PermissionDenied);
        assert!(matches!(broken, Err(JobError::Transient(_))));
    }
}
