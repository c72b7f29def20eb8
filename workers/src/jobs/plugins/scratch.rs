//! A job's scratch directory: the import's data as a file, for the plugins that need one,
//! and the way from that file into the store. The directory is the job's alone and is
//! removed when the job's pass ends, on success, failure or panic alike (its owner is
//! dropped); everything written into it is bounded by the image size cap.

use bytes::Bytes;
use domain::ImageId;
use domain::status::DiskFormat;
use futures::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use store::{Area, DataLimits, ImageStore, WriteError, WrittenData};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{PluginError, check_for};

/// Bytes read from a scratch file per chunk: the size the store's hashing batches take.
const READ_CHUNK: usize = 256 * 1024;

/// A scratch directory, removed on drop.
pub(super) struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A new directory under `parent` (created if missing).
    pub(super) fn new(parent: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(parent)?;
        let dir = tempfile::Builder::new()
            .prefix("imagefleet-import-")
            .tempdir_in(parent)?;
        Ok(Self { dir })
    }

    /// The path of a file `name` in the directory.
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Copies `data` into the file `source`, refusing it past the size limit.
    pub(super) async fn take<S, E>(
        &self,
        data: S,
        limits: DataLimits,
    ) -> Result<PathBuf, PluginError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let path = self.path("source");
        let mut file = tokio::fs::File::create(&path)
            .await
            .map_err(PluginError::Scratch)?;
        let mut size = 0u64;
        let mut data = std::pin::pin!(data);
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(|e| PluginError::Write(WriteError::Source(e)))?;
            size += chunk.len() as u64;
            if size > limits.max_bytes {
                return Err(PluginError::Write(WriteError::TooLarge {
                    limit: limits.max_bytes,
                }));
            }
            file.write_all(&chunk).await.map_err(PluginError::Scratch)?;
        }
        file.flush().await.map_err(PluginError::Scratch)?;
        Ok(path)
    }

    /// Streams `file` into the store as `image_id`'s data in `area`, checked as data of
    /// `format`, counted and hashed in the same pass.
    pub(super) async fn store<E>(
        &self,
        store: &ImageStore,
        area: Area,
        image_id: ImageId,
        file: &Path,
        limits: DataLimits,
        format: DiskFormat,
    ) -> Result<WrittenData, PluginError<E>> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(PluginError::Scratch)?;
        let data = ReaderStream::with_capacity(opened, READ_CHUNK);
        store
            .write(area, image_id, data, limits, check_for(format))
            .await
            .map_err(|error| match error {
                // Reading our own file failed: the scratch area's fault.
                WriteError::Source(e) => PluginError::Scratch(e),
                WriteError::TooLarge { limit } => {
                    PluginError::Write(WriteError::TooLarge { limit })
                }
                WriteError::Refused(refused) => PluginError::Write(WriteError::Refused(refused)),
                WriteError::Store(e) => PluginError::Write(WriteError::Store(e)),
            })
    }
}
