//! Real images made by `qemu-img`, fed in small and odd-sized chunks: detected format,
//! virtual size, mismatch and unsafe verdicts.

mod common;

use common::{Scratch, assert_unsafe, edit_descriptor, inspect};
use imagefleet_inspector::{DetectedFormat as F, Inspection, Inspector, Refusal};

const MIB10: u64 = 10 * 1024 * 1024;

fn accepted(format: F, virtual_size: Option<u64>) -> Result<Inspection, Refusal> {
    Ok(Inspection {
        format,
        virtual_size,
    })
}

fn mismatch(declared: &str, detected: F) -> Result<Inspection, Refusal> {
    Err(Refusal::Mismatch {
        declared: declared.into(),
        detected,
    })
}

#[test]
fn qcow2_is_detected_with_its_virtual_size() {
    let dir = Scratch::new("qcow2");
    for compat in ["0.10", "1.1"] {
        let image = dir.create(
            "a.qcow2",
            &["-f", "qcow2", "-o", &format!("compat={compat}")],
            "10M",
        );
        assert_eq!(inspect("qcow2", &image), accepted(F::Qcow2, Some(MIB10)));
        assert_eq!(inspect("QCOW2", &image), accepted(F::Qcow2, Some(MIB10)));
        // Declared raw: accepted as raw, with the byte count as size (Glance).
        assert_eq!(
            inspect("raw", &image),
            accepted(F::Qcow2, Some(image.len() as u64))
        );
        assert_eq!(inspect("ami", &image), accepted(F::Qcow2, None));
        for declared in ["vmdk", "vhd", "vhdx", "vdi", "iso"] {
            assert_eq!(inspect(declared, &image), mismatch(declared, F::Qcow2));
        }
    }
}

#[test]
fn qcow2_with_a_backing_file_is_unsafe_whatever_is_declared() {
    let dir = Scratch::new("backing");
    dir.create("base.qcow2", &["-f", "qcow2"], "10M");
    let overlay = dir.create(
        "overlay.qcow2",
        &["-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2"],
        "10M",
    );
    for declared in ["qcow2", "raw", "ami", "ploop", "vmdk", "iso"] {
        assert_unsafe(declared, &overlay);
    }
    let err = inspect("raw", &overlay).expect_err("refused");
    assert!(err.to_string().contains("backing file"), "{err}");
}

#[test]
fn qcow2_with_an_external_data_file_is_unsafe() {
    let dir = Scratch::new("datafile");
    let image = dir.create(
        "df.qcow2",
        &["-f", "qcow2", "-o", "data_file=df.raw"],
        "10M",
    );
    for declared in ["qcow2", "raw", "aki"] {
        assert_unsafe(declared, &image);
    }
    assert!(
        inspect("qcow2", &image)
            .expect_err("refused")
            .to_string()
            .contains("data file")
    );
}

#[test]
fn unsafe_qcow2_is_refused_while_streaming() {
    let dir = Scratch::new("early");
    dir.create("base.qcow2", &["-f", "qcow2"], "10M");
    let overlay = dir.create(
        "overlay.qcow2",
        &["-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2"],
        "10M",
    );
    let mut inspector = Inspector::new("raw");
    let refused = overlay
        .chunks(4096)
        .position(|chunk| inspector.feed(chunk).is_err());
    // Refused once the 64 KiB prefix is in, long before the end of the image.
    assert_eq!(refused, Some(15));
    assert!(inspector.feed(b"more").expect_err("refused").is_unsafe());
}

#[test]
fn vmdk_sparse_and_stream_optimized_are_detected() {
    let dir = Scratch::new("vmdk");
    for subformat in ["monolithicSparse", "streamOptimized"] {
        let image = dir.create(
            "s.vmdk",
            &["-f", "vmdk", "-o", &format!("subformat={subformat}")],
            "10M",
        );
        assert_eq!(
            inspect("vmdk", &image),
            accepted(F::Vmdk, Some(MIB10)),
            "{subformat}"
        );
        assert_eq!(
            inspect("raw", &image),
            accepted(F::Vmdk, Some(image.len() as u64))
        );
        assert_eq!(inspect("qcow2", &image), mismatch("qcow2", F::Vmdk));
    }
}

#[test]
fn vmdk_descriptor_files_naming_other_files_are_unsafe() {
    let dir = Scratch::new("vmdkdesc");
    for subformat in [
        "monolithicFlat",
        "twoGbMaxExtentSparse",
        "twoGbMaxExtentFlat",
    ] {
        let image = dir.create(
            "d.vmdk",
            &["-f", "vmdk", "-o", &format!("subformat={subformat}")],
            "10M",
        );
        for declared in ["vmdk", "raw", "ari"] {
            assert_unsafe(declared, &image);
        }
    }
}

