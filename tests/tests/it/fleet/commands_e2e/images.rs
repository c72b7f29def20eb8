//! The images of the end-to-end run that go through staging and imports: B is staged
//! and imported with glance-direct; C's web-download import fails, then it gets its
//! data through locations.

use super::*;

/// Image B: staging and a glance-direct import that succeeds.
pub(super) async fn staged_and_imported(b: &mut Bus) {
    let service = Actor::service;
    let ib = ImageId::generate();
    let ub = ib.as_uuid();
    let t1 = TaskId::generate();
    b.step(owner(), create(ib, "b"), &[("image.queued", ub, 1)])
        .await;
    b.step(
        owner(),
        Command::BeginStage(Leased {
            image_id: ib,
            lease_expires_at: lease(),
        }),
        &[("image.uploading", ub, 2)],
    )
    .await;
    let abort = Abort {
        image_id: ib,
        reason: "client went away".into(),
        data_removed: true,
    };
    b.step(
        service(),
        Command::AbortStage(abort),
        &[("image.queued", ub, 3)],
    )
    .await;
    b.step(
        owner(),
        Command::BeginStage(Leased {
            image_id: ib,
            lease_expires_at: lease(),
        }),
        &[("image.uploading", ub, 4)],
    )
    .await;
    b.step(
        service(),
        Command::CompleteStage(domain::command::StagedData {
            image_id: ib,
            size: Some(4),
        }),
        &[("image.updated", ub, 5)],
    )
    .await;
    let import = BeginImport {
        image_id: ib,
        task_id: t1,
        method: ImportMethod::GlanceDirect,
        stores: vec![],
        all_stores_must_succeed: true,
        lease_expires_at: lease(),
        request_id: None,
    };
    b.step(
        owner(),
        Command::BeginImport(import),
        &[
            ("image.importing", ub, 6),
            ("task.pending", t1.as_uuid(), 1),
        ],
    )
    .await;
    b.step(
        service(),
        Command::StartTask(TaskRef { task_id: t1 }),
        &[("task.processing", t1.as_uuid(), 2)],
    )
    .await;
    let done = CompleteImport {
        image_id: ib,
        task_id: t1,
        digest: digest(10),
        stores: Vec::new(),
        converted_to: None,
        injected: Default::default(),
    };
    b.step(
        service(),
        Command::CompleteImport(done),
        &[("image.active", ub, 7), ("task.success", t1.as_uuid(), 3)],
    )
    .await;
}

/// Image C: a web-download import that fails, then locations.
pub(super) async fn web_download_fails_then_locations(b: &mut Bus) {
    let service = Actor::service;
    let ic = ImageId::generate();
    let uc = ic.as_uuid();
    let t2 = TaskId::generate();
    b.step(owner(), create(ic, "c"), &[("image.queued", uc, 1)])
        .await;
    let method = ImportMethod::WebDownload {
        uri: "https://example.org/c.img".into(),
    };
    let import = BeginImport {
        image_id: ic,
        task_id: t2,
        method,
        stores: vec![],
        all_stores_must_succeed: true,
        lease_expires_at: lease(),
        request_id: None,
    };
    b.step(
        owner(),
        Command::BeginImport(import),
        &[
            ("image.importing", uc, 2),
            ("task.pending", t2.as_uuid(), 1),
        ],
    )
    .await;
    b.step(
        service(),
        Command::StartTask(TaskRef { task_id: t2 }),
        &[("task.processing", t2.as_uuid(), 2)],
    )
    .await;
    let failed = FailImport {
        image_id: ic,
        task_id: t2,
        message: "source answered 404".into(),
    };
    b.step(
        service(),
        Command::FailImport(failed),
        &[("image.queued", uc, 3), ("task.failure", t2.as_uuid(), 3)],
    )
    .await;
    let location = |url: &str| Location {
        url: url.into(),
        metadata: serde_json::json!({}),
    };
    let first = AddLocation {
        image_id: ic,
        location: location("https://example.org/1"),
        digest: Some(digest(7)),
    };
    b.step(
        service(),
        Command::AddLocation(first),
        &[("image.active", uc, 4)],
    )
    .await;
    let second = AddLocation {
        image_id: ic,
        location: location("https://example.org/2"),
        digest: None,
    };
    b.step(
        service(),
        Command::AddLocation(second),
        &[("image.updated", uc, 5)],
    )
    .await;
    let remove = RemoveLocation {
        image_id: ic,
        url: "https://example.org/2".into(),
    };
    b.step(
        owner(),
        Command::RemoveLocation(remove),
        &[("image.updated", uc, 6)],
    )
    .await;
}
