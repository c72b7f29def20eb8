//! Every command type as a `Kind`, and `build`, which makes a command of any kind from
//! random parts; `Kind::of` is an exhaustive match, so a new command type does not
//! compile here until the generators know it.

use super::fixtures::{STORE, digest};
use super::strategies::{IMAGES, Params, TASKS, sample_params};
use crate::Command;
use crate::command::*;
use crate::image::{DataDigest, Location};
use crate::status::TaskType;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// Every command type, so generators and tables can walk all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    CreateImage,
    UpdateImage,
    BeginUpload,
    CompleteUpload,
    AbortUpload,
    BeginStage,
    CompleteStage,
    AbortStage,
    BeginImport,
    ImportStoreDone,
    CompleteImport,
    FailImport,
    DeactivateImage,
    ReactivateImage,
    DeleteImage,
    RestoreImage,
    PurgeImage,
    AddLocation,
    RemoveLocation,
    DeleteFromStore,
    AddTag,
    RemoveTag,
    AddMember,
    UpdateMember,
    RemoveMember,
    CreateTask,
    StartTask,
    SucceedTask,
    FailTask,
    ExpireTask,
}

impl Kind {
    #[rustfmt::skip]
    pub const ALL: [Kind; 30] = [
        Kind::CreateImage, Kind::UpdateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::AbortUpload,
        Kind::BeginStage, Kind::CompleteStage, Kind::AbortStage, Kind::BeginImport, Kind::ImportStoreDone,
        Kind::CompleteImport,
        Kind::FailImport, Kind::DeactivateImage, Kind::ReactivateImage, Kind::DeleteImage, Kind::RestoreImage,
        Kind::PurgeImage, Kind::AddLocation, Kind::RemoveLocation, Kind::DeleteFromStore, Kind::AddTag, Kind::RemoveTag,
        Kind::AddMember, Kind::UpdateMember, Kind::RemoveMember, Kind::CreateTask, Kind::StartTask,
        Kind::SucceedTask, Kind::FailTask, Kind::ExpireTask,
    ];

    /// The kind of a command; exhaustive, so a new command type breaks this until added.
    pub fn of(command: &Command) -> Kind {
        match command {
            Command::CreateImage(_) => Kind::CreateImage,
            Command::UpdateImage(_) => Kind::UpdateImage,
            Command::BeginUpload(_) => Kind::BeginUpload,
            Command::CompleteUpload(_) => Kind::CompleteUpload,
            Command::AbortUpload(_) => Kind::AbortUpload,
            Command::BeginStage(_) => Kind::BeginStage,
            Command::CompleteStage(_) => Kind::CompleteStage,
            Command::AbortStage(_) => Kind::AbortStage,
            Command::BeginImport(_) => Kind::BeginImport,
            Command::ImportStoreDone(_) => Kind::ImportStoreDone,
            Command::CompleteImport(_) => Kind::CompleteImport,
            Command::FailImport(_) => Kind::FailImport,
            Command::DeactivateImage(_) => Kind::DeactivateImage,
            Command::ReactivateImage(_) => Kind::ReactivateImage,
            Command::DeleteImage(_) => Kind::DeleteImage,
            Command::RestoreImage(_) => Kind::RestoreImage,
            Command::PurgeImage(_) => Kind::PurgeImage,
            Command::AddLocation(_) => Kind::AddLocation,
            Command::RemoveLocation(_) => Kind::RemoveLocation,
            Command::DeleteFromStore(_) => Kind::DeleteFromStore,
            Command::AddTag(_) => Kind::AddTag,
            Command::RemoveTag(_) => Kind::RemoveTag,
            Command::AddMember(_) => Kind::AddMember,
            Command::UpdateMember(_) => Kind::UpdateMember,
            Command::RemoveMember(_) => Kind::RemoveMember,
            Command::CreateTask(_) => Kind::CreateTask,
            Command::StartTask(_) => Kind::StartTask,
            Command::SucceedTask(_) => Kind::SucceedTask,
            Command::FailTask(_) => Kind::FailTask,
            Command::ExpireTask(_) => Kind::ExpireTask,
        }
    }
}