#[test]
fn vmdk_descriptor_rules() {
    let dir = Scratch::new("vmdkrules");
    let image = dir.create("s.vmdk", &["-f", "vmdk"], "10M");
    let parent = edit_descriptor(&image, |d| {
        d.replace("parentCID=ffffffff", "parentFileNameHint=\"base.vmdk\"")
    });
    let two = edit_descriptor(&image, |d| {
        d.replace(
            "RW 20480 SPARSE \"s.vmdk\"",
            "RW 10 SPARSE \"s.vmdk\"\nRW 10 SPARSE \"t.vmdk\"",
        )
    });
    let path = edit_descriptor(&image, |d| d.replace("\"s.vmdk\"", "\"/etc/passwd\""));
    let flat = edit_descriptor(&image, |d| d.replace("SPARSE", "FLAT"));
    let kind = edit_descriptor(&image, |d| d.replace("monolithicSparse", "vmfs"));
    let junk = edit_descriptor(&image, |d| format!("{d}\nsomething odd\n"));
    for bad in [&parent, &two, &path, &flat, &kind, &junk] {
        assert_unsafe("vmdk", bad);
        assert_unsafe("raw", bad);
    }
    let comment = edit_descriptor(&image, |d| format!("{d}\n# a comment\n"));
    assert_eq!(inspect("vmdk", &comment), accepted(F::Vmdk, Some(MIB10)));
}

#[test]
fn vhd_dynamic_and_fixed_are_detected() {
    let dir = Scratch::new("vhd");
    let dynamic = dir.create("v.vhd", &["-f", "vpc"], "10M");
    let size = dir.qemu_virtual_size("v.vhd", "vpc");
    assert_eq!(inspect("vhd", &dynamic), accepted(F::Vhd, Some(size)));
    assert_eq!(inspect("vdi", &dynamic), mismatch("vdi", F::Vhd));
    let fixed = dir.create("f.vhd", &["-f", "vpc", "-o", "subformat=fixed"], "10M");
    assert_eq!(
        inspect("vhd", &fixed),
        accepted(F::Vhd, Some(dir.qemu_virtual_size("f.vhd", "vpc")))
    );
    // A fixed VHD is raw data plus a footer: fine as raw, not a qcow2.
    assert_eq!(
        inspect("raw", &fixed),
        accepted(F::Raw, Some(fixed.len() as u64))
    );
    assert_eq!(inspect("qcow2", &fixed), mismatch("qcow2", F::Raw));
    // Raw bytes declared vhd: the footer is missing.
    assert_eq!(
        inspect("vhd", &fixed[..fixed.len() - 512]),
        mismatch("vhd", F::Raw)
    );
}

#[test]
fn differencing_vhd_is_unsafe() {
    let dir = Scratch::new("vhddiff");
    let mut image = dir.create("v.vhd", &["-f", "vpc"], "10M");
    image[60..64].copy_from_slice(&4u32.to_be_bytes());
    assert_unsafe("vhd", &image);
    assert_unsafe("raw", &image);
}

#[test]
fn vhdx_is_detected_with_its_virtual_size() {
    let dir = Scratch::new("vhdx");
    let image = dir.create("x.vhdx", &["-f", "vhdx"], "10M");
    assert_eq!(inspect("vhdx", &image), accepted(F::Vhdx, Some(MIB10)));
    assert_eq!(
        inspect("raw", &image),
        accepted(F::Vhdx, Some(image.len() as u64))
    );
    assert_eq!(inspect("qcow2", &image), mismatch("qcow2", F::Vhdx));
    // Cut before the metadata: malformed when declared vhdx.
    let cut = &image[..1 << 20];
    assert!(matches!(
        inspect("vhdx", cut),
        Err(Refusal::Malformed { .. })
    ));
    assert_eq!(inspect("raw", cut), accepted(F::Vhdx, Some(1 << 20)));
}

