//! Where image bytes live: an `object_store` store (the local filesystem by default,
//! S3-compatible by configuration) with two areas, the images themselves and the staging
//! area that `PUT /stage` fills for an interoperable import. Writes become visible only
//! when complete (see `write`); reads can be ranged (see `read`).

mod config;
mod format_check;
mod pass;
mod read;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
mod s3_uploads;
mod stores;
mod uploads;
mod write;

#[cfg(test)]
mod tests;

pub use config::StoreArgs;
pub use format_check::FormatCheck;
pub use pass::OS_HASH_ALGO;
pub use read::{ByteRange, StoredData};
pub use stores::{NamedStore, StoreKind, Stores};
pub use uploads::IncompleteUpload;
pub use write::{DataCheck, DataLimits, NoCheck, Refused, WriteError, WrittenData, digest_stream};

use domain::ImageId;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;

/// Which area of the store a blob is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// An image's data, served by `GET /file`.
    Images,
    /// Data staged by `PUT /stage`, waiting for `POST /import`.
    Staging,
}

impl Area {
    fn prefix(self) -> &'static str {
        match self {
            Area::Images => "images",
            Area::Staging => "staging",
        }
    }
}

/// A store failure (not the caller's fault).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store could not be opened with this configuration.
    #[error("cannot open the image store: {0}")]
    Open(String),
    /// The store failed an operation.
    #[error("image store: {0}")]
    Backend(#[from] object_store::Error),
    /// A thread hashing the data stopped without its result (it panicked).
    #[error("hashing the data failed")]
    Hashing,
    /// Reading a local file failed.
    #[error("image store: reading a file: {0}")]
    Read(std::io::Error),
    /// A request sent beside object_store (listing multipart uploads) failed.
    #[error("image store: {0}")]
    Request(String),
}

/// The image store: cheap to clone, shared by every request and job of a process.
#[derive(Debug, Clone)]
pub struct ImageStore {
    inner: Arc<dyn ObjectStore>,
    /// How the store was named, for logs and `/readyz`.
    description: String,
    /// Bytes buffered per part of a write.
    part_size: usize,
    /// The directory of a local store (None for others): see [`Self::remove_partial_writes`].
    local_root: Option<std::path::PathBuf>,
    /// The multipart uploads of an S3 store (None for others): see `uploads`.
    #[cfg(feature = "s3")]
    uploads: Option<Arc<s3_uploads::Uploads>>,
}

/// Part size of local writes: big enough for few syscalls, small enough that many
/// concurrent uploads stay light.
const LOCAL_PART_SIZE: usize = 1 << 20;

impl ImageStore {
    /// A store over any `object_store` backend.
    pub fn new(
        inner: Arc<dyn ObjectStore>,
        description: impl Into<String>,
        part_size: usize,
    ) -> Self {
        Self {
            inner,
            description: description.into(),
            part_size,
            local_root: None,
            #[cfg(feature = "s3")]
            uploads: None,
        }
    }

    /// A store in a local directory, created if missing. Completed writes are fsynced:
    /// an image reported active must survive a power cut.
    pub fn local(dir: &std::path::Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Open(format!("{}: {e}", dir.display())))?;
        let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        Ok(Self {
            local_root: Some(dir.to_owned()),
            ..Self::new(
                Arc::new(fs),
                format!("file://{}", dir.display()),
                LOCAL_PART_SIZE,
            )
        })
    }

    /// Where the store is, as configured.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Bytes buffered per part of a write (an S3 store's multipart part size).
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// How many parts of one write are sent at the same time.
    pub fn parts_in_flight(&self) -> usize {
        write::PARTS_IN_FLIGHT
    }

    /// The key of an image's blob in an area.
    fn key(area: Area, image_id: ImageId) -> Path {
        Path::from(format!("{}/{}", area.prefix(), image_id))
    }

    /// Removes a blob; a blob that is already gone is not an error (deletes are retried
    /// by whoever owns the cleanup, so they must be idempotent).
    pub async fn delete(&self, area: Area, image_id: ImageId) -> Result<(), StoreError> {
        match self.inner.delete(&Self::key(area, image_id)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.remove_partial_writes(area, image_id).await
    }

    /// Removes what writes of the blob cut off by a crash left: the local store writes
    /// to `<key>#<n>` and renames at the end, and removes that file when a write is
    /// dropped, which a killed process never does (the chaos runner's gateway kill
    /// found them). An S3 write cut off so leaves an incomplete multipart upload, which
    /// the janitor aborts after a grace period (see `uploads`). A job that writes again
    /// after its worker was killed calls this first.
    pub async fn remove_partial_writes(
        &self,
        area: Area,
        image_id: ImageId,
    ) -> Result<(), StoreError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let dir = root.join(area.prefix());
        let prefix = format!("{image_id}#");
        let removed = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                if entry.file_name().to_string_lossy().starts_with(&prefix) {
                    match std::fs::remove_file(entry.path()) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|joined| Err(std::io::Error::other(joined.to_string())));
        removed.map_err(|source| {
            StoreError::Backend(object_store::Error::Generic {
                store: "LocalFileSystem",
                source: Box::new(source),
            })
        })
    }

    /// Whether a blob exists.
    pub async fn exists(&self, area: Area, image_id: ImageId) -> Result<bool, StoreError> {
        match self.inner.head(&Self::key(area, image_id)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}
