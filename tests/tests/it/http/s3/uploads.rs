//! What the janitor asks of an S3 store: the incomplete multipart uploads begun before
//! a cutoff, under the store's own areas only (a bucket may hold others' keys), and
//! their abort, and the janitor going on past a store it cannot list. moto dates every
//! upload 2010-11-10, which the cutoffs here bracket.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{S3Server, TestBus, TestDb, TestWorker};
use store::{NamedStore, StoreKind, Stores};

use super::{PREFIX, RETRY};

const DEADLINE: Duration = Duration::from_secs(60);

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

#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_cannot_be_listed_does_not_keep_the_janitor_from_the_next() {
    let s3 = S3Server::start().await.expect("moto's S3 server");
    let abandoned = format!("{PREFIX}/images/abandoned");
    s3.begin_upload(&abandoned).await.expect("an upload begins");
    let store = |id: &str, store| NamedStore {
        id: id.to_owned(),
        description: None,
        kind: StoreKind::S3,
        store,
    };
    // The broken store comes first: its listing fails (no such bucket) every round.
    let stores = Stores::named(
        vec![
            store("gone", s3.store_in("no-such-bucket", PREFIX, RETRY)),
            store("s3", s3.store(PREFIX, RETRY)),
        ],
        1,
    );
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let janitor = TestWorker::start_on_stores(&db, &bus, "janitor", stores, Duration::ZERO);
    wait_until(
        DEADLINE,
        "the working store's upload is aborted",
        async || {
            s3.incomplete_uploads()
                .await
                .expect("ListMultipartUploads")
                .is_empty()
        },
    )
    .await
    .expect("the janitor reaches the second store");
    janitor.stop().await;
}