/// Offset of the file parameters item of a QEMU-made VHDX.
fn vhdx_file_parameters(image: &[u8]) -> usize {
    let le32 =
        |at: usize| u32::from_le_bytes(image[at..at + 4].try_into().expect("in bounds")) as usize;
    let le64 =
        |at: usize| u64::from_le_bytes(image[at..at + 8].try_into().expect("in bounds")) as usize;
    let guid = [
        0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7,
        0x6b,
    ];
    let meta_guid = [
        0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b, 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88,
        0x6e,
    ];
    let regions = 0x30000;
    let region = (0..le32(regions + 8))
        .map(|i| regions + 16 + 32 * i)
        .find(|&e| image[e..e + 16] == meta_guid)
        .expect("metadata region");
    let meta = le64(region + 16);
    let count = u16::from_le_bytes([image[meta + 10], image[meta + 11]]) as usize;
    let entry = (0..count)
        .map(|i| meta + 32 + 32 * i)
        .find(|&e| image[e..e + 16] == guid)
        .expect("file parameters");
    meta + le32(entry + 16)
}

#[test]
fn differencing_vhdx_is_unsafe() {
    let dir = Scratch::new("vhdxdiff");
    let mut image = dir.create("x.vhdx", &["-f", "vhdx"], "10M");
    let params = vhdx_file_parameters(&image);
    image[params + 4] |= 0b10;
    assert_unsafe("vhdx", &image);
    assert_unsafe("raw", &image);
}

#[test]
fn vdi_is_detected_with_its_virtual_size() {
    let dir = Scratch::new("vdi");
    let image = dir.create("d.vdi", &["-f", "vdi"], "10M");
    assert_eq!(inspect("vdi", &image), accepted(F::Vdi, Some(MIB10)));
    assert_eq!(inspect("vmdk", &image), mismatch("vmdk", F::Vdi));
    assert_eq!(
        inspect("raw", &image),
        accepted(F::Vdi, Some(image.len() as u64))
    );
}

#[test]
fn raw_images_and_random_bytes() {
    let dir = Scratch::new("raw");
    let image = dir.create("r.raw", &["-f", "raw"], "2M");
    assert_eq!(inspect("raw", &image), accepted(F::Raw, Some(2 << 20)));
    assert_eq!(inspect("ploop", &image), accepted(F::Raw, None));
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert_eq!(inspect("qcow2", &noise), mismatch("qcow2", F::Raw));
    assert_eq!(inspect("qcow2", &[]), mismatch("qcow2", F::Raw));
    assert_eq!(inspect("raw", &[]), accepted(F::Raw, Some(0)));
}

#[test]
fn mismatch_is_refused_while_streaming() {
    let mut inspector = Inspector::new("qcow2");
    let zeros = vec![0u8; 4096];
    let refused = (0..1000).position(|_| inspector.feed(&zeros).is_err());
    assert_eq!(refused, Some(15));
    assert!(!inspector.feed(&zeros).expect_err("refused").is_unsafe());
}

#[test]
fn truncated_headers_are_malformed_or_mismatched() {
    let dir = Scratch::new("trunc");
    let qcow2 = dir.create("a.qcow2", &["-f", "qcow2"], "10M");
    assert!(matches!(
        inspect("qcow2", &qcow2[..50]),
        Err(Refusal::Malformed {
            format: "qcow2",
            ..
        })
    ));
    assert_eq!(inspect("raw", &qcow2[..50]), accepted(F::Raw, Some(50)));
    let vmdk = dir.create("s.vmdk", &["-f", "vmdk"], "10M");
    assert!(matches!(
        inspect("vmdk", &vmdk[..600]),
        Err(Refusal::Malformed { format: "vmdk", .. })
    ));
    let vdi = dir.create("d.vdi", &["-f", "vdi"], "10M");
    assert!(matches!(
        inspect("vdi", &vdi[..100]),
        Err(Refusal::Malformed { format: "vdi", .. })
    ));
    assert_eq!(inspect("vdi", &vdi[..60]), mismatch("vdi", F::Raw));
}

/// A minimal ISO 9660 image: an empty system area and a primary volume descriptor.
fn iso(blocks: u32) -> Vec<u8> {
    let mut image = vec![0u8; 40 * 1024];
    let pvd = 0x8000;
    image[pvd] = 1;
    image[pvd + 1..pvd + 6].copy_from_slice(b"CD001");
    image[pvd + 6] = 1;
    image[pvd + 80..pvd + 84].copy_from_slice(&blocks.to_le_bytes());
    image[pvd + 84..pvd + 88].copy_from_slice(&blocks.to_be_bytes());
    image[pvd + 128..pvd + 130].copy_from_slice(&2048u16.to_le_bytes());
    image[pvd + 130..pvd + 132].copy_from_slice(&2048u16.to_be_bytes());
    image
}

