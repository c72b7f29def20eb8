//! The mapping over snapshots made the way the repository makes them
//! ([`Event::snapshot`]), so a change to the aggregates' fields shows here.

use super::*;
use domain::event::{ImageChanged, TaskChanged};
use domain::image::{Image, Location, Member};
use domain::status::{ContainerFormat, DiskFormat, ImageStatus, MemberStatus, TaskStatus};
use domain::status::{TaskType, Visibility};
use domain::task::Task;
use domain::{Event, ImageId, TaskId};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600 + secs, 123_456_000).expect("a valid time")
}

fn image(status: ImageStatus) -> Image {
    Image {
        id: ImageId::generate(),
        version: 3,
        status,
        name: Some("cirros".into()),
        visibility: Visibility::Public,
        protected: false,
        os_hidden: false,
        owner: "p1".into(),
        checksum: Some("abc".into()),
        os_hash_algo: Some("sha512".into()),
        os_hash_value: Some("def".into()),
        size: Some(42),
        virtual_size: None,
        min_disk: 1,
        min_ram: 2,
        disk_format: Some(DiskFormat::Raw),
        container_format: Some(ContainerFormat::Bare),
        tags: vec!["a".into()],
        properties: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        members: Vec::new(),
        locations: vec![Location {
            url: "s3://secret@bucket/key".into(),
            metadata: json!({}),
        }],
        stores: Vec::new(),
        created_at: at(0),
        updated_at: at(60),
        deleted_at: None,
        lease_expires_at: None,
    }
}

fn member(id: &str, status: MemberStatus, changed: i64) -> Member {
    Member {
        member_id: id.into(),
        status,
        created_at: at(0),
        updated_at: at(changed),
    }
}

fn map_image(kind: ImageEventKind, image: &Image, previous: Option<&Image>) -> Vec<Notification> {
    let event = Event::Image(ImageChanged {
        kind,
        from_status: None,
        image: image.clone(),
    });
    let previous = previous.map(|p| {
        Event::Image(ImageChanged {
            kind,
            from_status: None,
            image: p.clone(),
        })
        .snapshot()
    });
    notifications(EventFacts {
        event_type: &event.event_type(),
        snapshot: &event.snapshot(),
        previous: previous.as_ref(),
    })
    .expect("maps")
}

fn types(notes: &[Notification]) -> Vec<(&'static str, Priority)> {
    notes.iter().map(|n| (n.event_type, n.priority)).collect()
}

#[test]
fn every_image_event_maps_as_the_table_says() {
    use ImageEventKind as K;
    use Priority::{Error, Info};
    let cases: &[(K, &[(&str, Priority)])] = &[
        (K::Created, &[("image.create", Info)]),
        (K::Updated, &[("image.update", Info)]),
        (K::TagAdded, &[("image.update", Info)]),
        (K::LocationRemoved, &[("image.update", Info)]),
        (K::RemovedFromStore, &[("image.update", Info)]),
        (K::Deactivated, &[("image.update", Info)]),
        (K::UploadStarted, &[("image.prepare", Info)]),
        (K::StageStarted, &[("image.prepare", Info)]),
        (K::ImportStarted, &[("image.prepare", Info)]),
        (
            K::Uploaded,
            &[("image.upload", Info), ("image.activate", Info)],
        ),
        (
            K::Imported,
            &[("image.upload", Info), ("image.activate", Info)],
        ),
        (K::UploadAborted, &[("image.upload", Error)]),
        (K::Killed, &[("image.upload", Error)]),
        (K::ImportFailed, &[("image.upload", Error)]),
        (K::Deleted, &[("image.delete", Info)]),
        (K::DeletePending, &[("image.delete", Info)]),
        (K::Purged, &[]),
    ];
    let image = image(ImageStatus::Active);
    for (kind, expected) in cases {
        let got = map_image(*kind, &image, None);
        assert_eq!(types(&got), expected.to_vec(), "{kind:?}");
    }
}

