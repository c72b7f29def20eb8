//! `PUT /v2/images/{id}/file`: the digests of what was stored, and every refusal leaves
//! the image queued with no data behind, so a correct retry works.

use super::*;
use axum::body::Body;
use axum::http::Request;
use bytes::Bytes;
use domain::DomainConfig;
use imagefleet_tests::fixtures::{admin, owner, reader};

#[tokio::test(flavor = "multi_thread")]
async fn an_upload_makes_the_image_active_with_the_digests_of_md5sum_and_sha512sum() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let data = pattern(3 << 20);
    let response = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{id}/file"),
        data.clone(),
    )
    .await;
    assert_eq!(response.status, StatusCode::NO_CONTENT, "{}", response.text);
    let shown = image(&app, &owner(), &id).await;
    let (md5, sha512) = reference_digests(&data);
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["size"], data.len());
    assert_eq!(shown["virtual_size"], data.len());
    assert_eq!(shown["checksum"], md5);
    assert_eq!(shown["os_hash_algo"], "sha512");
    assert_eq!(shown["os_hash_value"], sha512);
    assert_eq!(app.db.data_files().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_upload_makes_an_active_image_of_size_zero() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let response = put_data(&app, &owner(), &format!("/v2/images/{id}/file"), Vec::new()).await;
    assert_eq!(response.status, StatusCode::NO_CONTENT, "{}", response.text);
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(
        (shown["status"].clone(), shown["size"].clone()),
        (json!("active"), json!(0))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn uploads_are_refused_by_media_type_status_role_and_formats() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let path = format!("/v2/images/{id}/file");
    let json = app
        .request(
            Method::PUT,
            &path,
            Some(&owner()),
            Some(("application/json", b"{}".to_vec())),
        )
        .await;
    assert_eq!(
        json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        json.text
    );
    let by_reader = put_data(&app, &reader(), &path, b"x".to_vec()).await;
    assert_eq!(
        by_reader.status,
        StatusCode::FORBIDDEN,
        "{}",
        by_reader.text
    );
    let unknown = put_data(
        &app,
        &owner(),
        "/v2/images/6f1e3a52-1d1c-4a5f-9c41-0c3b5e0f9a77/file",
        b"x".to_vec(),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.text);

    let bare = app
        .post_json("/v2/images", &owner(), json!({"name": "no formats"}))
        .await;
    let bare_id = bare.json["id"].as_str().expect("id");
    let no_formats = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{bare_id}/file"),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(
        no_formats.status,
        StatusCode::BAD_REQUEST,
        "{}",
        no_formats.text
    );

    assert_eq!(
        put_data(&app, &owner(), &path, b"first".to_vec())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let again = put_data(&app, &owner(), &path, b"second".to_vec()).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    let stage = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{id}/stage"),
        b"x".to_vec(),
    )
    .await;
    assert_eq!(stage.status, StatusCode::CONFLICT, "{}", stage.text);
    let shown = image(&app, &admin(), &id).await;
    assert_eq!(shown["size"], 5, "the first data stays");
}

#[tokio::test(flavor = "multi_thread")]
async fn data_over_the_size_cap_is_413_and_leaves_the_image_queued_without_data() {
    let cap = 1 << 20;
    let domain = DomainConfig {
        image_size_cap: cap,
        ..DomainConfig::default()
    };
    let settings = api_gateway::Settings {
        image_size_cap: cap as u64,
        ..Default::default()
    };
    let app = TestApp::start_with(
        domain,
        settings,
        api_gateway::identity::AuthMode::Headers,
        None,
    )
    .await;
    let id = new_image(&app, &owner(), "raw").await;
    let path = format!("/v2/images/{id}/file");
    let response = put_data(&app, &owner(), &path, pattern((1 << 20) + 1)).await;
    assert_eq!(
        response.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        response.text
    );
    assert_eq!(image(&app, &owner(), &id).await["status"], "queued");
    assert!(app.db.data_files().is_empty(), "{:?}", app.db.data_files());
    let retry = put_data(&app, &owner(), &path, pattern(1 << 20)).await;
    assert_eq!(
        retry.status,
        StatusCode::NO_CONTENT,
        "a retry within the cap works: {}",
        retry.text
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_storage_quota_counts_the_projects_other_images() {
    let settings = api_gateway::Settings {
        user_storage_quota: Some(1000),
        ..Default::default()
    };
    let app = TestApp::start_with(
        DomainConfig::default(),
        settings,
        api_gateway::identity::AuthMode::Headers,
        None,
    )
    .await;
    let first = new_image(&app, &owner(), "raw").await;
    let put = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{first}/file"),
        pattern(600),
    )
    .await;
    assert_eq!(put.status, StatusCode::NO_CONTENT, "{}", put.text);
    let second = new_image(&app, &owner(), "raw").await;
    let over = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{second}/file"),
        pattern(600),
    )
    .await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
    assert_eq!(image(&app, &owner(), &second).await["status"], "queued");
    let within = put_data(
        &app,
        &owner(),
        &format!("/v2/images/{second}/file"),
        pattern(400),
    )
    .await;
    assert_eq!(within.status, StatusCode::NO_CONTENT, "{}", within.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_upload_returns_the_image_to_queued_without_data() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "raw").await;
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from(pattern(2 << 20))),
        Err(std::io::Error::other("client went away")),
    ];
    let request = Request::builder()
        .method(Method::PUT)
        .uri(format!("/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .header("x-project-id", &owner().project_id)
        .header("x-user-id", &owner().user_id)
        .header("x-roles", "member,reader")
        .body(Body::from_stream(futures::stream::iter(parts)))
        .expect("request");
    let response = app.send(request).await;
    assert_eq!(
        response.status,
        StatusCode::BAD_REQUEST,
        "{}",
        response.text
    );
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["status"], "queued");
    assert_eq!(shown["checksum"], Value::Null);
    assert!(app.db.data_files().is_empty(), "{:?}", app.db.data_files());
}

