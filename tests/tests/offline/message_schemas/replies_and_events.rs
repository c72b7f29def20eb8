//! Replies and events: what serde writes validates against their schemas, malformed
//! ones do not.

use super::*;

fn example_image() -> Image {
    Image {
        id: ImageId::generate(),
        version: 4,
        status: ImageStatus::Active,
        name: Some("cirros".to_owned()),
        visibility: Visibility::Shared,
        protected: false,
        os_hidden: false,
        owner: fixtures::OWNER_PROJECT.to_owned(),
        checksum: Some(digest().checksum),
        os_hash_algo: Some(digest().os_hash_algo),
        os_hash_value: Some(digest().os_hash_value),
        size: Some(digest().size),
        virtual_size: None,
        min_disk: 0,
        min_ram: 0,
        disk_format: Some(DiskFormat::Raw),
        container_format: Some(ContainerFormat::Bare),
        tags: vec!["ubuntu".to_owned()],
        properties: [("os_distro".to_owned(), "cirros".to_owned())].into(),
        members: vec![Member {
            member_id: "p2".to_owned(),
            status: MemberStatus::Pending,
            created_at: at(1),
            updated_at: at(2),
        }],
        locations: vec![location()],
        stores: vec!["fast".to_owned()],
        created_at: at(1),
        updated_at: at(3),
        deleted_at: None,
        lease_expires_at: None,
    }
}

fn example_task(image_id: ImageId) -> Task {
    Task {
        id: TaskId::generate(),
        version: 3,
        task_type: TaskType::ApiImageImport,
        status: TaskStatus::Success,
        input: json!({"import_req": {"method": {"name": "glance-direct"}}}),
        result: Some(json!({"image_id": image_id})),
        message: String::new(),
        owner: fixtures::OWNER_PROJECT.to_owned(),
        image_id: Some(image_id),
        request_id: Some("req-1".to_owned()),
        user_id: Some("u1".to_owned()),
        expires_at: Some(at(23)),
        created_at: at(1),
        updated_at: at(3),
        deleted: false,
        deleted_at: None,
    }
}

#[test]
fn replies_validate_and_malformed_ones_do_not() {
    let validator = validator(COMMAND_REPLY_V1);
    let image = example_image();
    let replies = [
        CommandReply::Accepted {
            command_id: CommandId::generate(),
            replayed: false,
            result: Box::new(CommandResult {
                task: Some(example_task(image.id)),
                events: vec![RecordedEvent {
                    event_id: uuid::Uuid::now_v7(),
                    aggregate_id: image.id.as_uuid(),
                    version: image.version,
                    routing_key: "image.active".to_owned(),
                }],
                image: Some(image),
            }),
        },
        CommandReply::Accepted {
            command_id: CommandId::generate(),
            replayed: true,
            result: Box::new(CommandResult {
                image: None,
                task: None,
                events: Vec::new(),
            }),
        },
        CommandReply::Rejected {
            command_id: Some(CommandId::generate()),
            kind: RejectionKind::PreconditionFailed,
            message: "image is at version 5, not 4".to_owned(),
        },
        CommandReply::Rejected {
            command_id: None,
            kind: RejectionKind::BadRequest,
            message: "not JSON".to_owned(),
        },
    ];
    for reply in &replies {
        let wire = serde_json::to_value(reply).expect("serialise");
        let problems = errors(&validator, &wire);
        assert!(
            problems.is_empty(),
            "{wire}\ndoes not validate:\n{problems}"
        );
        let back: CommandReply = serde_json::from_value(wire).expect("deserialise");
        assert_eq!(&back, reply);
    }

    let rejected = json!({"outcome": "rejected", "command_id": null, "kind": "conflict",
                          "message": "busy"});
    assert!(validator.is_valid(&rejected));
    for (what, bad) in [
        (
            "an unknown outcome",
            json!({"outcome": "deferred", "message": "later"}),
        ),
        (
            "an unknown rejection kind",
            json!({"outcome": "rejected", "kind": "teapot", "message": "418"}),
        ),
        (
            "an acceptance without its result",
            json!({"outcome": "accepted", "command_id": "01943c0e-8f00-7000-8000-000000000001",
                   "replayed": false}),
        ),
    ] {
        assert!(!validator.is_valid(&bad), "{what} validates: {bad}");
        assert!(
            serde_json::from_value::<CommandReply>(bad).is_err(),
            "serde accepts {what}"
        );
    }
}

#[test]
fn events_validate_and_malformed_ones_do_not() {
    let validator = validator(EVENT_ENVELOPE_V1);
    let image = example_image();
    let event = EventEnvelope {
        schema: EVENT_SCHEMA_V1.to_owned(),
        event_id: uuid::Uuid::now_v7(),
        occurred_at: at(3),
        aggregate: "image".to_owned(),
        id: image.id.as_uuid(),
        version: image.version,
        event_type: "image.activated".to_owned(),
        from_status: Some("saving".to_owned()),
        to_status: "active".to_owned(),
        command_id: uuid::Uuid::now_v7(),
        correlation_id: Some("req-1".to_owned()),
        actor: Actor::service(),
        snapshot: serde_json::to_value(&image).expect("serialise"),
    };
    let created = EventEnvelope {
        from_status: None,
        correlation_id: None,
        version: 1,
        event_type: "image.created".to_owned(),
        to_status: "queued".to_owned(),
        ..event.clone()
    };
    for event in [event, created] {
        let wire = serde_json::to_value(&event).expect("serialise");
        assert_eq!(wire["type"], json!(event.event_type));
        let problems = errors(&validator, &wire);
        assert!(
            problems.is_empty(),
            "{wire}\ndoes not validate:\n{problems}"
        );
        let back: EventEnvelope = serde_json::from_value(wire.clone()).expect("deserialise");
        assert_eq!(back, event);

        let mut untyped = wire;
        untyped.as_object_mut().expect("an object").remove("type");
        assert!(
            !validator.is_valid(&untyped),
            "an event without a type validates"
        );
        assert!(serde_json::from_value::<EventEnvelope>(untyped).is_err());
    }
}
