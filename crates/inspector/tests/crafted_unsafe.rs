//! Crafted unsafe images, one table: what Glance's format inspector refuses (qcow2
//! backing and data files, unknown incompatible features, VMDK subformats and extents
//! other than one sparse extent of the file itself, QED) and what we refuse beyond it
//! (qcow v1, a VMDK footer that disagrees with its header, polyglots). Each image is
//! made by `qemu-img` and, where qemu-img cannot write the attack, patched in its
//! header bytes here. Every case is refused whatever the declared format (as unsafe when
//! declared raw or uninspected, where no format check could stop it), and the harmless
//! neighbours of the patched ones are still accepted.

mod common;

use common::{Scratch, edit_descriptor, inspect, inspect_with};
use imagefleet_inspector::{DetectedFormat as F, Inspection, Refusal};

/// Declared formats every case is tried with: the honest ones, `raw` (the
/// CVE-2024-32498 route, where only safety stands between the bytes and QEMU's probe),
/// an uninspected one and a wrong one.
const DECLARED: [&str; 5] = ["qcow2", "vmdk", "raw", "ami", "iso"];

/// `image` with `bytes` written at `at`.
fn patched(image: &[u8], at: usize, bytes: &[u8]) -> Vec<u8> {
    let mut image = image.to_vec();
    image[at..at + bytes.len()].copy_from_slice(bytes);
    image
}

/// A stream-optimized VMDK whose header sends the reader to a footer (grain directory
/// offset all ones): footer marker, a copy of the header, end-of-stream marker.
fn with_footer(stream: &[u8]) -> Vec<u8> {
    let mut image = patched(stream, 56, &[0xff; 8]);
    let mut marker = [0u8; 512];
    marker[12] = 3;
    image.extend_from_slice(&marker);
    image.extend_from_slice(&stream[..512]);
    image.extend_from_slice(&[0u8; 512]);
    image
}

/// The crafted cases: name, image, words the refusal must contain.
fn cases(dir: &Scratch) -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let v3 = dir.create("v3.qcow2", &["-f", "qcow2", "-o", "compat=1.1"], "10M");
    dir.create("base.qcow2", &["-f", "qcow2"], "10M");
    let data_file = dir.create(
        "df.qcow2",
        &["-f", "qcow2", "-o", "data_file=df.raw"],
        "10M",
    );
    let sparse = dir.create("s.vmdk", &["-f", "vmdk"], "10M");
    let stream = dir.create(
        "o.vmdk",
        &["-f", "vmdk", "-o", "subformat=streamOptimized"],
        "10M",
    );
    let footer = with_footer(&stream);
    let at_footer = footer.len() - 1536;
    let mut huge_descriptor = patched(&sparse, 36, &256u64.to_le_bytes());
    huge_descriptor.resize(100_000, 0);
    huge_descriptor[512..90_000].fill(b'#');
    // A protective MBR over the end of the qcow2 feature name table, and a GPT header.
    let mut qcow2_on_gpt = v3.clone();
    qcow2_on_gpt[446..510].fill(0);
    qcow2_on_gpt[446..462].copy_from_slice(&[
        0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff, 1, 0, 0, 0, 0xff, 0xff, 0, 0,
    ]);
    qcow2_on_gpt[510..520].copy_from_slice(b"\x55\xaaEFI PART");
    vec![
        (
            "qcow2 v2 with a backing file",
            dir.create(
                "v2b.qcow2",
                &[
                    "-f",
                    "qcow2",
                    "-o",
                    "compat=0.10",
                    "-b",
                    "base.qcow2",
                    "-F",
                    "qcow2",
                ],
                "10M",
            ),
            "backing file",
        ),
        (
            "qcow2 with an unknown incompatible feature (bit 5)",
            patched(&v3, 79, &[0x20]),
            "unknown incompatible features 0x20",
        ),
        (
            "qcow2 with the highest incompatible feature bit",
            patched(&v3, 72, &[0x80]),
            "unknown incompatible features",
        ),
        (
            "qcow2 naming a data file with the feature bit cleared",
            patched(&data_file, 79, &[0]),
            "names an external data file",
        ),
        (
            "qcow2 version 4",
            patched(&v3, 4, &4u32.to_be_bytes()),
            "version 4",
        ),
        (
            "qcow version 1",
            dir.create("v1.qcow", &["-f", "qcow"], "10M"),
            "version 1",
        ),
        (
            "qcow version 1 with a backing file",
            dir.create(
                "v1b.qcow",
                &["-f", "qcow", "-b", "base.qcow2", "-F", "qcow2"],
                "10M",
            ),
            "version 1",
        ),
        (
            "QED with a backing file",
            dir.create(
                "b.qed",
                &["-f", "qed", "-b", "base.qcow2", "-F", "qcow2"],
                "10M",
            ),
            "QED",
        ),
        (
            "qcow2 header on a GPT disk",
            qcow2_on_gpt,
            "several formats",
        ),
        (
            "VMDK extent naming a file with a backslash",
            edit_descriptor(&sparse, |d| d.replace("\"s.vmdk\"", "\"..\\\\s.vmdk\"")),
            "by path",
        ),
        (
            "VMDK extent naming a parent directory",
            edit_descriptor(&sparse, |d| d.replace("\"s.vmdk\"", "\"../s.vmdk\"")),
            "by path",
        ),
        (
            "VMDK descriptor without extents",
            edit_descriptor(&sparse, |d| d.replace("RW 20480 SPARSE \"s.vmdk\"", "")),
            "exactly one extent",
        ),
        (
            "VMDK descriptor with a ZERO extent",
            edit_descriptor(&sparse, |d| d.replace("SPARSE \"s.vmdk\"", "ZERO")),
            "not a sparse extent",
        ),
        (
            "VMDK descriptor without createType",
            edit_descriptor(&sparse, |d| d.replace("createType", "kind")),
            "no valid createType",
        ),
        (
            "VMDK descriptor that is not ASCII",
            edit_descriptor(&sparse, |d| format!("{d}# caf\u{e9}\n")),
            "not ASCII",
        ),
        (
            "VMDK descriptor longer than the inspected prefix",
            huge_descriptor,
            "too large",
        ),
        (
            "VMDK footer whose header copy moves the descriptor",
            patched(&footer, at_footer + 512 + 28, &2u64.to_le_bytes()),
            "does not match the header",
        ),
        (
            "VMDK footer pointing at another footer",
            patched(&footer, at_footer + 512 + 56, &[0xff; 8]),
            "another footer",
        ),
        (
            "VMDK footer with a wrong marker",
            patched(&footer, at_footer + 12, &[2]),
            "footer marker",
        ),
        (
            "VMDK stream with a wrong end-of-stream marker",
            patched(&footer, at_footer + 1024 + 12, &[1]),
            "end-of-stream marker",
        ),
    ]
}

