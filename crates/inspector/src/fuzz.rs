//! The body of the `inspect` fuzz target (crates/inspector/fuzz), kept here as a plain
//! function so that stable-toolchain tests can drive it too.

use crate::{Inspection, Inspector, Refusal};

/// Declared formats the fuzz input chooses from with its first byte.
const DECLARED: [&str; 12] = [
    "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ami", "ari", "aki", "ploop", "bogus",
];

/// Runs one fuzz input: byte 0 picks the declared format, byte 1 the chunk size, the
/// rest is the image. Panics (which is what a fuzzer looks for) if the inspector
/// panics, holds more than [`Inspector::MAX_BUFFERED`] bytes, or reaches a different
/// verdict than when fed the image in one chunk.
pub fn fuzz_one(data: &[u8]) {
    let [declared, chunk, image @ ..] = data else {
        return;
    };
    let declared = DECLARED[usize::from(*declared) % DECLARED.len()];
    let chunk = usize::from(*chunk).max(1);
    let chunked = run(declared, image.chunks(chunk));
    let whole = run(declared, std::iter::once(image));
    assert_eq!(chunked, whole, "the verdict depends on the chunking");
}

/// Feeds `chunks` to a fresh inspector, checking the memory bound after each, and
/// returns the verdict.
fn run<'a>(declared: &str, chunks: impl Iterator<Item = &'a [u8]>) -> Result<Inspection, Refusal> {
    let mut inspector = Inspector::new(declared);
    for chunk in chunks {
        let fed = inspector.feed(chunk);
        assert!(
            inspector.buffered_len() <= Inspector::MAX_BUFFERED,
            "memory bound exceeded"
        );
        fed?;
    }
    inspector.finish()
}