#[test]
fn the_image_payload_has_glances_fields_and_never_locations() {
    let image = image(ImageStatus::Active);
    let notes = map_image(ImageEventKind::Uploaded, &image, None);
    let payload = &notes[0].payload;
    let mut keys: Vec<&str> = payload
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut expected = vec![
        "id",
        "name",
        "status",
        "visibility",
        "owner",
        "size",
        "virtual_size",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "disk_format",
        "container_format",
        "min_disk",
        "min_ram",
        "protected",
        "is_public",
        "os_hidden",
        "tags",
        "properties",
        "created_at",
        "updated_at",
        "deleted",
        "deleted_at",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(payload["id"], json!(image.id.to_string()));
    assert_eq!(payload["is_public"], json!(true));
    assert_eq!(payload["created_at"], json!("2025-01-01T00:00:00Z"));
    assert_eq!(payload["disk_format"], json!("raw"));
    assert_eq!(payload["properties"], json!({"k": "v"}));
    assert_eq!(payload["deleted"], json!(false));
    assert!(!payload.to_string().contains("secret"), "no location leaks");
}

#[test]
fn a_deleted_image_is_marked_deleted() {
    let mut image = image(ImageStatus::Deleted);
    image.deleted_at = Some(at(90));
    let notes = map_image(ImageEventKind::Deleted, &image, None);
    assert_eq!(notes[0].payload["deleted"], json!(true));
    assert_eq!(
        notes[0].payload["deleted_at"],
        json!("2025-01-01T00:01:30Z")
    );
}

#[test]
fn a_failed_upload_is_an_error_with_a_message() {
    let image = image(ImageStatus::Queued);
    let notes = map_image(ImageEventKind::UploadAborted, &image, None);
    let message = notes[0].payload.as_str().expect("a message string");
    assert!(message.contains(&image.id.to_string()), "{message}");
}

#[test]
fn membership_changes_name_the_member_that_changed() {
    let mut before = image(ImageStatus::Active);
    before.members = vec![member("p2", MemberStatus::Pending, 0)];
    let mut after = before.clone();
    after.members.push(member("p3", MemberStatus::Pending, 60));
    let added = map_image(ImageEventKind::MemberAdded, &after, Some(&before));
    assert_eq!(types(&added), [("image.member.create", Priority::Info)]);
    assert_eq!(added[0].payload["member_id"], json!("p3"));
    assert_eq!(added[0].payload["image_id"], json!(after.id.to_string()));

    let mut accepted = after.clone();
    accepted.members[0] = member("p2", MemberStatus::Accepted, 120);
    let updated = map_image(ImageEventKind::MemberUpdated, &accepted, Some(&after));
    assert_eq!(updated[0].event_type, "image.member.update");
    assert_eq!(updated[0].payload["member_id"], json!("p2"));
    assert_eq!(updated[0].payload["status"], json!("accepted"));
    // Without the earlier snapshot, the most recently changed member.
    let guessed = map_image(ImageEventKind::MemberUpdated, &accepted, None);
    assert_eq!(guessed[0].payload["member_id"], json!("p2"));

    let removed = map_image(ImageEventKind::MemberRemoved, &before, Some(&after));
    assert_eq!(removed[0].event_type, "image.member.delete");
    assert_eq!(removed[0].payload["member_id"], json!("p3"));
    assert_eq!(removed[0].payload["deleted"], json!(true));
}

#[test]
fn a_removed_member_without_the_earlier_snapshot_is_an_error() {
    let event = Event::Image(ImageChanged {
        kind: ImageEventKind::MemberRemoved,
        from_status: None,
        image: image(ImageStatus::Active),
    });
    let result = notifications(EventFacts {
        event_type: &event.event_type(),
        snapshot: &event.snapshot(),
        previous: None,
    });
    assert!(matches!(result, Err(MappingError::MemberUnknown)));
    assert!(needs_previous(&event.event_type()));
}

fn task(status: TaskStatus) -> Task {
    Task {
        id: TaskId::generate(),
        version: 2,
        task_type: TaskType::ApiImageImport,
        status,
        input: json!({"import_req": {"method": {"uri": "https://user:pw@example.com/x"}}}),
        result: None,
        message: String::new(),
        owner: "p1".into(),
        image_id: None,
        request_id: None,
        user_id: None,
        expires_at: None,
        created_at: at(0),
        updated_at: at(1),
        deleted: false,
        deleted_at: None,
    }
}

#[test]
fn task_events_map_and_leave_the_input_out() {
    let cases: &[(TaskEventKind, &[&str])] = &[
        (TaskEventKind::Created, &["task.create"]),
        (TaskEventKind::Started, &["task.run", "task.processing"]),
        (TaskEventKind::Succeeded, &["task.success"]),
        (TaskEventKind::Failed, &["task.failure"]),
        (TaskEventKind::Expired, &["task.delete"]),
    ];
    for (kind, expected) in cases {
        let event = Event::Task(TaskChanged {
            kind: *kind,
            from_status: None,
            task: task(TaskStatus::Processing),
        });
        let notes = notifications(EventFacts {
            event_type: &event.event_type(),
            snapshot: &event.snapshot(),
            previous: None,
        })
        .expect("maps");
        let got: Vec<&str> = notes.iter().map(|n| n.event_type).collect();
        assert_eq!(got, expected.to_vec());
        let payload = &notes[0].payload;
        assert_eq!(payload["type"], json!("api_image_import"));
        assert_eq!(payload["status"], json!("processing"));
        assert!(payload.get("input").is_none());
        assert!(!payload.to_string().contains("pw@"), "no input leaks");
    }
}

#[test]
fn unknown_event_types_and_bad_snapshots_are_errors() {
    let snapshot = json!({"id": "x"});
    for event_type in ["image.exploded", "volume.created", "nodot"] {
        let facts = EventFacts {
            event_type,
            snapshot: &snapshot,
            previous: None,
        };
        assert!(matches!(
            notifications(facts),
            Err(MappingError::UnknownEvent(_))
        ));
    }
    let facts = EventFacts {
        event_type: "image.created",
        snapshot: &snapshot,
        previous: None,
    };
    assert!(matches!(
        notifications(facts),
        Err(MappingError::Snapshot(_))
    ));
}
