//! Reading a blob back as a stream, whole or one byte range of it. A local file is read
//! in blocks of [`FILE_BLOCK`]: object_store's own stream of a file reads 8 KiB per hop
//! through the blocking thread pool (128 hops per MiB), which made serving a local
//! image slower than Glance.

use super::{Area, ImageStore, StoreError};
use bytes::Bytes;
use domain::ImageId;
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};
use object_store::{GetOptions, GetRange, GetResultPayload};
use std::io::SeekFrom;
use std::ops::Range;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

/// Bytes read from a local file per read (and per hop through the blocking pool): few
/// hops per image, and a bounded buffer per download whatever the image's size.
const FILE_BLOCK: usize = 1 << 20;

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
                stream: match result.payload {
                    GetResultPayload::File(file, _) => file_stream(file, result.range),
                    GetResultPayload::Stream(stream) => stream.map_err(StoreError::from).boxed(),
                },
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The bytes of `range` of a local file, [`FILE_BLOCK`] at a time.
fn file_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StoreError>> {
    let mut file = tokio::fs::File::from_std(file);
    stream::once(async move {
        file.seek(SeekFrom::Start(range.start)).await?;
        let part = file.take(range.end.saturating_sub(range.start));
        Ok::<_, std::io::Error>(ReaderStream::with_capacity(part, FILE_BLOCK))
    })
    .try_flatten()
    .map_err(StoreError::Read)
    .boxed()
}
