//! Property tests: no input panics, the verdict does not depend on the chunking, and
//! the inspector's memory stays under its bound. Inputs are random bytes and real
//! `qemu-img` headers with bytes flipped; `fuzz_one` (the cargo-fuzz target's body)
//! is driven the same way, since cargo-fuzz itself needs a nightly toolchain.

mod common;

use std::sync::OnceLock;

use common::{Scratch, inspect_with};
use imagefleet_inspector::{Inspector, fuzz_one};
use proptest::prelude::*;

const DECLARED: [&str; 11] = [
    "raw", "qcow2", "vmdk", "vhd", "vhdx", "vdi", "iso", "ami", "aki", "ploop", "nonsense",
];

/// Real images, made once per test binary.
fn samples() -> &'static [Vec<u8>] {
    static SAMPLES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let dir = Scratch::new("samples");
        dir.create("base.qcow2", &["-f", "qcow2"], "1M");
        vec![
            dir.create("a.qcow2", &["-f", "qcow2"], "1M"),
            dir.create(
                "b.qcow2",
                &["-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2"],
                "1M",
            ),
            dir.create("s.vmdk", &["-f", "vmdk"], "1M"),
            dir.create(
                "o.vmdk",
                &["-f", "vmdk", "-o", "subformat=streamOptimized"],
                "1M",
            ),
            dir.create("v.vhd", &["-f", "vpc"], "1M"),
            dir.create("f.vhd", &["-f", "vpc", "-o", "subformat=fixed"], "1M"),
            dir.create("x.vhdx", &["-f", "vhdx"], "1M"),
            dir.create("d.vdi", &["-f", "vdi"], "1M"),
        ]
    })
}

/// A sample with `flips` (offset, xor mask) applied; offsets mostly land in the first
/// KiB, where the headers are, and otherwise anywhere.
fn mutated(sample: usize, flips: &[(usize, bool, u8)]) -> Vec<u8> {
    let samples = samples();
    let mut image = samples[sample % samples.len()].clone();
    for &(offset, in_header, mask) in flips {
        let len = if in_header {
            image.len().min(1024)
        } else {
            image.len()
        };
        let at = offset % len;
        image[at] ^= mask.max(1);
    }
    image
}

fn chunk_plan() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1..8usize, 8..600usize, 600..70_000usize], 1..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_and_any_chunking_agrees(
        declared in 0..DECLARED.len(),
        data in prop::collection::vec(any::<u8>(), 0..5000),
        plan in chunk_plan(),
    ) {
        let declared = DECLARED[declared];
        let whole = inspect_with(declared, &data, &[usize::MAX]);
        prop_assert_eq!(inspect_with(declared, &data, &plan), whole);
    }

    #[test]
    fn mutated_headers_never_panic_and_any_chunking_agrees(
        declared in 0..DECLARED.len(),
        sample in 0..8usize,
        flips in prop::collection::vec((any::<usize>(), any::<bool>(), any::<u8>()), 1..8),
        plan in chunk_plan(),
    ) {
        let image = mutated(sample, &flips);
        let declared = DECLARED[declared];
        let whole = inspect_with(declared, &image, &[usize::MAX]);
        prop_assert_eq!(inspect_with(declared, &image, &plan), whole);
    }

    #[test]
    fn memory_stays_bounded_on_long_streams(
        declared in 0..DECLARED.len(),
        sample in 0..8usize,
        flips in prop::collection::vec((any::<usize>(), any::<bool>(), any::<u8>()), 0..4),
        filler in any::<u8>(),
    ) {
        // A real header followed by 8 MiB more, in 64 KiB chunks.
        let image = mutated(sample, &flips);
        let mut inspector = Inspector::new(DECLARED[declared]);
        let more = vec![filler; 64 * 1024];
        let stream = std::iter::once(&image[..]).chain(std::iter::repeat_n(&more[..], 128));
        for chunk in stream {
            let fed = inspector.feed(chunk);
            prop_assert!(inspector.buffered_len() <= Inspector::MAX_BUFFERED);
            if fed.is_err() {
                break;
            }
        }
        prop_assert!(inspector.buffered_len() <= Inspector::MAX_BUFFERED);
    }

    #[test]
    fn fuzz_target_body_holds_on_random_input(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        fuzz_one(&data);
    }

    #[test]
    fn fuzz_target_body_holds_on_mutated_headers(
        declared in any::<u8>(),
        chunk in any::<u8>(),
        sample in 0..8usize,
        flips in prop::collection::vec((any::<usize>(), any::<bool>(), any::<u8>()), 0..8),
        cut in 0..300_000usize,
    ) {
        let image = mutated(sample, &flips);
        let mut data = vec![declared, chunk];
        data.extend_from_slice(&image[..image.len().min(cut)]);
        fuzz_one(&data);
    }
}
