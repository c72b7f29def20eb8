//! The message contract's JSON Schemas: the copies checked in under `schemas/` must be
//! what `shared::messaging::schemas` generates from the types, and what serde writes must
//! validate against them while what serde refuses does not.
//!
//! Regenerate the checked-in copies with
//! `IMAGEFLEET_UPDATE_SCHEMAS=1 cargo nextest run -p imagefleet-tests schemas`.
//! These tests need neither Postgres nor RabbitMQ.

use chrono::{DateTime, TimeZone, Utc};
use imagefleet_tests::fixtures;
use serde_json::{Value, json};
use shared::domain::command::{
    AddLocation, BeginImport, CompleteImport, CreateImage, CreateTask, FailImport, FailTask,
    ImageRef, ImportMethod, Leased, MemberRef, PatchOperation, RemoveLocation, SucceedTask,
    TaskRef, UpdateImage, UpdateMember,
};
use shared::domain::image::{DataDigest, Location, Member};
use shared::domain::status::{
    ContainerFormat, DiskFormat, MemberStatus, TaskStatus, TaskType, Visibility,
};
use shared::domain::{
    Actor, Command, CommandId, Image, ImageId, ImageStatus, RejectionKind, Task, TaskId,
};
use shared::messaging::schemas::{self, COMMAND_ENVELOPE_V1, COMMAND_REPLY_V1, EVENT_ENVELOPE_V1};
use shared::messaging::{
    CommandEnvelope, CommandReply, CommandResult, EVENT_SCHEMA_V1, EventEnvelope, RecordedEvent,
};
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Set (to anything but empty or `0`) to rewrite the checked-in schemas instead of
/// comparing them.
const UPDATE_ENV: &str = "IMAGEFLEET_UPDATE_SCHEMAS";

/// The command that regenerates the checked-in schemas.
const REGENERATE: &str =
    "IMAGEFLEET_UPDATE_SCHEMAS=1 cargo nextest run -p imagefleet-tests schemas";

/// `schemas/` at the repository root.
fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("schemas")
}

fn updating() -> bool {
    std::env::var(UPDATE_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

#[test]
fn checked_in_schemas_are_current() {
    let dir = schema_dir();
    let update = updating();
    let generated = schemas::all();
    let mut stale = Vec::new();

    for (file, schema) in &generated {
        let path = dir.join(file);
        let expected = schemas::render(schema);
        let actual = std::fs::read_to_string(&path).ok();
        if actual.as_deref() == Some(expected.as_str()) {
            continue;
        }
        if update {
            std::fs::create_dir_all(&dir).expect("create schemas/");
            std::fs::write(&path, &expected)
                .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            eprintln!("rewrote schemas/{file}");
        } else if actual.is_none() {
            stale.push(format!("schemas/{file} is missing"));
        } else {
            stale.push(format!(
                "schemas/{file} is stale: it differs from what the types generate"
            ));
        }
    }

    // A schema file no type generates any more is stale too.
    let known: BTreeSet<&str> = generated.iter().map(|(file, _)| *file).collect();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries {
            let path = entry.expect("read schemas/").path();
            let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            if !file.ends_with(".json") || known.contains(file) {
                continue;
            }
            if update {
                std::fs::remove_file(&path)
                    .unwrap_or_else(|e| panic!("remove {}: {e}", path.display()));
                eprintln!("removed schemas/{file}");
            } else {
                stale.push(format!(
                    "schemas/{file} is stale: no message type generates it any more"
                ));
            }
        }
    }

    assert!(
        stale.is_empty(),
        "the checked-in JSON Schemas do not match the message types:\n  {}\n\
         regenerate them (and review the diff) with:\n  {REGENERATE}",
        stale.join("\n  ")
    );
}

#[test]
fn generated_schemas_are_valid_draft_2020_12() {
    for (file, schema) in schemas::all() {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{file}"
        );
        assert_eq!(
            schema["$id"],
            format!("{}{file}", schemas::SCHEMA_ID_BASE),
            "{file}"
        );
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{file} is not a valid JSON Schema: {e}");
        }
    }
}

