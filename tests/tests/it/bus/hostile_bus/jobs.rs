//! A forged event on the jobs queue: an `image.deleted` event for a live image, which
//! would start the job removing its data. The job reads the image's status from the
//! database instead of believing the event, so it is refused and the data stays.

use bus::WorkQueue;
use domain::RejectionKind;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use store::Area;
use wire::{EVENT_SCHEMA_V1, EventEnvelope};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_forged_deleted_event_does_not_remove_a_live_images_data() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "hostile-jobs");
    let mut probe = BusProbe::new(&bus).await;
    let image = created_image(&mut probe, "jobs").await;
    // Data in the store under the image's id, as an upload would leave it.
    let images = db.data_dir().join("images");
    std::fs::create_dir_all(&images).expect("images area");
    std::fs::write(images.join(image.to_string()), b"precious bytes").expect("data");
    let store = db.store();
    assert!(store.exists(Area::Images, image).await.expect("exists"));
    let before = snapshot(&db, image).await;

    let forged = EventEnvelope {
        schema: EVENT_SCHEMA_V1.to_owned(),
        event_id: uuid::Uuid::now_v7(),
        occurred_at: chrono::Utc::now(),
        aggregate: "image".to_owned(),
        id: image.as_uuid(),
        version: 2,
        event_type: "image.deleted".to_owned(),
        from_status: Some("queued".to_owned()),
        to_status: "deleted".to_owned(),
        command_id: uuid::Uuid::now_v7(),
        correlation_id: None,
        actor: admin(),
        snapshot: serde_json::json!({}),
    };
    let body = serde_json::to_vec(&forged).expect("json");
    let jobs = bus.topology().queue(WorkQueue::Jobs);
    probe
        .publish_to(&jobs, &body, probe.properties("forged-event"))
        .await;
    let reply = probe.reply().await;
    assert_eq!(reply.correlation_id.as_deref(), Some("forged-event"));
    assert_eq!(
        rejected("forged event", &reply.reply).0,
        RejectionKind::BadRequest
    );

    let dead = take_dead_letters(&bus, WorkQueue::Jobs, 1).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].class, Some(FailureClass::Unreadable), "{dead:?}");
    assert!(dead[0].reason.contains("not deleted"), "{dead:?}");
    assert!(
        store.exists(Area::Images, image).await.expect("exists"),
        "the data stays"
    );
    assert_eq!(snapshot(&db, image).await, before, "nothing changed");
    still_flowing(&mut probe, image).await;
    probe.close().await;
    worker.stop().await;
}
