//! One pass over a byte stream, as it is written or read from a location: the size
//! limit is checked inline, while md5 (with the data check) and sha512 each hash on a
//! blocking thread of their own, side by side. Hashing is the slowest part of an upload
//! (sha512 and md5 are each slower than the disk here), so the two digests run in
//! parallel instead of one after the other, and neither blocks the async runtime.
//!
//! Chunks are gathered into batches of shared `Bytes` handles (no copy). Each batch is
//! hashed by one short blocking task per digest, which takes the hasher state and gives
//! it back; the next batch waits for it. So a pass holds a blocking thread only while
//! it hashes, never while the client is slow to send, and at most one batch per digest
//! is in flight besides the one being gathered: memory stays flat.

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest, Sha512};
use tokio::task::JoinHandle;

use super::StoreError;
use super::write::{DataCheck, DataLimits, Refused, WriteError};
use domain::image::DataDigest;

/// The secure hash algorithm every image gets (Glance's default `hashing_algorithm`).
pub const OS_HASH_ALGO: &str = "sha512";

/// Bytes gathered before a batch is hashed: large enough that handing it to a blocking
/// thread costs nothing next to the hashing, small enough to keep memory flat.
const BATCH_BYTES: usize = 256 * 1024;

type Batch = std::sync::Arc<[Bytes]>;

/// A hasher state, with the batch being hashed on a blocking thread when there is one.
struct Lane<S> {
    idle: Option<S>,
    running: Option<JoinHandle<S>>,
}

impl<S: Send + 'static> Lane<S> {
    fn new(state: S) -> Self {
        Self {
            idle: Some(state),
            running: None,
        }
    }

    /// The state once the batch in flight (if any) is hashed.
    async fn settle(&mut self) -> Result<&mut S, StoreError> {
        if let Some(running) = self.running.take() {
            self.idle = Some(running.await.map_err(|_| StoreError::Hashing)?);
        }
        self.idle.as_mut().ok_or(StoreError::Hashing)
    }

    /// Hashes `batch` on a blocking thread, after the batch before it.
    async fn feed(&mut self, batch: Batch, hash: fn(&mut S, &[Bytes])) -> Result<(), StoreError> {
        self.settle().await?;
        let mut state = self.idle.take().ok_or(StoreError::Hashing)?;
        self.running = Some(tokio::task::spawn_blocking(move || {
            hash(&mut state, &batch);
            state
        }));
        Ok(())
    }

    /// The state once everything fed is hashed.
    async fn finish(mut self) -> Result<S, StoreError> {
        self.settle().await?;
        self.idle.ok_or(StoreError::Hashing)
    }
}

/// md5 and the data check, which stops looking once it refused.
struct Md5AndCheck<C> {
    md5: Md5,
    check: C,
    refused: Option<Refused>,
}

fn md5_and_check<C: DataCheck>(state: &mut Md5AndCheck<C>, batch: &[Bytes]) {
    for chunk in batch {
        state.md5.update(chunk);
        if state.refused.is_none()
            && let Err(refused) = state.check.feed(chunk)
        {
            state.refused = Some(refused);
        }
    }
}

fn sha512(state: &mut Sha512, batch: &[Bytes]) {
    for chunk in batch {
        state.update(chunk);
    }
}

/// The size limit, the digests and the check over every chunk of one stream.
pub(super) struct Pass<C> {
    limits: DataLimits,
    size: u64,
    pending: Vec<Bytes>,
    pending_bytes: usize,
    md5: Lane<Md5AndCheck<C>>,
    sha512: Lane<Sha512>,
}