/// The generated schema of `file`.
fn schema(file: &str) -> Value {
    schemas::all()
        .into_iter()
        .find_map(|(f, s)| (f == file).then_some(s))
        .unwrap_or_else(|| panic!("no schema {file}"))
}

/// A validator of `file`'s schema that also checks formats (`uuid`, `date-time`).
fn validator(file: &str) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema(file))
        .unwrap_or_else(|e| panic!("{file} does not compile: {e}"))
}

/// The schema's errors for `instance`, one per line (empty when it is valid).
fn errors(validator: &jsonschema::Validator, instance: &Value) -> String {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 2, hour, 0, 0)
        .single()
        .expect("a valid time")
}

fn digest() -> DataDigest {
    DataDigest {
        size: 1024,
        checksum: "0".repeat(32),
        os_hash_algo: "sha512".to_owned(),
        os_hash_value: "f".repeat(128),
        virtual_size: None,
    }
}

fn location() -> Location {
    Location {
        url: "file:///var/lib/imagefleet/images/1".to_owned(),
        metadata: json!({"store": "local"}),
    }
}

/// One command of every type, plus the alternatives of the nested enums and optionals.
fn example_commands() -> Vec<Command> {
    let image = ImageId::generate();
    let task = TaskId::generate();
    let image_ref = fixtures::image_ref(image);
    let versioned = ImageRef {
        image_id: image,
        expected_version: Some(3),
    };
    let begin_import = |method| {
        Command::BeginImport(BeginImport {
            image_id: image,
            task_id: task,
            method,
            stores: vec!["local".to_owned()],
            lease_expires_at: at(1),
            request_id: Some("req-1".to_owned()),
        })
    };
    vec![
        fixtures::create(image, "cirros"),
        Command::CreateImage(CreateImage {
            image_id: image,
            name: Some("everything".to_owned()),
            visibility: Some(Visibility::Community),
            protected: Some(true),
            os_hidden: Some(false),
            disk_format: Some(DiskFormat::Qcow2),
            container_format: Some(ContainerFormat::Ova),
            min_disk: Some(1),
            min_ram: Some(512),
            tags: vec!["a".to_owned(), "b".to_owned()],
            properties: [("hw_disk_bus".to_owned(), "scsi".to_owned())].into(),
            owner: Some("p9".to_owned()),
        }),
        fixtures::set_property(image, "os_distro", "cirros"),
        Command::UpdateImage(UpdateImage {
            image_id: image,
            operations: vec![
                PatchOperation::Replace {
                    attribute: "name".to_owned(),
                    value: json!(null),
                },
                PatchOperation::Remove {
                    attribute: "os_distro".to_owned(),
                },
            ],
            expected_version: Some(2),
        }),
        fixtures::begin_upload(image),
        fixtures::complete_upload(image, 4096),
        fixtures::abort_upload(image),
        Command::BeginStage(Leased {
            image_id: image,
            lease_expires_at: at(2),
        }),
        Command::CompleteStage(image_ref.clone()),
        Command::AbortStage(shared::domain::command::Abort {
            image_id: image,
            reason: "disk full".to_owned(),
            data_removed: false,
        }),
        begin_import(ImportMethod::GlanceDirect),
        begin_import(ImportMethod::WebDownload {
            uri: "https://example.invalid/cirros.img".to_owned(),
        }),
        begin_import(ImportMethod::CopyImage),
        Command::CompleteImport(CompleteImport {
            image_id: image,
            task_id: task,
            digest: digest(),
        }),
        Command::FailImport(FailImport {
            image_id: image,
            task_id: task,
            message: "download failed".to_owned(),
        }),
        Command::DeactivateImage(image_ref.clone()),
        Command::ReactivateImage(versioned.clone()),
        Command::DeleteImage(image_ref.clone()),
        Command::RestoreImage(image_ref.clone()),
        Command::PurgeImage(image_ref),
        Command::AddLocation(AddLocation {
            image_id: image,
            location: location(),
            digest: Some(digest()),
        }),
        Command::AddLocation(AddLocation {
            image_id: image,
            location: location(),
            digest: None,
        }),
        Command::RemoveLocation(RemoveLocation {
            image_id: image,
            url: location().url,
        }),
        fixtures::add_tag(image, "ubuntu"),
        fixtures::remove_tag(image, "ubuntu"),
        Command::AddMember(MemberRef {
            image_id: image,
            member_id: "p2".to_owned(),
        }),
        Command::UpdateMember(UpdateMember {
            image_id: image,
            member_id: "p2".to_owned(),
            status: MemberStatus::Accepted,
        }),
        Command::RemoveMember(MemberRef {
            image_id: image,
            member_id: "p2".to_owned(),
        }),
        Command::CreateTask(CreateTask {
            task_id: task,
            task_type: TaskType::Import,
            input: json!({"import_from": "https://example.invalid/x.img",
                          "import_from_format": "qcow2", "image_properties": {}}),
            request_id: None,
        }),
        Command::StartTask(TaskRef { task_id: task }),
        Command::SucceedTask(SucceedTask {
            task_id: task,
            result: json!({"image_id": image}),
        }),
        Command::FailTask(FailTask {
            task_id: task,
            message: "gave up".to_owned(),
        }),
        Command::ExpireTask(TaskRef { task_id: task }),
    ]
}

