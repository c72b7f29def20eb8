//! The store against a real local directory: what is written reads back with its
//! digests, and a write that fails for any reason leaves nothing under the key.

use super::*;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use md5::Md5;
use sha2::{Digest, Sha512};
use std::convert::Infallible;

struct TempStore {
    dir: std::path::PathBuf,
    store: ImageStore,
}

impl TempStore {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("imagefleet-store-{}", uuid::Uuid::new_v4()));
        let store = ImageStore::local(&dir).expect("a temporary directory opens as a store");
        Self { dir, store }
    }

    /// Every file under the store's directory, staging files of writes included.
    fn files(&self) -> Vec<std::path::PathBuf> {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.dir, &mut out);
        out
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn chunks(data: &[u8], size: usize) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    let parts: Vec<_> = data
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    stream::iter(parts)
}

const NO_LIMIT: DataLimits = DataLimits {
    max_bytes: u64::MAX,
};

async fn read_all(store: &ImageStore, id: ImageId, range: Option<ByteRange>) -> Vec<u8> {
    let data = store
        .read(Area::Images, id, range)
        .await
        .expect("the store reads")
        .expect("the blob exists");
    let mut out = Vec::new();
    let mut stream = data.stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunks read"));
    }
    out
}

#[tokio::test]
async fn written_data_reads_back_whole_and_by_range_with_its_digest() {
    let temp = TempStore::new();
    let id = ImageId::generate();
    // Over three local parts, so the multipart path and part ordering are exercised.
    let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    let written = temp
        .store
        .write(Area::Images, id, chunks(&data, 70_001), NO_LIMIT, NoCheck)
        .await
        .expect("the write succeeds");
    assert_eq!(written.digest.size, data.len() as i64);
    assert_eq!(written.digest.checksum, hex::encode(Md5::digest(&data)));
    assert_eq!(
        written.digest.os_hash_value,
        hex::encode(Sha512::digest(&data))
    );
    assert_eq!(written.digest.virtual_size, None);
    assert_eq!(read_all(&temp.store, id, None).await, data);
    assert_eq!(read_all(&temp.store, id, Some(10..20)).await, &data[10..20]);
    assert_eq!(temp.files().len(), 1, "only the finished blob remains");
}

#[tokio::test]
async fn a_local_file_is_read_in_blocks_of_a_mebibyte_whatever_the_range() {
    let temp = TempStore::new();
    let id = ImageId::generate();
    let data: Vec<u8> = (0..3_500_000u32).map(|i| (i % 241) as u8).collect();
    temp.store
        .write(Area::Images, id, chunks(&data, 1 << 20), NO_LIMIT, NoCheck)
        .await
        .expect("the write succeeds");
    // Across two block boundaries, starting inside the first block.
    let range = (1 << 20) - 7..(2 << 20) + 9;
    let read = temp
        .store
        .read(Area::Images, id, Some(range.clone()))
        .await
        .expect("the store reads")
        .expect("the blob exists");
    let blocks: Vec<Bytes> = read.stream.try_collect().await.expect("blocks read");
    assert!(blocks.iter().all(|b| b.len() <= 1 << 20), "bounded blocks");
    assert!(
        blocks.len() <= 3,
        "{} reads for two mebibytes",
        blocks.len()
    );
    assert_eq!(
        blocks.concat(),
        &data[range.start as usize..range.end as usize]
    );
    let whole = read_all(&temp.store, id, None).await;
    assert_eq!(whole, data);
}

#[tokio::test]
async fn data_over_the_limit_leaves_nothing_behind() {
    let temp = TempStore::new();
    let id = ImageId::generate();
    let data = vec![7u8; 3 << 20];
    let limits = DataLimits { max_bytes: 2 << 20 };
    let error = temp
        .store
        .write(Area::Images, id, chunks(&data, 65_536), limits, NoCheck)
        .await
        .expect_err("the limit stops the write");
    assert!(matches!(error, WriteError::TooLarge { limit } if limit == 2 << 20));
    assert!(
        !temp
            .store
            .exists(Area::Images, id)
            .await
            .expect("head works")
    );
    assert!(
        temp.files().is_empty(),
        "no partial file is left: {:?}",
        temp.files()
    );
}

