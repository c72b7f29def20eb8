//! What the janitor asks of an S3 store: the incomplete multipart uploads begun before
//! a cutoff, under the store's own areas only (a bucket may hold others' keys), and
//! their abort. moto dates every upload 2010-11-10, which the cutoffs here bracket.

use chrono::{TimeZone, Utc};
use imagefleet_tests::S3Server;

use super::{PREFIX, RETRY};

#[tokio::test(flavor = "multi_thread")]
async fn uploads_under_the_stores_areas_begun_before_the_cutoff_are_listed_and_aborted() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let store = s3.store(PREFIX, RETRY);
    let ours = [format!("{PREFIX}/images/a"), format!("{PREFIX}/staging/b")];
    let foreign = ["elsewhere/images/c".to_owned(), format!("{PREFIX}/other/d")];
    for key in ours.iter().chain(&foreign) {
        s3.begin_upload(key).await.expect("an upload begins");
    }

    let before_moto_date = Utc
        .with_ymd_and_hms(2010, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid date");
    let none = store
        .incomplete_uploads(before_moto_date)
        .await
        .expect("the listing");
    assert_eq!(none, vec![], "uploads begun after the cutoff were listed");

    let listed = store
        .incomplete_uploads(Utc::now())
        .await
        .expect("the listing");
    let mut keys: Vec<&str> = listed.iter().map(|u| u.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ours, "only the store's areas are listed");

    for upload in &listed {
        store.abort_upload(upload).await.expect("the abort");
    }
    let mut left = s3.incomplete_uploads().await.expect("ListMultipartUploads");
    left.sort_unstable();
    assert_eq!(left, foreign, "only the listed uploads were aborted");
    // An upload aborted meanwhile (by another janitor) is no error.
    store
        .abort_upload(&listed[0])
        .await
        .expect("a second abort");
}
