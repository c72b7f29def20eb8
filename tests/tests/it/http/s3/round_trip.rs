//! An image's life on S3: the upload becomes one object with the digests of the bytes
//! sent, whole and ranged downloads (a range across a part boundary) return the bytes,
//! no upload stays incomplete, and deleting the image removes the object.

use axum::http::StatusCode;
use imagefleet_tests::fixtures::owner;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{S3Server, TestApp};

use super::{IMAGE_SIZE, KEEP_UPLOADS, PREFIX, RETRY, get_file, image_key, upload_active};
use crate::http::image_data::{DEADLINE, pattern, reference_digests};

#[tokio::test(flavor = "multi_thread")]
async fn an_image_uploads_downloads_by_range_and_deletes_on_s3() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let app = TestApp::start_on_stores(s3.single_store(PREFIX, RETRY), KEEP_UPLOADS).await;
    let data = pattern(IMAGE_SIZE);
    let (md5, sha512) = reference_digests(&data);

    let (id, stored) = upload_active(&app, &data).await;
    assert_eq!(stored["size"], IMAGE_SIZE);
    assert_eq!(stored["checksum"], md5.as_str());
    assert_eq!(stored["os_hash_value"], sha512.as_str());
    assert!(s3.has_object(&image_key(&id)).await.expect("HEAD"));
    let incomplete = s3.incomplete_uploads().await.expect("ListMultipartUploads");
    assert_eq!(incomplete, Vec::<String>::new());

    let whole = get_file(&app, &owner(), &id, None).await;
    assert_eq!(whole.status, StatusCode::OK);
    assert!(whole.bytes == data, "the downloaded bytes differ");
    // Across the boundary of the first 5 MiB part.
    let (first, last) = ((5 << 20) - 1000, (5 << 20) + 999);
    let range = format!("bytes={first}-{last}");
    let part = get_file(&app, &owner(), &id, Some(&range)).await;
    assert_eq!(part.status, StatusCode::PARTIAL_CONTENT);
    assert!(part.bytes == data[first..=last], "the range's bytes differ");

    let deleted = app.delete(&format!("/v2/images/{id}"), &owner()).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text);
    wait_until(DEADLINE, "the deleted image's object is gone", async || {
        !s3.has_object(&image_key(&id)).await.expect("HEAD")
    })
    .await
    .expect("the delete removes the object");
    app.stop().await;
}
