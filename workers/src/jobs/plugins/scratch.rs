//! A job's scratch directory: the import's data as a file, for the plugins that need one,
//! and the way from that file into the store. The directory is the job's alone and is
//! removed when the job's pass ends, on success, failure or panic alike (the last owner
//! is dropped: a blocking thread still writing into it owns it too, so nothing is
//! written after it is removed); everything written into it is bounded by the image size
//! cap. A worker killed mid-job (SIGKILL, out of memory) leaves its directory behind:
//! [`sweep`] removes such directories once they are older than any job can run.

use bytes::Bytes;
use domain::ImageId;
use domain::status::DiskFormat;
use futures::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use store::{Area, DataLimits, ImageStore, WriteError, WrittenData};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use super::{PluginError, check_for};

/// Bytes read from a scratch file per chunk: the size the store's hashing batches take.
const READ_CHUNK: usize = 256 * 1024;

/// The prefix of every scratch directory's name, which [`sweep`] looks for.
const PREFIX: &str = "imagefleet-import-";

/// A scratch directory, removed when its last owner is dropped.
pub(super) struct Scratch {
    dir: Option<Arc<tempfile::TempDir>>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Removing a directory of gigabytes blocks: not on an async thread.
        if let (Some(dir), Ok(runtime)) = (self.dir.take(), tokio::runtime::Handle::try_current()) {
            runtime.spawn_blocking(move || drop(dir));
        }
    }
}

impl Scratch {
    /// A new directory under `parent` (created if missing).
    pub(super) async fn new(parent: &Path) -> std::io::Result<Self> {
        let parent = parent.to_owned();
        let dir = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&parent)?;
            tempfile::Builder::new().prefix(PREFIX).tempdir_in(&parent)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(Self {
            dir: Some(Arc::new(dir)),
        })
    }

    /// Removes the directory now (off the async threads), once no blocking thread holds
    /// a share of it.
    pub(super) async fn remove(mut self) {
        if let Some(dir) = self.dir.take() {
            // The join fails only when the runtime shuts down: the sweep gets the rest.
            let _ = tokio::task::spawn_blocking(move || drop(dir)).await;
        }
    }

    /// A share in the directory, for a blocking thread that writes into it: the
    /// directory stays until that thread is done, even if the job is dropped first.
    pub(super) fn share(&self) -> Option<Arc<tempfile::TempDir>> {
        self.dir.clone()
    }

    /// The path of a file `name` in the directory.
    pub(super) fn path(&self, name: &str) -> PathBuf {
        match &self.dir {
            Some(dir) => dir.path().join(name),
            None => PathBuf::from(name),
        }
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

/// Removes the scratch directories under `parent` last changed more than `max_age` ago:
/// those of jobs that can no longer be running (a worker killed mid-job). Several
/// workers may share `parent`: a live job's directory is younger than `max_age`. The
/// number removed.
pub(super) fn sweep(parent: &Path, max_age: Duration) -> std::io::Result<usize> {
    let Some(cutoff) = SystemTime::now().checked_sub(max_age) else {
        return Ok(0);
    };
    let mut removed = 0;
    for entry in std::fs::read_dir(parent)? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with(PREFIX) {
            continue;
        }
        let metadata = entry.metadata()?;
        if metadata.is_dir() && metadata.modified()? < cutoff {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => removed += 1,
                // Another worker's sweep got there first.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets the modification time of directory `path` to `age` ago.
    fn age(path: &Path, age: Duration) {
        let dir = std::fs::File::open(path).expect("open the directory");
        dir.set_modified(SystemTime::now() - age)
            .expect("set the directory's time");
    }

    #[test]
    fn a_stale_scratch_directory_is_removed_and_a_fresh_one_kept() {
        let parent = tempfile::tempdir().expect("a parent directory");
        let stale = parent.path().join(format!("{PREFIX}stale"));
        let fresh = parent.path().join(format!("{PREFIX}fresh"));
        let other = parent.path().join("someone-elses");
        for dir in [&stale, &fresh, &other] {
            std::fs::create_dir(dir).expect("create a directory");
        }
        std::fs::write(stale.join("source"), b"left by a killed job").expect("a file");
        let hour = Duration::from_secs(3600);
        age(&stale, 2 * hour);
        age(&other, 2 * hour);
        let removed = sweep(parent.path(), hour).expect("the sweep runs");
        assert_eq!(removed, 1);
        assert!(!stale.exists());
        assert!(fresh.exists(), "a live job's directory stays");
        assert!(other.exists(), "only scratch directories are swept");
    }
}
