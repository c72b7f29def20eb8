//! Writing a byte stream into the store: the bytes are counted, hashed and checked
//! against the size limit in the same pass as the copy (see `pass`), held in memory
//! only a few parts at a time, and published under the final key only when the whole stream arrived (the
//! local store renames a temporary file, S3 completes a multipart upload). A failed
//! write leaves nothing behind under the key.

use super::pass::Pass;
use super::{Area, ImageStore, StoreError};
use bytes::Bytes;
use domain::ImageId;
use domain::image::DataDigest;
use futures::{Stream, StreamExt};
use object_store::{ObjectStoreExt, WriteMultipart};

/// Parts written to the backend at once per write; with the part size this bounds the
/// memory one write holds.
pub(crate) const PARTS_IN_FLIGHT: usize = 2;

/// What a write may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// Most bytes accepted (`image_size_cap`, or less when the project's storage quota
    /// leaves less room).
    pub max_bytes: u64,
}

/// A completed write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenData {
    /// Size and digests of what was stored.
    pub digest: DataDigest,
}

/// Why a write stopped; in every case nothing was left under the key.
#[derive(Debug, thiserror::Error)]
pub enum WriteError<E> {
    /// The source of the bytes failed (the client went away, the download broke).
    #[error("reading the data failed: {0}")]
    Source(E),
    /// The stream is larger than allowed.
    #[error("the data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: u64,
    },
    /// The data was refused by a check run over it as it passed.
    #[error("{0}")]
    Refused(Refused),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E> From<object_store::Error> for WriteError<E> {
    fn from(error: object_store::Error) -> Self {
        WriteError::Store(error.into())
    }
}

/// Why a check refused the data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// Why, for the person who sent the data.
    pub message: String,
    /// The content is dangerous (400), rather than merely not what was declared (415).
    pub harmful: bool,
}

/// A check run over every byte as it passes, such as the disk format inspector: it may
/// refuse the data part way (so a huge bad upload stops early) or at the end.
pub trait DataCheck {
    /// The next bytes; an error refuses the data.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), Refused>;
    /// End of data: the virtual size the check found, or why the data is refused.
    fn finish(self) -> Result<Option<u64>, Refused>;
}

/// Accepts everything: for data whose format is checked elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheck;

impl DataCheck for NoCheck {
    fn feed(&mut self, _chunk: &[u8]) -> Result<(), Refused> {
        Ok(())
    }

    fn finish(self) -> Result<Option<u64>, Refused> {
        Ok(None)
    }
}

/// Size and digests of data read from elsewhere (a location), checked as a write would
/// check it, without storing it.
pub async fn digest_stream<S, E, C>(
    data: S,
    limits: DataLimits,
    check: C,
) -> Result<DataDigest, WriteError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
    C: DataCheck + Send + 'static,
{
    let mut pass = Pass::new(limits, check);
    let mut data = std::pin::pin!(data);
    while let Some(chunk) = data.next().await {
        pass.take(&chunk.map_err(WriteError::Source)?).await?;
    }
    pass.finish().await
}

impl ImageStore {
    /// Streams `data` into `area` under the image's key, computing size and digests in
    /// the same pass and running `check` over the bytes.
    pub async fn write<S, E, C>(
        &self,
        area: Area,
        image_id: ImageId,
        data: S,
        limits: DataLimits,
        check: C,
    ) -> Result<WrittenData, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
        C: DataCheck + Send + 'static,
    {
        self.write_accepting(area, image_id, data, limits, check, |_| Ok(()))
            .await
    }

    /// Streams a copy of data whose size and digests are known into `area` under the
    /// image's key, verifying them in the same pass: a copy that differs (longer,
    /// shorter, other bytes) is refused before it becomes visible, and nothing is left
    /// under the key.
    pub async fn write_verified<S, E>(
        &self,
        area: Area,
        image_id: ImageId,
        data: S,
        expected: &DataDigest,
    ) -> Result<WrittenData, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let limits = DataLimits {
            max_bytes: u64::try_from(expected.size).unwrap_or(0),
        };
        let verify = |digest: &DataDigest| {
            let same = digest.size == expected.size
                && digest.checksum == expected.checksum
                && digest.os_hash_value == expected.os_hash_value;
            if same {
                Ok(())
            } else {
                Err(Refused {
                    message: format!(
                        "the copy ({} bytes, sha512 {}) does not match the image's data ({} bytes, sha512 {})",
                        digest.size,
                        short(&digest.os_hash_value),
                        expected.size,
                        short(&expected.os_hash_value)
                    ),
                    harmful: false,
                })
            }
        };
        match self
            .write_accepting(area, image_id, data, limits, NoCheck, verify)
            .await
        {
            // Longer than the image's data: a copy that does not match either.
            Err(WriteError::TooLarge { .. }) => Err(WriteError::Refused(Refused {
                message: format!(
                    "the copy is longer than the image's data ({} bytes)",
                    expected.size
                ),
                harmful: false,
            })),
            other => other,
        }
    }

    /// [`ImageStore::write`], publishing only data `accept` takes.
    async fn write_accepting<S, E, C>(
        &self,
        area: Area,
        image_id: ImageId,
        data: S,
        limits: DataLimits,
        check: C,
        accept: impl FnOnce(&DataDigest) -> Result<(), Refused>,
    ) -> Result<WrittenData, WriteError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
        C: DataCheck + Send + 'static,
    {
        let key = Self::key(area, image_id);
        let upload = self.inner.put_multipart(&key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut pass = Pass::new(limits, check);
        let copied = async {
            let mut data = std::pin::pin!(data);
            while let Some(chunk) = data.next().await {
                let chunk = chunk.map_err(WriteError::Source)?;
                pass.take(&chunk).await?;
                // Back-pressure: wait for the backend before taking more of the stream,
                // so memory stays flat however fast the source is.
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.put(chunk);
            }
            Ok(())
        }
        .await;
        let digest = match copied {
            Ok(()) => pass.finish().await.and_then(|digest| {
                accept(&digest).map_err(WriteError::Refused)?;
                Ok(digest)
            }),
            Err(error) => Err(error),
        };
        match digest {
            Ok(digest) => {
                writer.finish().await?;
                Ok(WrittenData { digest })
            }
            Err(error) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%abort, %key, "could not remove a partial write");
                }
                Err(error)
            }
        }
    }
}

/// The start of a hex digest, for messages.
fn short(hex: &str) -> &str {
    hex.get(..16).unwrap_or(hex)
}