/// Refuses the data once it has seen a zero byte.
struct NoZeros;

impl DataCheck for NoZeros {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        if chunk.contains(&0) {
            Err(Refused {
                message: "a zero byte".into(),
                harmful: false,
            })
        } else {
            Ok(())
        }
    }

    fn finish(self) -> Result<Option<u64>, Refused> {
        Ok(Some(42))
    }
}

#[tokio::test]
async fn a_refusing_check_or_a_failing_source_leaves_nothing_behind() {
    let temp = TempStore::new();
    let id = ImageId::generate();
    let mut data = vec![1u8; 2 << 20];
    data[(2 << 20) - 1] = 0;
    let refused = temp
        .store
        .write(Area::Images, id, chunks(&data, 4096), NO_LIMIT, NoZeros)
        .await
        .expect_err("the check refuses");
    assert!(matches!(refused, WriteError::Refused(ref r) if r.message == "a zero byte"));

    let broken = stream::iter(vec![
        Ok(Bytes::from(vec![1u8; 1 << 21])),
        Err("client gone"),
    ]);
    let failed = temp
        .store
        .write(Area::Staging, id, broken, NO_LIMIT, NoCheck)
        .await
        .expect_err("the source fails");
    assert!(matches!(failed, WriteError::Source("client gone")));
    assert!(
        temp.files().is_empty(),
        "no partial file is left: {:?}",
        temp.files()
    );
}

#[tokio::test]
async fn the_check_reports_the_virtual_size_and_deletes_are_idempotent() {
    let temp = TempStore::new();
    let id = ImageId::generate();
    let written = temp
        .store
        .write(Area::Images, id, chunks(b"abc", 1), NO_LIMIT, NoZeros)
        .await
        .expect("the write succeeds");
    assert_eq!(written.digest.virtual_size, Some(42));
    temp.store
        .delete(Area::Images, id)
        .await
        .expect("delete works");
    temp.store
        .delete(Area::Images, id)
        .await
        .expect("a second delete is fine");
    assert!(
        !temp
            .store
            .exists(Area::Images, id)
            .await
            .expect("head works")
    );
}

#[tokio::test]
async fn delete_removes_what_a_write_cut_off_by_a_crash_left() {
    let temp = TempStore::new();
    let (id, other) = (ImageId::generate(), ImageId::generate());
    let images = temp.dir.join("images");
    std::fs::create_dir_all(&images).expect("the area exists");
    // What a process killed mid-write leaves: object_store's temporary files.
    for name in [format!("{id}#1"), format!("{id}#2"), format!("{other}#1")] {
        std::fs::write(images.join(name), b"partial").expect("a leftover");
    }
    temp.store
        .delete(Area::Images, id)
        .await
        .expect("delete works");
    assert_eq!(temp.files(), vec![images.join(format!("{other}#1"))]);
}

#[tokio::test]
async fn a_verified_copy_is_published_only_when_size_and_digests_match() {
    let source = TempStore::new();
    let target = TempStore::new();
    let id = ImageId::generate();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let original = source
        .store
        .write(Area::Images, id, chunks(&data, 7_000), NO_LIMIT, NoCheck)
        .await
        .expect("written")
        .digest;
    let copied = target
        .store
        .write_verified(Area::Images, id, chunks(&data, 9_000), &original)
        .await
        .expect("an identical copy is accepted");
    assert_eq!(copied.digest, original);
    assert_eq!(read_all(&target.store, id, None).await, data);

    let other = ImageId::generate();
    let mut changed = data.clone();
    changed[150_000] ^= 1;
    let shorter = &data[..data.len() - 1];
    let longer = [data.as_slice(), b"x"].concat();
    for wrong in [changed.as_slice(), shorter, longer.as_slice()] {
        let refused = target
            .store
            .write_verified(Area::Images, other, chunks(wrong, 9_000), &original)
            .await;
        assert!(
            matches!(refused, Err(WriteError::Refused(_))),
            "{refused:?}"
        );
        assert!(
            !target
                .store
                .exists(Area::Images, other)
                .await
                .expect("head")
        );
    }
    assert_eq!(
        target.files().len(),
        1,
        "only the good copy: {:?}",
        target.files()
    );
}