/// Builds a command of `kind` from the random parts, leases an hour after `now`.
pub fn build(kind: Kind, p: &Params, now: DateTime<Utc>) -> Command {
    let image_id = IMAGES[p.image];
    let task_id = TASKS[p.task];
    let image = ImageRef {
        image_id,
        expected_version: None,
    };
    let lease = Leased {
        image_id,
        lease_expires_at: now + Duration::hours(1),
    };
    let data = DataDigest {
        size: p.number,
        ..digest()
    };
    let abort = Abort {
        image_id,
        reason: p.word.clone(),
        data_removed: p.flag,
    };
    let tag = TagRef {
        image_id,
        tag: p.word.clone(),
    };
    let member = MemberRef {
        image_id,
        member_id: p.member.into(),
    };
    let location = Location {
        url: p.word.clone(),
        metadata: Value::Null,
    };
    match kind {
        Kind::CreateImage => Command::CreateImage(CreateImage {
            image_id,
            name: p.create.0.clone(),
            visibility: p.create.1,
            protected: Some(p.flag && p.method == 0),
            os_hidden: None,
            disk_format: p.create.2,
            container_format: p.create.3,
            min_disk: (p.number != 1024).then_some(p.number),
            min_ram: None,
            tags: vec![p.word.clone()],
            properties: [(p.word.clone(), p.word.clone())].into(),
            owner: (p.method == 3).then(|| p.member.to_owned()),
        }),
        Kind::UpdateImage => Command::UpdateImage(UpdateImage {
            image_id,
            operations: p.operations.clone(),
            expected_version: None,
        }),
        Kind::BeginUpload => Command::BeginUpload(lease),
        Kind::CompleteUpload => Command::CompleteUpload(WithDigest {
            image_id,
            digest: data,
            store: None,
        }),
        Kind::AbortUpload => Command::AbortUpload(abort),
        Kind::BeginStage => Command::BeginStage(lease),
        Kind::CompleteStage => Command::CompleteStage(StagedData {
            image_id,
            size: Some(data.size),
        }),
        Kind::AbortStage => Command::AbortStage(abort),
        Kind::BeginImport => Command::BeginImport(BeginImport {
            image_id,
            task_id,
            method: match p.method {
                0 | 3 => ImportMethod::GlanceDirect,
                1 => ImportMethod::WebDownload {
                    uri: p.word.clone(),
                },
                _ => ImportMethod::CopyImage,
            },
            // Copies go to a store; the others to the default one.
            stores: if p.method == 2 {
                vec![STORE.to_owned()]
            } else {
                Vec::new()
            },
            all_stores_must_succeed: p.flag || p.method != 2,
            lease_expires_at: now + Duration::hours(1),
            request_id: None,
        }),
        Kind::ImportStoreDone => Command::ImportStoreDone(ImportStoreDone {
            image_id,
            task_id,
            store: STORE.to_owned(),
            succeeded: p.flag,
        }),
        Kind::CompleteImport => Command::CompleteImport(CompleteImport {
            image_id,
            task_id,
            digest: data,
            stores: if p.method == 2 {
                vec![STORE.to_owned()]
            } else {
                Vec::new()
            },
            converted_to: None,
            injected: Default::default(),
        }),
        Kind::FailImport => Command::FailImport(FailImport {
            image_id,
            task_id,
            message: p.word.clone(),
        }),
        Kind::DeactivateImage => Command::DeactivateImage(image),
        Kind::ReactivateImage => Command::ReactivateImage(image),
        Kind::DeleteImage => Command::DeleteImage(image),
        Kind::RestoreImage => Command::RestoreImage(image),
        Kind::PurgeImage => Command::PurgeImage(image),
        Kind::AddLocation => Command::AddLocation(AddLocation {
            image_id,
            location,
            digest: p.flag.then_some(data),
        }),
        Kind::RemoveLocation => Command::RemoveLocation(RemoveLocation {
            image_id,
            url: p.word.clone(),
        }),
        Kind::DeleteFromStore => Command::DeleteFromStore(DeleteFromStore {
            image_id,
            store: p.word.clone(),
        }),
        Kind::AddTag => Command::AddTag(tag),
        Kind::RemoveTag => Command::RemoveTag(tag),
        Kind::AddMember => Command::AddMember(member),
        Kind::UpdateMember => Command::UpdateMember(UpdateMember {
            image_id,
            member_id: p.member.into(),
            status: p.member_status,
        }),
        Kind::RemoveMember => Command::RemoveMember(member),
        Kind::CreateTask => Command::CreateTask(CreateTask {
            task_id,
            task_type: if p.method == 2 {
                TaskType::ApiImageImport
            } else {
                TaskType::Import
            },
            input: if p.flag {
                serde_json::json!({"import_from": p.word, "import_from_format": "raw", "image_properties": {}})
            } else {
                p.input.clone()
            },
            request_id: None,
        }),
        Kind::StartTask => Command::StartTask(TaskRef { task_id }),
        Kind::SucceedTask => Command::SucceedTask(SucceedTask {
            task_id,
            result: p.input.clone(),
        }),
        Kind::FailTask => Command::FailTask(FailTask {
            task_id,
            message: p.word.clone(),
        }),
        Kind::ExpireTask => Command::ExpireTask(TaskRef { task_id }),
    }
}

/// The wire name of every command type.
pub fn all_command_type_names() -> Vec<&'static str> {
    let now = super::fixtures::now();
    Kind::ALL
        .iter()
        .map(|k| build(*k, &sample_params(), now).type_name())
        .collect()
}

#[test]
fn every_kind_builds_its_own_command() {
    for kind in Kind::ALL {
        assert_eq!(
            Kind::of(&build(kind, &sample_params(), super::fixtures::now())),
            kind
        );
    }
}