impl<C: DataCheck + Send + 'static> Pass<C> {
    /// A pass with nothing seen yet.
    pub(super) fn new(limits: DataLimits, check: C) -> Self {
        Self {
            limits,
            size: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            md5: Lane::new(Md5AndCheck {
                md5: Md5::new(),
                check,
                refused: None,
            }),
            sha512: Lane::new(Sha512::new()),
        }
    }

    /// Takes the next chunk: refused at once if it passes the limit, or once the check
    /// has refused an earlier batch; otherwise queued for hashing.
    pub(super) async fn take<E>(&mut self, chunk: &Bytes) -> Result<(), WriteError<E>> {
        if self.size + chunk.len() as u64 > self.limits.max_bytes {
            return Err(WriteError::TooLarge {
                limit: self.limits.max_bytes,
            });
        }
        self.size += chunk.len() as u64;
        self.pending_bytes += chunk.len();
        self.pending.push(chunk.clone());
        if self.pending_bytes >= BATCH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush<E>(&mut self) -> Result<(), WriteError<E>> {
        if let Some(refused) = self.md5.settle().await?.refused.take() {
            return Err(WriteError::Refused(refused));
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch: Batch = std::mem::take(&mut self.pending).into();
        self.pending_bytes = 0;
        self.md5.feed(batch.clone(), md5_and_check::<C>).await?;
        self.sha512.feed(batch, sha512).await?;
        Ok(())
    }

    /// End of data: the size, the digests, and the check's verdict.
    pub(super) async fn finish<E>(mut self) -> Result<DataDigest, WriteError<E>> {
        self.flush().await?;
        let md5 = self.md5.finish().await?;
        if let Some(refused) = md5.refused {
            return Err(WriteError::Refused(refused));
        }
        let virtual_size = md5.check.finish().map_err(WriteError::Refused)?;
        let sha512 = self.sha512.finish().await?;
        Ok(DataDigest {
            size: clamp(self.size),
            checksum: hex::encode(md5.md5.finalize()),
            os_hash_algo: OS_HASH_ALGO.to_owned(),
            os_hash_value: hex::encode(sha512.finalize()),
            virtual_size: virtual_size.map(clamp),
        })
    }
}

/// Sizes are `bigint` in Postgres; no store holds 8 EiB, so saturating is only a guard.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoCheck;

    const NO_LIMIT: DataLimits = DataLimits {
        max_bytes: u64::MAX,
    };

    async fn digest_of(data: &[u8], chunk: usize) -> DataDigest {
        let mut pass = Pass::new(NO_LIMIT, NoCheck);
        for piece in data.chunks(chunk.max(1)) {
            pass.take::<()>(&Bytes::copy_from_slice(piece))
                .await
                .expect("no limit");
        }
        pass.finish::<()>().await.expect("nothing refuses")
    }

    #[tokio::test]
    async fn digests_match_known_values_whatever_the_chunking() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let whole = digest_of(data, data.len()).await;
        assert_eq!(whole, digest_of(data, 5).await);
        assert_eq!(whole.size, 43);
        assert_eq!(whole.checksum, "9e107d9d372bb6826bd81d3542a419d6");
        assert!(
            whole
                .os_hash_value
                .starts_with("07e547d9586f6a73f73fbac0435ed76951218fb7")
        );
    }

    #[tokio::test]
    async fn empty_data_has_the_digests_of_nothing() {
        let digest = digest_of(b"", 1).await;
        assert_eq!(digest.size, 0);
        assert_eq!(digest.checksum, "d41d8cd98f00b204e9800998ecf8427e");
    }

    #[tokio::test]
    async fn batches_over_many_chunks_hash_as_one_buffer() {
        // Several batches, with a tail shorter than one.
        let data: Vec<u8> = (0..(3 * BATCH_BYTES + 12_345))
            .map(|i| (i % 253) as u8)
            .collect();
        let digest = digest_of(&data, 10_007).await;
        assert_eq!(digest.checksum, hex::encode(Md5::digest(&data)));
        assert_eq!(digest.os_hash_value, hex::encode(Sha512::digest(&data)));
        assert_eq!(digest.size, data.len() as i64);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn idle_passes_hold_no_blocking_threads() {
        // More stalled streams than tokio has blocking threads (512): each has sent a
        // batch's worth and waits for more. A new pass must still finish.
        let batch = Bytes::from(vec![7u8; BATCH_BYTES]);
        let mut stalled = Vec::new();
        for _ in 0..600 {
            let mut pass = Pass::new(NO_LIMIT, NoCheck);
            pass.take::<()>(&batch).await.expect("no limit");
            stalled.push(pass);
        }
        let digest = tokio::time::timeout(std::time::Duration::from_secs(60), digest_of(b"abc", 1))
            .await
            .expect("a pass finishes while 600 others stall");
        assert_eq!(digest.checksum, "900150983cd24fb0d6963f7d28e17f72");
        drop(stalled);
    }
}
