//! One example of every command type (and of the nested enums' alternatives): the
//! schema's command types and the examples' are the same, and every example validates
//! and survives a round trip through serde.

use super::*;

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
            all_stores_must_succeed: false,
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
        Command::CompleteStage(domain::command::StagedData {
            image_id: image,
            size: Some(4096),
        }),
        Command::AbortStage(domain::command::Abort {
            image_id: image,
            reason: "disk full".to_owned(),
            data_removed: false,
        }),
        begin_import(ImportMethod::GlanceDirect),
        begin_import(ImportMethod::WebDownload {
            uri: "https://example.invalid/cirros.img".to_owned(),
        }),
        begin_import(ImportMethod::CopyImage),
        Command::ImportStoreDone(ImportStoreDone {
            image_id: image,
            task_id: task,
            store: "local".to_owned(),
            succeeded: false,
        }),
        Command::CompleteImport(CompleteImport {
            image_id: image,
            task_id: task,
            digest: digest(),
            stores: vec!["local".to_owned()],
            converted_to: Some(domain::status::DiskFormat::Raw),
            injected: [("hw_vendor".to_owned(), "acme".to_owned())].into(),
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
        Command::DeleteFromStore(DeleteFromStore {
            image_id: image,
            store: "cold".to_owned(),
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
