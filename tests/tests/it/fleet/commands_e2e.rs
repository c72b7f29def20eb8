//! Every command type end to end: published on the bus, applied by a worker, visible in
//! Postgres, and announced on the events exchange with the right routing key and
//! envelope.

mod images;

use db::document;
use domain::command::*;
use domain::image::{DataDigest, Location};
use domain::status::{MemberStatus, TaskType};
use domain::{Actor, Command, DomainConfig, ImageId, TaskId};
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, Received, TestBus, TestDb, TestWorker};
use wire::{CommandReply, EVENT_SCHEMA_V1};

struct Bus {
    probe: BusProbe,
    db: TestDb,
}

fn digest(size: i64) -> DataDigest {
    DataDigest {
        size,
        checksum: "0".repeat(32),
        os_hash_algo: "sha512".into(),
        os_hash_value: "0".repeat(128),
        virtual_size: None,
    }
}

/// A lease an hour ahead.
fn lease() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::hours(1)
}

impl Bus {
    /// Sends a command, waits for its reply, then for its events: `expected` lists
    /// (routing key, aggregate id, version) of each event, in order.
    async fn step(&mut self, actor: Actor, command: Command, expected: &[(&str, uuid::Uuid, i64)]) {
        let name = command.type_name();
        let envelope = envelope(actor, command);
        match self.probe.send(&envelope).await {
            CommandReply::Accepted { command_id, .. } => {
                assert_eq!(command_id, envelope.command_id)
            }
            CommandReply::Rejected { message, .. } => panic!("{name} was rejected: {message}"),
        }
        for (key, id, version) in expected {
            let Received { routing_key, event } = self.probe.event().await;
            assert_eq!(routing_key, *key, "{name}: routing key");
            assert_eq!(
                (event.id, event.version),
                (*id, *version),
                "{name}: aggregate and version"
            );
            assert_eq!(event.schema, EVENT_SCHEMA_V1);
            assert_eq!(
                event.command_id,
                envelope.command_id.as_uuid(),
                "{name}: command id"
            );
            assert_eq!(
                event.snapshot["status"].as_str(),
                Some(event.to_status.as_str())
            );
            assert_eq!(event.snapshot["version"].as_i64(), Some(*version));
            if event.aggregate == "image" {
                let mut conn = self.db.conn().await.expect("connection");
                let stored = document::image_by_id(&mut conn, *id)
                    .await
                    .expect("read")
                    .expect("image");
                assert!(
                    stored.version >= *version,
                    "{name}: Postgres holds the change"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_type_is_applied_and_announced() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let config = DomainConfig {
        delayed_delete: true,
        show_multiple_locations: true,
        task_time_to_live: chrono::Duration::zero(),
        ..DomainConfig::default()
    };
    // This test purges and expires by itself: a janitor would race it to both.
    let worker = TestWorker::start_commands_only(&db, &bus, "e2e", config);
    let mut b = Bus {
        probe: BusProbe::with_events(&bus).await,
        db,
    };
    let service = Actor::service;
    let a = ImageId::generate();
    let ua = a.as_uuid();
    let member = |id, member_id: &str| MemberRef {
        image_id: id,
        member_id: member_id.into(),
    };

    // Image A: metadata, sharing, upload, actions, delayed delete, restore, purge; one
    // event each, versions 1 to 17 in order.
    let accept = UpdateMember {
        image_id: a,
        member_id: "p2".into(),
        status: MemberStatus::Accepted,
    };
    let image_a = [
        (owner(), create(a, "a"), "image.queued"),
        (
            owner(),
            set_property(a, "os_distro", "debian"),
            "image.updated",
        ),
        (owner(), add_tag(a, "gold"), "image.updated"),
        (owner(), remove_tag(a, "gold"), "image.updated"),
        (
            owner(),
            Command::AddMember(member(a, "p2")),
            "image.updated",
        ),
        (other(), Command::UpdateMember(accept), "image.updated"),
        (
            owner(),
            Command::RemoveMember(member(a, "p2")),
            "image.updated",
        ),
        (owner(), begin_upload(a), "image.saving"),
        (service(), abort_upload(a), "image.queued"),
        (owner(), begin_upload(a), "image.saving"),
        (service(), complete_upload(a, 4096), "image.active"),
        (
            owner(),
            Command::DeactivateImage(image_ref(a)),
            "image.deactivated",
        ),
        (
            owner(),
            Command::ReactivateImage(image_ref(a)),
            "image.active",
        ),
        (
            owner(),
            Command::DeleteImage(image_ref(a)),
            "image.pending_delete",
        ),
        (admin(), Command::RestoreImage(image_ref(a)), "image.active"),
        (
            owner(),
            Command::DeleteImage(image_ref(a)),
            "image.pending_delete",
        ),
        (
            service(),
            Command::PurgeImage(image_ref(a)),
            "image.deleted",
        ),
    ];
    for (version, (actor, command, key)) in (1..).zip(image_a) {
        b.step(actor, command, &[(key, ua, version)]).await;
    }

    images::staged_and_imported(&mut b).await;
    images::web_download_fails_then_locations(&mut b).await;

    // The tasks API: success then expiry, and a failure.
    let (t3, t4) = (TaskId::generate(), TaskId::generate());
    let input = serde_json::json!({"import_from": "https://example.org/x", "import_from_format": "raw", "image_properties": {}});
    let task = |task_id| CreateTask {
        task_id,
        task_type: TaskType::Import,
        input: input.clone(),
        request_id: None,
    };
    b.step(
        admin(),
        Command::CreateTask(task(t3)),
        &[("task.pending", t3.as_uuid(), 1)],
    )
    .await;
    b.step(
        service(),
        Command::StartTask(TaskRef { task_id: t3 }),
        &[("task.processing", t3.as_uuid(), 2)],
    )
    .await;
    let success = SucceedTask {
        task_id: t3,
        result: serde_json::json!({"image_id": ua}),
    };
    b.step(
        service(),
        Command::SucceedTask(success),
        &[("task.success", t3.as_uuid(), 3)],
    )
    .await;
    b.step(
        service(),
        Command::ExpireTask(TaskRef { task_id: t3 }),
        &[("task.deleted", t3.as_uuid(), 4)],
    )
    .await;
    b.step(
        admin(),
        Command::CreateTask(task(t4)),
        &[("task.pending", t4.as_uuid(), 1)],
    )
    .await;
    let failure = FailTask {
        task_id: t4,
        message: "bad source".into(),
    };
    b.step(
        service(),
        Command::FailTask(failure),
        &[("task.failure", t4.as_uuid(), 2)],
    )
    .await;

    b.probe.close().await;
    worker.stop().await;
}