/// The `type`s the command schema allows.
fn schema_command_types() -> BTreeSet<String> {
    schema(COMMAND_ENVELOPE_V1)["oneOf"]
        .as_array()
        .expect("the command schema is a oneOf over the command types")
        .iter()
        .map(|variant| {
            variant["properties"]["type"]["const"]
                .as_str()
                .expect("each alternative fixes `type`")
                .to_owned()
        })
        .collect()
}

#[test]
fn every_command_type_has_an_example_and_every_example_validates() {
    let examples = example_commands();
    let covered: BTreeSet<String> = examples.iter().map(|c| c.type_name().to_owned()).collect();
    assert_eq!(
        covered,
        schema_command_types(),
        "the examples must cover exactly the command types of the schema"
    );

    let validator = validator(COMMAND_ENVELOPE_V1);
    for (i, command) in examples.into_iter().enumerate() {
        let actor = if i % 2 == 0 {
            fixtures::owner()
        } else {
            Actor::service()
        };
        let mut envelope = fixtures::envelope(actor, command);
        if i % 3 == 0 {
            envelope = envelope.with_correlation_id(format!("req-{i}"));
        }
        let wire = serde_json::to_value(&envelope).expect("serialise");
        assert_eq!(wire["type"], envelope.command.type_name(), "{wire}");
        assert!(wire["payload"].is_object(), "{wire}");
        let problems = errors(&validator, &wire);
        assert!(
            problems.is_empty(),
            "{wire}\ndoes not validate:\n{problems}"
        );
        let back: CommandEnvelope = serde_json::from_value(wire).expect("deserialise");
        assert_eq!(back, envelope);
    }
}

/// A valid `deactivate_image` envelope as JSON.
fn deactivate_json() -> Value {
    json!({
        "schema": "imagefleet.command.v1",
        "command_id": "01943c0e-8f00-7000-8000-000000000001",
        "correlation_id": null,
        "issued_at": "2025-01-02T03:04:05Z",
        "actor": {"project_id": "p1", "user_id": "u1", "roles": ["member"]},
        "type": "deactivate_image",
        "payload": {"image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10"}
    })
}

/// `deactivate_json` with `change` applied.
fn deactivate_with(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut value = deactivate_json();
    change(value.as_object_mut().expect("an object"));
    value
}

