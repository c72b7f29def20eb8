//! `image_conversion`: a qcow2 import is stored as raw (staged, and downloaded gzipped
//! behind `image_decompression`, the plugins running in their configured order), with
//! `disk_format`, `size`, `virtual_size` and the hashes of the result; an image whose
//! virtual size would pass the size cap is refused before `qemu-img` runs.

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

/// An empty qcow2 image of `size` virtual bytes.
fn empty_qcow2(size: u64) -> Vec<u8> {
    let dir = ScratchDir::create("qcow2").expect("a scratch directory");
    let output = dir.path().join("empty.qcow2");
    let status = Command::new("qemu-img")
        .args(["create", "-f", "qcow2"])
        .arg(&output)
        .arg(size.to_string())
        .status()
        .expect("qemu-img is installed");
    assert!(status.success());
    std::fs::read(&output).expect("read the qcow2 image")
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
    assert!(leftovers(&scratch).is_empty(), "{:?}", leftovers(&scratch));
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
