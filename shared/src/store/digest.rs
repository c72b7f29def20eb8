//! Size, md5 and sha512 of a byte stream, computed as it passes: Glance's `size`,
//! `checksum` and `os_hash_value`, without a second read of the data.

use crate::domain::image::DataDigest;
use md5::Md5;
use sha2::{Digest, Sha512};

/// The secure hash algorithm every image gets (Glance's default `hashing_algorithm`).
pub const OS_HASH_ALGO: &str = "sha512";

/// Counts and hashes the bytes fed to it.
#[derive(Clone, Default)]
pub struct DigestingCounter {
    size: u64,
    md5: Md5,
    sha512: Sha512,
}

impl std::fmt::Debug for DigestingCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestingCounter")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl DigestingCounter {
    /// Nothing counted yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next bytes into account.
    pub fn update(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        self.md5.update(chunk);
        self.sha512.update(chunk);
    }

    /// Bytes counted so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The digest of everything fed, with the virtual size the format inspector found.
    pub fn finish(self, virtual_size: Option<u64>) -> DataDigest {
        DataDigest {
            size: clamp(self.size),
            checksum: hex::encode(self.md5.finalize()),
            os_hash_algo: OS_HASH_ALGO.to_owned(),
            os_hash_value: hex::encode(self.sha512.finalize()),
            virtual_size: virtual_size.map(clamp),
        }
    }
}

/// Sizes are `bigint` in Postgres; no store holds 8 EiB, so saturating is only a guard.
fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_known_values_whatever_the_chunking() {
        let data = b"The quick brown fox jumps over the lazy dog";
        let mut whole = DigestingCounter::new();
        whole.update(data);
        let mut pieces = DigestingCounter::new();
        for chunk in data.chunks(5) {
            pieces.update(chunk);
        }
        let (whole, pieces) = (whole.finish(None), pieces.finish(None));
        assert_eq!(whole, pieces);
        assert_eq!(whole.size, 43);
        assert_eq!(whole.checksum, "9e107d9d372bb6826bd81d3542a419d6");
        assert!(
            whole
                .os_hash_value
                .starts_with("07e547d9586f6a73f73fbac0435ed76951218fb7")
        );
    }

    #[test]
    fn empty_data_has_the_digests_of_nothing() {
        let digest = DigestingCounter::new().finish(None);
        assert_eq!(digest.size, 0);
        assert_eq!(digest.checksum, "d41d8cd98f00b204e9800998ecf8427e");
    }
}