/// The schema and serde agree on each case: both accept it or both refuse it.
#[test]
fn the_command_schema_accepts_what_serde_accepts() {
    let validator = validator(COMMAND_ENVELOPE_V1);
    let cases: Vec<(&str, Value, bool)> = vec![
        ("a valid envelope", deactivate_json(), true),
        (
            "no correlation id",
            deactivate_with(|m| {
                m.remove("correlation_id");
            }),
            true,
        ),
        (
            "an extra envelope field (serde ignores it)",
            deactivate_with(|m| {
                m.insert("priority".into(), json!(5));
            }),
            true,
        ),
        (
            "an expected version",
            deactivate_with(|m| {
                m["payload"]["expected_version"] = json!(7);
            }),
            true,
        ),
        (
            "an unknown type",
            deactivate_with(|m| {
                m["type"] = json!("frobnicate_image");
            }),
            false,
        ),
        (
            "no type",
            deactivate_with(|m| {
                m.remove("type");
            }),
            false,
        ),
        (
            "no payload",
            deactivate_with(|m| {
                m.remove("payload");
            }),
            false,
        ),
        (
            "a payload without its image_id",
            deactivate_with(|m| {
                m["payload"] = json!({});
            }),
            false,
        ),
        (
            "an unknown payload field",
            deactivate_with(|m| {
                m["payload"]["force"] = json!(true);
            }),
            false,
        ),
        (
            "the payload of another type",
            deactivate_with(|m| {
                m["type"] = json!("start_task");
            }),
            false,
        ),
        (
            "a null payload",
            deactivate_with(|m| {
                m["payload"] = Value::Null;
            }),
            false,
        ),
        (
            "an image id that is no UUID",
            deactivate_with(|m| {
                m["payload"]["image_id"] = json!("not-a-uuid");
            }),
            false,
        ),
        (
            "no command id",
            deactivate_with(|m| {
                m.remove("command_id");
            }),
            false,
        ),
        (
            "no actor",
            deactivate_with(|m| {
                m.remove("actor");
            }),
            false,
        ),
        (
            "an issue time that is no date-time",
            deactivate_with(|m| {
                m["issued_at"] = json!("yesterday");
            }),
            false,
        ),
        (
            "a version that is no integer",
            deactivate_with(|m| {
                m["payload"]["expected_version"] = json!("7");
            }),
            false,
        ),
        (
            "an unknown import method",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "glance-indirect"}));
            }),
            false,
        ),
        (
            "web-download without its uri",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "web-download"}));
            }),
            false,
        ),
        (
            "glance-direct with an extra key (serde ignores it)",
            deactivate_with(|m| {
                m["type"] = json!("begin_import");
                m["payload"] = begin_import_payload(json!({"name": "glance-direct", "x": 1}));
            }),
            true,
        ),
        (
            "a remove operation with a value",
            deactivate_with(|m| {
                m["type"] = json!("update_image");
                m["payload"] = json!({
                    "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
                    "operations": [{"op": "remove", "attribute": "a", "value": 1}]
                });
            }),
            false,
        ),
        (
            "an unknown disk format",
            deactivate_with(|m| {
                m["type"] = json!("create_image");
                m["payload"] = json!({
                    "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
                    "disk_format": "qcow3"
                });
            }),
            false,
        ),
    ];

    let mut disagreements = Vec::new();
    for (what, value, valid) in cases {
        let schema_says = validator.is_valid(&value);
        let serde_says = serde_json::from_value::<CommandEnvelope>(value.clone());
        if schema_says != valid || serde_says.is_ok() != valid {
            disagreements.push(format!(
                "{what}: expected {}, schema {} ({}), serde {:?}",
                if valid { "valid" } else { "invalid" },
                if schema_says { "accepts" } else { "refuses" },
                errors(&validator, &value),
                serde_says.map(|_| ()),
            ));
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

fn begin_import_payload(method: Value) -> Value {
    json!({
        "image_id": "6f1c6b52-5f0e-4b8e-9a57-3c1f0c2f4a10",
        "task_id": "0b5a4d1e-2c3f-4e5a-8b6c-7d8e9f0a1b2c",
        "method": method,
        "lease_expires_at": "2025-01-02T04:00:00Z"
    })
}

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
