//! Reading a blob back as a stream, whole or one byte range of it.

use super::{Area, ImageStore, StoreError};
use bytes::Bytes;
use domain::ImageId;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::{GetOptions, GetRange};
use std::ops::Range;

/// A byte range of a blob, end exclusive.
pub type ByteRange = Range<u64>;

/// A blob being read.
pub struct StoredData {
    /// Size of the whole blob.
    pub size: u64,
    /// The bytes asked for, in order.
    pub stream: BoxStream<'static, Result<Bytes, StoreError>>,
}

impl std::fmt::Debug for StoredData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredData")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl ImageStore {
    /// Opens a blob, or a range of it; `None` when there is no such blob.
    pub async fn read(
        &self,
        area: Area,
        image_id: ImageId,
        range: Option<ByteRange>,
    ) -> Result<Option<StoredData>, StoreError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self
            .inner
            .get_opts(&Self::key(area, image_id), options)
            .await
        {
            Ok(result) => Ok(Some(StoredData {
                size: result.meta.size,
                stream: result
                    .into_stream()
                    .map(|r| r.map_err(StoreError::from))
                    .boxed(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
