//! One pass over a byte stream, as it is written or read from a location: the size
//! limit is checked inline, while md5 and the data check run on one blocking thread and
//! sha512 on another. Hashing is the slowest part of an upload (sha512 and md5 are each
//! slower than the disk here), so the two digests run side by side instead of one after
//! the other, and neither blocks the async runtime that serves requests.
//!
//! Chunks go to the threads in batches of shared `Bytes` handles (no copy) through
//! bounded channels, so a slow hash slows the stream down instead of buffering it.

use bytes::Bytes;
use md5::Md5;
use sha2::{Digest, Sha512};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::StoreError;
use super::write::{DataCheck, DataLimits, Refused, WriteError};
use crate::domain::image::DataDigest;

/// The secure hash algorithm every image gets (Glance's default `hashing_algorithm`).
pub const OS_HASH_ALGO: &str = "sha512";

/// Bytes gathered before a batch goes to the hashing threads: large enough that the
/// hand-over costs nothing next to the hashing, small enough to keep memory flat.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches waiting per thread; with [`BATCH_BYTES`] this bounds what a pass holds.
const BATCHES_IN_FLIGHT: usize = 4;

type Batch = std::sync::Arc<[Bytes]>;

/// A blocking thread fed batches until its sender is dropped.
struct Lane<T> {
    sender: Option<mpsc::Sender<Batch>>,
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Lane<T> {
    /// Starts `work` on a blocking thread; it receives the batches and returns its result
    /// when they end (or earlier, to refuse the data).
    fn spawn(work: impl FnOnce(mpsc::Receiver<Batch>) -> T + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
        Self {
            sender: Some(sender),
            handle: Some(tokio::task::spawn_blocking(move || work(receiver))),
        }
    }

    /// Hands a batch over; false if the thread has already ended.
    async fn send(&self, batch: Batch) -> bool {
        match &self.sender {
            Some(sender) => sender.send(batch).await.is_ok(),
            None => false,
        }
    }

    /// Ends the input and waits for the result.
    async fn join(&mut self) -> Result<T, StoreError> {
        self.sender = None;
        let handle = self.handle.take().ok_or(StoreError::Hashing)?;
        handle.await.map_err(|_| StoreError::Hashing)
    }
}

/// What the md5 thread returns: the md5 digest and what the check found.
type CheckedMd5 = Result<(String, Option<u64>), Refused>;

/// The size limit, the digests and the check over every chunk of one stream.
pub(super) struct Pass {
    limits: DataLimits,
    size: u64,
    pending: Vec<Bytes>,
    pending_bytes: usize,
    md5: Lane<CheckedMd5>,
    sha512: Lane<String>,
}

impl Pass {
    /// Starts the hashing threads.
    pub(super) fn new<C: DataCheck + Send + 'static>(limits: DataLimits, check: C) -> Self {
        Self {
            limits,
            size: 0,
            pending: Vec::new(),
            pending_bytes: 0,
            md5: Lane::spawn(move |batches| md5_and_check(batches, check)),
            sha512: Lane::spawn(sha512),
        }
    }

    /// Takes the next chunk: refused at once if it passes the limit, otherwise queued
    /// for the hashing threads.
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
        if self.pending.is_empty() {
            return Ok(());
        }
        let batch: Batch = std::mem::take(&mut self.pending).into();
        self.pending_bytes = 0;
        // The md5 thread ends early only when the check refused the data.
        if !self.md5.send(batch.clone()).await {
            return match self.md5.join().await? {
                Err(refused) => Err(WriteError::Refused(refused)),
                Ok(_) => Err(StoreError::Hashing.into()),
            };
        }
        if !self.sha512.send(batch).await {
            return Err(StoreError::Hashing.into());
        }
        Ok(())
    }

    /// End of data: the size, the digests, and the check's verdict.
    pub(super) async fn finish<E>(mut self) -> Result<DataDigest, WriteError<E>> {
        self.flush().await?;
        let (checksum, virtual_size) = self.md5.join().await?.map_err(WriteError::Refused)?;
        let os_hash_value = self.sha512.join().await?;
        Ok(DataDigest {
            size: clamp(self.size),
            checksum,
            os_hash_algo: OS_HASH_ALGO.to_owned(),
            os_hash_value,
            virtual_size: virtual_size.map(clamp),
        })
    }
}

fn md5_and_check(mut batches: mpsc::Receiver<Batch>, mut check: impl DataCheck) -> CheckedMd5 {
    let mut md5 = Md5::new();
    while let Some(batch) = batches.blocking_recv() {
        for chunk in batch.iter() {
            md5.update(chunk);
            check.feed(chunk)?;
        }
    }
    let virtual_size = check.finish()?;
    Ok((hex::encode(md5.finalize()), virtual_size))
}

fn sha512(mut batches: mpsc::Receiver<Batch>) -> String {
    let mut sha512 = Sha512::new();
    while let Some(batch) = batches.blocking_recv() {
        for chunk in batch.iter() {
            sha512.update(chunk);
        }
    }
    hex::encode(sha512.finalize())
}

/// Sizes are `bigint` in Postgres; no store holds 8 EiB, so saturating is only a guard.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NoCheck;

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
}