#[test]
fn every_crafted_unsafe_image_is_refused_whatever_is_declared() {
    let dir = Scratch::new("crafted");
    for (name, image, reason) in cases(&dir) {
        // One chunk for each declared format; every chunking for raw just below.
        for declared in DECLARED {
            match inspect_with(declared, &image, &[usize::MAX]) {
                // Declared as another format, the header may prove a mismatch (415)
                // before the end of the stream shows the danger: refused either way.
                Err(refusal) if refusal.is_unsafe() || !["raw", "ami"].contains(&declared) => {}
                other => panic!("{name} declared {declared}: {other:?}"),
            }
        }
        let refusal = inspect("raw", &image).expect_err(name).to_string();
        assert!(refusal.contains(reason), "{name}: {refusal}");
    }
}

#[test]
fn the_harmless_neighbours_of_the_crafted_images_are_accepted() {
    let dir = Scratch::new("neighbours");
    let accepted = |format, size| -> Result<Inspection, Refusal> {
        Ok(Inspection {
            format,
            virtual_size: Some(size),
        })
    };
    const MIB10: u64 = 10 << 20;
    // One chunk: qemu_images.rs shows the chunking does not matter for these formats.
    let once = |declared, image: &[u8]| inspect_with(declared, image, &[usize::MAX]);
    // Incompatible features QEMU knows: zstd compression (bit 3), extended L2 (bit 4).
    for options in ["compression_type=zstd", "extended_l2=on,cluster_size=128k"] {
        let image = dir.create("k.qcow2", &["-f", "qcow2", "-o", options], "10M");
        assert_eq!(
            once("qcow2", &image),
            accepted(F::Qcow2, MIB10),
            "{options}"
        );
    }
    // The dirty bit (0) is known too.
    let v3 = dir.create("v3.qcow2", &["-f", "qcow2"], "10M");
    assert_eq!(
        once("qcow2", &patched(&v3, 79, &[1])),
        accepted(F::Qcow2, MIB10)
    );
    // A well-formed footer that agrees with the header.
    let stream = dir.create(
        "o.vmdk",
        &["-f", "vmdk", "-o", "subformat=streamOptimized"],
        "10M",
    );
    assert_eq!(
        once("vmdk", &with_footer(&stream)),
        accepted(F::Vmdk, MIB10)
    );
    // A ddb line and comments are fine in a descriptor.
    let sparse = dir.create("s.vmdk", &["-f", "vmdk"], "10M");
    let comment = edit_descriptor(&sparse, |d| {
        format!("{d}# no extents here\nddb.uuid = \"x\"\n")
    });
    assert_eq!(once("vmdk", &comment), accepted(F::Vmdk, MIB10));
}
