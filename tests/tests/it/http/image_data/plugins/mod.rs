//! The import plugins through HTTP (issue 17, item 3): `image_decompression`,
//! `image_conversion` and `inject_image_metadata` on glance-direct and web-download
//! imports, and their failures, which fail the task with its message, return the image
//! to queued and leave neither data nor scratch files behind.

mod conversion;
mod decompression;
mod injection;

use super::*;
use domain::DomainConfig;
use fetch::ImportFilter;
use imagefleet_tests::HttpSource;
use imagefleet_tests::ScratchDir;
use imagefleet_tests::fixtures::owner;
use workers::jobs::{ConversionFormat, ImportPlugin, ImportPlugins};

/// A stack running `order`, whose web-downloads may read `source` and whose jobs make
/// their scratch directories in `scratch`.
async fn app_with(
    order: Vec<ImportPlugin>,
    domain: DomainConfig,
    source: Option<&HttpSource>,
    scratch: &ScratchDir,
) -> TestApp {
    let mut filter = ImportFilter::default();
    if let Some(source) = source {
        filter = filter.allow_host("127.0.0.1").allow_port(source.port());
    }
    let plugins = ImportPlugins {
        order,
        scratch_dir: scratch.path().to_owned(),
        ..ImportPlugins::default()
    };
    TestApp::start_with_plugins(domain, filter, plugins).await
}

/// A scratch parent directory for one test's jobs.
fn scratch() -> ScratchDir {
    ScratchDir::create("plugins").expect("a scratch directory")
}

/// What the jobs left in `scratch` (nothing, once they ended).
fn leftovers(scratch: &ScratchDir) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(scratch.path())
        .expect("the scratch parent exists")
        .flatten()
        .map(|entry| entry.path())
        .collect()
}

/// Stages `data` for image `id` and asks for its glance-direct import.
async fn stage_and_import(app: &TestApp, actor: &Actor, id: &str, data: Vec<u8>) {
    let staged = put_data(app, actor, &format!("/v2/images/{id}/stage"), data).await;
    assert_eq!(staged.status, StatusCode::NO_CONTENT, "{}", staged.text);
    import(app, actor, id, json!({"name": "glance-direct"})).await;
}

/// Asks for an import of image `id` by `method`, which must be accepted.
async fn import(app: &TestApp, actor: &Actor, id: &str, method: Value) {
    let path = format!("/v2/images/{id}/import");
    let accepted = app
        .post_json(&path, actor, json!({ "method": method }))
        .await;
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.text);
}

/// The image's import task once it ended.
async fn finished_task(app: &TestApp, id: &str) -> Value {
    let path = format!("/v2/images/{id}/tasks");
    let admin = imagefleet_tests::fixtures::admin();
    let mut task = Value::Null;
    wait_until(DEADLINE, "the import task ends", async || {
        task = app.get(&path, &admin).await.json["tasks"][0].clone();
        task["status"] == "success" || task["status"] == "failure"
    })
    .await
    .expect("the task ends");
    task
}

/// Asserts the import failed with a message containing `expected`, the image is back
/// to queued without data, and (soon after) no data file nor scratch is left.
async fn assert_failed(app: &TestApp, id: &str, expected: &str, scratch: &ScratchDir) {
    let task = finished_task(app, id).await;
    assert_eq!(task["status"], "failure", "{task}");
    let message = task["message"].as_str().unwrap_or_default();
    assert!(message.contains(expected), "{message}");
    wait_status(app, id, "queued").await;
    let shown = image(app, &owner(), id).await;
    assert!(
        shown["size"].is_null() && shown["checksum"].is_null(),
        "{shown}"
    );
    // The job removes the data right after the image is given back (command first).
    wait_until(DEADLINE, "no data is left", async || {
        app.db.data_files().is_empty()
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", app.db.data_files()));
    scratch_emptied(scratch).await;
}

/// Waits until the scratch area holds nothing: the job's directory is removed on a
/// blocking thread as the job ends, which may come just after the task's answer.
async fn scratch_emptied(scratch: &ScratchDir) {
    wait_until(
        DEADLINE,
        "the job's scratch directory is removed",
        async || leftovers(scratch).is_empty(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", leftovers(scratch)));
}

/// The image's data as downloaded.
async fn download(app: &TestApp, id: &str) -> Vec<u8> {
    let response = app.get(&format!("/v2/images/{id}/file"), &owner()).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    response.bytes.to_vec()
}

/// `data` gzip-compressed.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data).expect("compress in memory");
    encoder.finish().expect("compress in memory")
}

/// A zip archive of `files`, deflated.
fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut archive = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in files {
        archive.start_file(*name, options).expect("zip in memory");
        archive.write_all(data).expect("zip in memory");
    }
    archive.finish().expect("zip in memory").into_inner()
}