/// Writes MBR partition entry `index` and the boot signature.
fn partition(image: &mut [u8], index: usize, kind: u8, start_lba: u32) {
    let entry = 446 + 16 * index;
    image[entry..entry + 16].fill(0);
    image[entry + 1..entry + 4].copy_from_slice(&[0x00, 0x02, 0x00]);
    image[entry + 4] = kind;
    image[entry + 5..entry + 8].copy_from_slice(&[0xff, 0xff, 0xff]);
    image[entry + 8..entry + 12].copy_from_slice(&start_lba.to_le_bytes());
    image[entry + 12..entry + 16].copy_from_slice(&1000u32.to_le_bytes());
    image[510] = 0x55;
    image[511] = 0xaa;
}

fn gpt_disk() -> Vec<u8> {
    let mut image = vec![0u8; 128 * 1024];
    partition(&mut image, 0, 0xee, 1);
    image[512..520].copy_from_slice(b"EFI PART");
    image
}

#[test]
fn iso_is_detected_with_its_virtual_size() {
    let image = iso(20);
    assert_eq!(inspect("iso", &image), accepted(F::Iso, Some(20 * 2048)));
    assert_eq!(
        inspect("raw", &image),
        accepted(F::Iso, Some(image.len() as u64))
    );
    assert_eq!(inspect("qcow2", &image), mismatch("qcow2", F::Iso));
    assert_eq!(
        inspect("iso", &image[..0x8100]),
        Err(Refusal::Malformed {
            format: "iso",
            reason: "the ISO volume descriptor is truncated".into()
        })
    );
}

#[test]
fn hybrid_iso_with_a_partition_table_is_an_iso() {
    let mut image = iso(20);
    partition(&mut image, 0, 0xee, 1);
    image[512..520].copy_from_slice(b"EFI PART");
    assert_eq!(inspect("iso", &image), accepted(F::Iso, Some(20 * 2048)));
    // Its MBR is part of the ISO and not held to the protective-MBR rules.
    partition(&mut image, 1, 0xef, 64);
    assert_eq!(inspect("iso", &image), accepted(F::Iso, Some(20 * 2048)));
}

#[test]
fn qcow2_header_on_an_iso_is_unsafe() {
    let dir = Scratch::new("isoqcow2");
    let qcow2 = dir.create("a.qcow2", &["-f", "qcow2"], "10M");
    let mut image = iso(20);
    image[..512].copy_from_slice(&qcow2[..512]);
    for declared in ["iso", "qcow2", "raw"] {
        assert_unsafe(declared, &image);
    }
    assert!(
        inspect("raw", &image)
            .expect_err("refused")
            .to_string()
            .contains("several formats")
    );
}

#[test]
fn gpt_and_mbr_disks_are_raw() {
    let gpt = gpt_disk();
    assert_eq!(
        inspect("raw", &gpt),
        accepted(F::Gpt, Some(gpt.len() as u64))
    );
    assert_eq!(inspect("qcow2", &gpt), mismatch("qcow2", F::Gpt));
    let mut mbr = vec![0u8; 4096];
    partition(&mut mbr, 0, 0x83, 2048);
    mbr[446] = 0x80;
    assert_eq!(inspect("raw", &mbr), accepted(F::Mbr, Some(4096)));
    // A boot sector with code where the table would be is no partition table.
    let mut vbr = mbr.clone();
    vbr[446..510].fill(0x33);
    assert_eq!(inspect("raw", &vbr), accepted(F::Raw, Some(4096)));
}

#[test]
fn inconsistent_protective_mbr_is_unsafe() {
    let mut hybrid = gpt_disk();
    partition(&mut hybrid, 1, 0x83, 2048);
    assert_unsafe("raw", &hybrid);
    let mut offset = gpt_disk();
    partition(&mut offset, 0, 0xee, 2);
    assert_unsafe("raw", &offset);
}

#[test]
fn text_descriptor_beyond_the_prefix_is_unsafe() {
    let mut text = "# padding\n".repeat(8000).into_bytes();
    text.extend_from_slice(b"createType=\"monolithicFlat\"\nRW 20480 FLAT \"/etc/shadow\" 0\n");
    assert!(text.len() > 64 * 1024);
    assert_unsafe("raw", &text);
    // Declared vmdk, the prefix already proves there is no sparse header: a mismatch.
    assert_eq!(inspect("vmdk", &text), mismatch("vmdk", F::Raw));
    assert_unsafe("vmdk", &text[text.len() - 100..]);
    // Text without a createType is just raw.
    let plain = "# padding\n".repeat(8000).into_bytes();
    assert_eq!(
        inspect("raw", &plain),
        accepted(F::Raw, Some(plain.len() as u64))
    );
}
