//! `image_conversion`: a qcow2 import is stored as raw (staged, and downloaded gzipped
//! behind `image_decompression`, the plugins running in their configured order), with
//! `disk_format`, `size`, `virtual_size` and the hashes of the result; an image whose
//! virtual size would pass the size cap is refused before `qemu-img` runs (VHDX
//! included); a sparse disk larger than the cap converted to qcow2 is accepted; a qcow2
//! image with a backing file never reaches `qemu-img`.

use super::*;
use std::process::Command;

/// A qcow2 image of `raw` (its virtual disk), made by `qemu-img` itself.
fn qcow2_of(raw: &[u8]) -> Vec<u8> {
    let dir = ScratchDir::create("qcow2").expect("a scratch directory");
    let (input, output) = (dir.path().join("in.raw"), dir.path().join("out.qcow2"));
    std::fs::write(&input, raw).expect("write the raw image");
    let status = Command::new("qemu-img")
        .args(["convert", "-f", "raw", "-O", "qcow2"])
        .arg(&input)
        .arg(&output)
        .status()
        .expect("qemu-img is installed");
    assert!(status.success());
    std::fs::read(&output).expect("read the qcow2 image")
}

/// An empty image of `format` and `size` virtual bytes, made by `qemu-img create` with
/// `extra` arguments.
fn created(format: &str, size: u64, extra: &[&str]) -> Vec<u8> {
    let dir = ScratchDir::create("qcow2").expect("a scratch directory");
    let output = dir.path().join("created.img");
    let status = Command::new("qemu-img")
        .args(["create", "-f", format])
        .args(extra)
        .arg(&output)
        .arg(size.to_string())
        .status()
        .expect("qemu-img is installed");
    assert!(status.success());
    std::fs::read(&output).expect("read the created image")
}

/// An empty qcow2 image of `size` virtual bytes.
fn empty_qcow2(size: u64) -> Vec<u8> {
    created("qcow2", size, &[])
}

/// A stack converting to `format` under `domain`, with scratch directories in `scratch`.
async fn converting_to(
    format: ConversionFormat,
    domain: DomainConfig,
    scratch: &ScratchDir,
) -> TestApp {
    let plugins = ImportPlugins {
        order: vec![ImportPlugin::ImageConversion],
        conversion_format: format,
        scratch_dir: scratch.path().to_owned(),
        ..ImportPlugins::default()
    };
    TestApp::start_with_plugins(domain, ImportFilter::default(), plugins).await
}

/// Asserts image `id` is the active raw image of `disk`.
async fn assert_converted(app: &TestApp, id: &str, disk: &[u8]) {
    let task = finished_task(app, id).await;
    assert_eq!(task["status"], "success", "{task}");
    let shown = image(app, &owner(), id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(
        (&shown["disk_format"], &shown["container_format"]),
        (&json!("raw"), &json!("bare"))
    );
    assert_eq!(shown["size"], json!(disk.len()));
    assert_eq!(shown["virtual_size"], json!(disk.len()));
    let (md5, sha512) = reference_digests(disk);
    assert_eq!(
        (&shown["checksum"], &shown["os_hash_value"]),
        (&json!(md5), &json!(sha512))
    );
    assert_eq!(download(app, id).await, disk);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_staged_qcow2_image_is_stored_as_raw_described_by_the_result() {
    let disk = pattern(1 << 20);
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageConversion];
    let app = app_with(order, DomainConfig::default(), None, &scratch).await;
    let id = new_image(&app, &owner(), "qcow2").await;
    stage_and_import(&app, &owner(), &id, qcow2_of(&disk)).await;
    assert_converted(&app, &id, &disk).await;
    scratch_emptied(&scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downloaded_gzipped_qcow2_is_decompressed_then_converted() {
    let disk = pattern(3 << 19);
    let source = HttpSource::start(vec![("disk.qcow2.gz", gzip(&qcow2_of(&disk)))]).await;
    let scratch = scratch();
    let order = vec![
        ImportPlugin::ImageDecompression,
        ImportPlugin::ImageConversion,
    ];
    let app = app_with(order, DomainConfig::default(), Some(&source), &scratch).await;
    let id = new_image(&app, &owner(), "qcow2").await;
    let method = json!({"name": "web-download", "uri": source.url("disk.qcow2.gz")});
    import(&app, &owner(), &id, method).await;
    assert_converted(&app, &id, &disk).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_whose_conversion_would_pass_the_size_cap_is_refused() {
    let cap: i64 = 4 << 20;
    let domain = DomainConfig {
        image_size_cap: cap,
        ..DomainConfig::default()
    };
    // A few hundred KiB of qcow2 describing a 64 MiB disk: raw, it would be 64 MiB.
    let sparse = empty_qcow2(64 << 20);
    assert!((sparse.len() as i64) < cap);
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageConversion];
    let app = app_with(order, domain, None, &scratch).await;
    let id = new_image(&app, &owner(), "qcow2").await;
    stage_and_import(&app, &owner(), &id, sparse).await;
    assert_failed(&app, &id, "over the image size cap", &scratch).await;
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["disk_format"], "qcow2", "the declared format stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sparse_disk_larger_than_the_cap_converts_to_qcow2() {
    let cap: i64 = 4 << 20;
    let domain = DomainConfig {
        image_size_cap: cap,
        ..DomainConfig::default()
    };
    // A 64 MiB virtual disk in little VMDK: as qcow2 it stays small.
    let sparse = created("vmdk", 64 << 20, &[]);
    assert!((sparse.len() as i64) < cap);
    let scratch = scratch();
    let app = converting_to(ConversionFormat::Qcow2, domain, &scratch).await;
    let id = new_image(&app, &owner(), "vmdk").await;
    stage_and_import(&app, &owner(), &id, sparse).await;
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["disk_format"], "qcow2");
    assert_eq!(shown["virtual_size"], json!(64 << 20));
    scratch_emptied(&scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vhdx_image_whose_raw_form_would_pass_the_cap_is_refused() {
    let cap: i64 = 16 << 20;
    let domain = DomainConfig {
        image_size_cap: cap,
        ..DomainConfig::default()
    };
    // About 8 MiB of VHDX metadata describing a 64 MiB disk.
    let vhdx = created("vhdx", 64 << 20, &[]);
    assert!((vhdx.len() as i64) < cap);
    let scratch = scratch();
    let app = converting_to(ConversionFormat::Raw, domain, &scratch).await;
    let id = new_image(&app, &owner(), "vhdx").await;
    stage_and_import(&app, &owner(), &id, vhdx).await;
    assert_failed(&app, &id, "over the image size cap", &scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_qcow2_image_with_a_backing_file_is_refused_before_qemu_img_reads_it() {
    let backed = created("qcow2", 1 << 20, &["-b", "/etc/hostname", "-F", "raw"]);
    let scratch = scratch();
    let app = converting_to(ConversionFormat::Raw, DomainConfig::default(), &scratch).await;
    let id = new_image(&app, &owner(), "qcow2").await;
    stage_and_import(&app, &owner(), &id, backed).await;
    // assert_failed also checks nothing is stored and the scratch area is empty.
    assert_failed(&app, &id, "the image has a backing file", &scratch).await;
}
