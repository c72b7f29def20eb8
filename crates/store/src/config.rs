//! Where the image store is: a local directory by default, or an S3-compatible bucket.

use super::{ImageStore, StoreError};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// The image store's settings.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the local store (images and staged data). Every gateway and worker
    /// of a deployment must see the same directory (a shared volume), or use
    /// `IMAGEFLEET_STORE_URL`.
    #[arg(long, env = "IMAGEFLEET_DATA_DIR", default_value = "imagefleet-data")]
    pub data_dir: PathBuf,
    /// An S3-compatible bucket instead of the local directory, e.g.
    /// `s3://images/prefix`; credentials, region and endpoint come from the usual
    /// `AWS_*` variables (`AWS_ENDPOINT` for MinIO or Ceph RGW).
    #[arg(long, env = "IMAGEFLEET_STORE_URL")]
    pub store_url: Option<String>,
    /// Seconds an S3 request, a download's resumptions included, is retried before
    /// the failure reaches the client (an S3 store only).
    #[arg(long, env = "IMAGEFLEET_STORE_RETRY_TIMEOUT", default_value_t = 180)]
    pub store_retry_timeout: u64,
}

impl StoreArgs {
    /// Opens the configured store.
    pub fn open(&self) -> Result<ImageStore, StoreError> {
        match &self.store_url {
            None => ImageStore::local(&self.data_dir),
            Some(url) => open_url(url, Duration::from_secs(self.store_retry_timeout)),
        }
    }
}

#[cfg(feature = "s3")]
fn open_url(url: &str, retry_timeout: Duration) -> Result<ImageStore, StoreError> {
    ImageStore::s3(url, &[], retry_timeout)
}

#[cfg(not(feature = "s3"))]
fn open_url(url: &str, _retry_timeout: Duration) -> Result<ImageStore, StoreError> {
    Err(StoreError::Open(format!(
        "'{url}': this build has no S3 support (build with the `s3` feature)"
    )))
}