#[tokio::test(flavor = "multi_thread")]
async fn data_that_is_not_the_declared_format_is_415_and_a_correct_retry_works() {
    let app = TestApp::start().await;
    let id = new_image(&app, &owner(), "qcow2").await;
    let path = format!("/v2/images/{id}/file");
    let random = put_data(&app, &owner(), &path, pattern(200_000)).await;
    assert_eq!(
        random.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        random.text
    );
    assert_eq!(image(&app, &owner(), &id).await["status"], "queued");
    assert!(app.db.data_files().is_empty(), "{:?}", app.db.data_files());
    let qcow2 = qemu_image("qcow2", &[]);
    let retry = put_data(&app, &owner(), &path, qcow2).await;
    assert_eq!(retry.status, StatusCode::NO_CONTENT, "{}", retry.text);
    let shown = image(&app, &owner(), &id).await;
    assert_eq!(shown["virtual_size"], 64 << 20, "from the qcow2 header");
}

/// Unsafe images, one of each kind of refusal (the inspector's own tests hold the full
/// crafted set): each declared format in turn, made by `qemu-img` or patched.
pub fn unsafe_images() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut unknown_feature = qemu_image("qcow2", &[]);
    unknown_feature[79] |= 0x20;
    let mut differencing = qemu_image("vpc", &[]);
    differencing[60..64].copy_from_slice(&4u32.to_be_bytes());
    vec![
        (
            "qcow2 with a backing file",
            "raw",
            qemu_image("qcow2", &["-b", "/etc/passwd", "-F", "raw"]),
        ),
        (
            "qcow2 with an external data file",
            "qcow2",
            qemu_image("qcow2", &["-o", "data_file=data.raw"]),
        ),
        ("qcow2 with an unknown feature", "qcow2", unknown_feature),
        ("QED", "raw", qemu_image("qed", &[])),
        (
            "VMDK descriptor file",
            "vmdk",
            qemu_image("vmdk", &["-o", "subformat=monolithicFlat"]),
        ),
        ("differencing VHD", "vhd", differencing),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn unsafe_images_are_refused_as_unsafe_and_leave_the_image_queued() {
    let app = TestApp::start().await;
    for (name, declared, data) in unsafe_images() {
        let id = new_image(&app, &owner(), declared).await;
        let response = put_data(&app, &owner(), &format!("/v2/images/{id}/file"), data).await;
        assert_eq!(
            response.status,
            StatusCode::BAD_REQUEST,
            "{name}: {}",
            response.text
        );
        assert!(
            response.text.contains("unsafe"),
            "{name}: {}",
            response.text
        );
        assert_eq!(
            image(&app, &owner(), &id).await["status"],
            "queued",
            "{name}"
        );
    }
    assert!(app.db.data_files().is_empty(), "{:?}", app.db.data_files());
}

/// A 64 MiB image of `format` made by `qemu-img create` with extra arguments, run in a
/// directory of its own (removed after): some formats write more than one file, and
/// relative names in `extra` (a data file) land there too.
pub fn qemu_image(format: &str, extra: &[&str]) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("imagefleet-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let path = dir.join(format!("image.{format}"));
    let status = std::process::Command::new("qemu-img")
        .current_dir(&dir)
        .args(["create", "-q", "-f", format])
        .args(extra)
        .arg(&path)
        .arg("64M")
        .status()
        .expect("qemu-img is installed");
    assert!(status.success(), "qemu-img create failed");
    let bytes = std::fs::read(&path).expect("the image file");
    let _ = std::fs::remove_dir_all(&dir);
    bytes
}
