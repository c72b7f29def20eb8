//! `image_decompression`: gzip (staged) and single-file zip (downloaded) sources are
//! stored decompressed and described by the decompressed bytes; a zip of two files and a
//! gzip bomb fail the import.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_staged_gzip_image_is_stored_decompressed_with_the_digests_of_its_content() {
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageDecompression];
    let app = app_with(order, DomainConfig::default(), None, &scratch).await;
    let id = new_image(&app, &owner(), "raw").await;
    let data = pattern(1_500_000);
    stage_and_import(&app, &owner(), &id, gzip(&data)).await;
    let task = finished_task(&app, &id).await;
    assert_eq!(task["status"], "success", "{task}");
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["size"], json!(data.len()));
    assert_eq!(shown["checksum"], json!(reference_digests(&data).0));
    assert_eq!(download(&app, &id).await, data);
    scratch_emptied(&scratch).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_downloaded_zip_of_one_file_is_stored_as_that_file() {
    let data = pattern(700_000);
    let archive = zip_of(&[("disk.raw", &data)]);
    let source = HttpSource::start(vec![("disk.zip", archive)]).await;
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageDecompression];
    let app = app_with(order, DomainConfig::default(), Some(&source), &scratch).await;
    let id = new_image(&app, &owner(), "raw").await;
    let method = json!({"name": "web-download", "uri": source.url("disk.zip")});
    import(&app, &owner(), &id, method).await;
    assert_eq!(finished_task(&app, &id).await["status"], "success");
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["size"], json!(data.len()));
    assert_eq!(shown["checksum"], json!(reference_digests(&data).0));
    assert_eq!(download(&app, &id).await, data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zip_of_two_files_fails_the_import_and_the_image_goes_back_to_queued() {
    let archive = zip_of(&[("a.raw", &pattern(1000)), ("b.raw", &pattern(2000))]);
    let source = HttpSource::start(vec![("two.zip", archive)]).await;
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageDecompression];
    let app = app_with(order, DomainConfig::default(), Some(&source), &scratch).await;
    let id = new_image(&app, &owner(), "raw").await;
    let method = json!({"name": "web-download", "uri": source.url("two.zip")});
    import(&app, &owner(), &id, method).await;
    assert_failed(
        &app,
        &id,
        "exactly one file; its central directory declares 2 entries",
        &scratch,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gzip_bomb_past_the_size_cap_is_refused() {
    let cap = 1 << 20;
    let domain = DomainConfig {
        image_size_cap: cap,
        ..DomainConfig::default()
    };
    // 64 MiB of zeros compress to about 64 KiB: well within the cap, its content not.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < (cap as usize) / 4);
    let scratch = scratch();
    let order = vec![ImportPlugin::ImageDecompression];
    let app = app_with(order, domain, None, &scratch).await;
    let id = new_image(&app, &owner(), "raw").await;
    stage_and_import(&app, &owner(), &id, bomb).await;
    assert_failed(&app, &id, "decompression bomb", &scratch).await;
}
