//! Where the image store is: a local directory by default, or an S3-compatible bucket.

use super::{ImageStore, StoreError};
use clap::Args;
use std::path::PathBuf;

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
}

impl StoreArgs {
    /// Opens the configured store.
    pub fn open(&self) -> Result<ImageStore, StoreError> {
        match &self.store_url {
            None => ImageStore::local(&self.data_dir),
            Some(url) => open_url(url),
        }
    }
}

#[cfg(feature = "s3")]
fn open_url(url: &str) -> Result<ImageStore, StoreError> {
    if !url.starts_with("s3://") {
        return Err(StoreError::Open(format!(
            "unsupported store URL '{url}': use s3://bucket[/prefix], or IMAGEFLEET_DATA_DIR for a local directory"
        )));
    }
    let s3 = object_store::aws::AmazonS3Builder::from_env()
        .with_url(url)
        .build()?;
    let (_, prefix) = url["s3://".len()..].split_once('/').unwrap_or(("", ""));
    let store: std::sync::Arc<dyn object_store::ObjectStore> = if prefix.is_empty() {
        std::sync::Arc::new(s3)
    } else {
        std::sync::Arc::new(object_store::prefix::PrefixStore::new(s3, prefix))
    };
    // S3 refuses multipart parts under 5 MiB (the last one aside).
    Ok(ImageStore::new(store, url, S3_PART_SIZE))
}

/// The smallest part S3 accepts.
#[cfg(feature = "s3")]
const S3_PART_SIZE: usize = 5 << 20;

#[cfg(not(feature = "s3"))]
fn open_url(url: &str) -> Result<ImageStore, StoreError> {
    Err(StoreError::Open(format!(
        "'{url}': this build has no S3 support (build with the `s3` feature)"
    )))
}
