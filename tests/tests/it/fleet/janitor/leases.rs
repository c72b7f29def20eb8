//! Stale upload, stage and import leases: given back (the image queued again, an
//! import's task failed) with their data removed; a stale copy-image fails its task and
//! leaves the active image and its data as they were.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn stale_uploads_and_stages_go_back_to_queued_without_their_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let saving = queued(&repo).await;
    lease(&repo, saving, Area::Images, past()).await;
    write_data(&db, Area::Images, saving).await;
    let uploading = queued(&repo).await;
    lease(&repo, uploading, Area::Staging, past()).await;
    write_data(&db, Area::Staging, uploading).await;
    // A live upload (its lease runs on) is read by the same query and must be left be.
    let live = queued(&repo).await;
    lease(&repo, live, Area::Images, future()).await;
    assert_eq!(db.data_files().len(), 2, "two partial files to remove");

    let worker = TestWorker::start(&db, &bus, "janitor");
    wait_until(DEADLINE, "both stale images are queued", async || {
        let a = stored_image(&db, saving).await.status;
        let b = stored_image(&db, uploading).await.status;
        (a.as_str(), b.as_str()) == ("queued", "queued")
    })
    .await
    .expect("the janitor gives stale leases back");
    wait_until(DEADLINE, "no data is left", async || {
        db.data_files().is_empty()
    })
    .await
    .expect("partial data removed");
    for id in [saving, uploading] {
        let image = stored_image(&db, id).await;
        assert_eq!(image.lease_expires_at, None, "lease released");
        assert_eq!(
            (image.size, image.checksum),
            (None, None),
            "no data recorded"
        );
        let last = history(&db, id).await.pop().expect("events");
        assert_eq!(
            last,
            ("queued".into(), Some("janitor".into())),
            "one give-back"
        );
    }
    let live = stored_image(&db, live).await;
    assert_eq!(
        live.status.as_str(),
        "saving",
        "a running lease is not touched"
    );
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_import_fails_its_task_and_leaves_no_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());
    let id = queued(&repo).await;
    lease(&repo, id, Area::Staging, future()).await;
    write_data(&db, Area::Staging, id).await;
    let staged = domain::command::StagedData {
        image_id: id,
        size: Some(4),
    };
    apply(&repo, Actor::service(), Command::CompleteStage(staged)).await;
    let task_id = TaskId::generate();
    let import = BeginImport {
        image_id: id,
        task_id,
        method: ImportMethod::GlanceDirect,
        stores: Vec::new(),
        all_stores_must_succeed: true,
        lease_expires_at: past(),
        request_id: None,
    };
    apply(&repo, owner(), Command::BeginImport(import)).await;
    // The import's worker died part way: its job is gone, a partial copy is left.
    no_jobs(&db).await;
    write_data(&db, Area::Images, id).await;
    assert_eq!(db.data_files().len(), 2, "staged data and a partial copy");

    let worker = TestWorker::start(&db, &bus, "janitor");
    wait_until(DEADLINE, "the image is queued", async || {
        stored_image(&db, id).await.status.as_str() == "queued"
    })
    .await
    .expect("the janitor fails the stale import");
    wait_until(DEADLINE, "no data is left", async || {
        db.data_files().is_empty()
    })
    .await
    .expect("staged and partial data removed");
    let task = stored_task(&db, task_id).await;
    assert_eq!(task.status, TaskStatus::Failure);
    assert_eq!(task.message, IMPORT_LEASE_EXPIRED);
    let image = stored_image(&db, id).await;
    assert_eq!(image.import_task(), None, "the import lock is released");
    assert_eq!(image.lease_expires_at, None);
    worker.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_copy_fails_its_task_and_the_image_keeps_its_status_stores_and_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let stores = db.named_stores(&["fast", "cold"]);
    let domain = DomainConfig {
        stores: stores.ids(),
        ..DomainConfig::default()
    };
    let repo = Repository::new(db.pool().clone(), domain);
    let id = queued(&repo).await;
    lease(&repo, id, Area::Images, future()).await;
    let data = futures::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"the data"))]);
    let limits = DataLimits { max_bytes: 1 << 20 };
    let fast = &stores.get("fast").expect("configured").store;
    let written = fast
        .write(Area::Images, id, data, limits, NoCheck)
        .await
        .expect("data written");
    let uploaded = WithDigest {
        image_id: id,
        digest: written.digest,
        store: Some("fast".to_owned()),
    };
    apply(&repo, Actor::service(), Command::CompleteUpload(uploaded)).await;
    let task_id = TaskId::generate();
    let copy = BeginImport {
        image_id: id,
        task_id,
        method: ImportMethod::CopyImage,
        stores: vec!["cold".to_owned()],
        all_stores_must_succeed: true,
        lease_expires_at: past(),
        request_id: None,
    };
    apply(&repo, admin(), Command::BeginImport(copy)).await;
    // The copy's worker died and its job is lost for good.
    no_jobs(&db).await;

    let worker = TestWorker::start_on_stores(&db, &bus, "janitor", stores.clone(), future_grace());
    wait_until(DEADLINE, "the copy's lock is released", async || {
        stored_image(&db, id).await.import_task().is_none()
    })
    .await
    .expect("the janitor fails the stale copy");
    let image = stored_image(&db, id).await;
    assert_eq!(image.status.as_str(), "active", "a copy changes no status");
    assert_eq!(image.stores, vec!["fast".to_owned()]);
    assert_eq!(image.lease_expires_at, None);
    let task = stored_task(&db, task_id).await;
    assert_eq!(task.status, TaskStatus::Failure);
    assert_eq!(task.message, IMPORT_LEASE_EXPIRED);
    assert!(
        fast.exists(Area::Images, id)
            .await
            .expect("the store answers"),
        "the image's data stays"
    );
    worker.stop().await;
}

/// No multipart uploads in local stores: any grace will do.
fn future_grace() -> Duration {
    Duration::from_secs(3600)
}
