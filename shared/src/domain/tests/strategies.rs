//! proptest strategies for the property tests: every command type over a small pool of
//! image ids, task ids, tags and members (so random sequences keep hitting the same
//! aggregates), arbitrary JSON for patches and task input, huge strings and any integers.

use super::fixtures::{MEMBER, OTHER, digest, owner};
use crate::domain::command::*;
use crate::domain::image::{DataDigest, Location};
use crate::domain::status::{ContainerFormat, DiskFormat, MemberStatus, TaskType, Visibility};
use crate::domain::{Actor, Command, ImageId, TaskId};
use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use uuid::Uuid;

/// The image ids random commands choose from.
pub const IMAGES: [ImageId; 2] = [
    ImageId::from_uuid(Uuid::from_u128(0xaaaa_0000_0000_4000_8000_0000_0000_0001)),
    ImageId::from_uuid(Uuid::from_u128(0xaaaa_0000_0000_4000_8000_0000_0000_0002)),
];
/// The task ids random commands choose from.
pub const TASKS: [TaskId; 2] = [
    TaskId::from_uuid(Uuid::from_u128(0xbbbb_0000_0000_4000_8000_0000_0000_0001)),
    TaskId::from_uuid(Uuid::from_u128(0xbbbb_0000_0000_4000_8000_0000_0000_0002)),
];
const WORDS: [&str; 4] = ["a", "b", "k", "file:///data/x"];
const ATTRIBUTES: [&str; 16] = [
    "name",
    "visibility",
    "protected",
    "os_hidden",
    "min_disk",
    "min_ram",
    "disk_format",
    "container_format",
    "tags",
    "owner",
    "status",
    "size",
    "os_glance_import_task",
    "k",
    "k2",
    "locations",
];

/// Arbitrary JSON: every scalar kind, long strings, nested arrays and objects.
pub fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text().prop_map(Value::from),
        select(vec![
            "public",
            "private",
            "shared",
            "community",
            "raw",
            "qcow2",
            "bare",
            "p9",
            ""
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Mostly pool words, sometimes any text up to 300 characters, rarely a huge string.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => select(WORDS.to_vec()).prop_map(str::to_owned),
        3 => ".{0,300}",
        1 => (0usize..20_000).prop_map(|n| "é".repeat(n)),
    ]
}

/// One JSON-patch operation, mostly on meaningful attributes.
fn operation() -> impl Strategy<Value = PatchOperation> {
    let attribute =
        prop_oneof![4 => select(ATTRIBUTES.to_vec()).prop_map(str::to_owned), 1 => text()];
    (0u8..3, attribute, json()).prop_map(|(op, attribute, value)| match op {
        0 => PatchOperation::Add { attribute, value },
        1 => PatchOperation::Replace { attribute, value },
        _ => PatchOperation::Remove { attribute },
    })
}

/// The random parts a command may use; each builder takes what it needs.
#[derive(Debug, Clone)]
pub struct Params {
    image: usize,
    task: usize,
    word: String,
    member: &'static str,
    flag: bool,
    method: u8,
    number: i64,
    member_status: MemberStatus,
    operations: Vec<PatchOperation>,
    create: (
        Option<String>,
        Option<Visibility>,
        Option<DiskFormat>,
        Option<ContainerFormat>,
    ),
    input: Value,
}

fn wild_params() -> impl Strategy<Value = Params> {
    let ids = (
        0..IMAGES.len(),
        0..TASKS.len(),
        text(),
        select(vec![MEMBER, OTHER]),
        any::<bool>(),
        0u8..4,
    );
    let number = prop_oneof![3 => Just(1024i64), 1 => any::<i64>()];
    let create = (
        prop::option::weighted(0.7, text()),
        prop::option::of(select(Visibility::ALL)),
        prop::option::weighted(0.8, select(DiskFormat::ALL)),
        prop::option::weighted(0.8, select(ContainerFormat::ALL)),
    );
    let rest = (
        number,
        select(MemberStatus::ALL),
        prop::collection::vec(operation(), 0..4),
        create,
        json(),
    );
    (ids, rest).prop_map(
        |(
            (image, task, word, member, flag, method),
            (number, member_status, operations, create, input),
        )| Params {
            image,
            task,
            word,
            member,
            flag,
            method,
            number,
            member_status,
            operations,
            create,
            input,
        },
    )
}

/// Mostly well-formed parts (so histories get far), sometimes anything.
fn params() -> impl Strategy<Value = Params> {
    prop_oneof![3 => wild_params().prop_map(Params::tame), 1 => wild_params()]
}

impl Params {
    /// The same parts made valid: pool words, in-range numbers, a creatable image.
    fn tame(self) -> Params {
        let word = if WORDS.contains(&self.word.as_str()) {
            self.word
        } else {
            WORDS[self.word.len() % WORDS.len()].into()
        };
        let visibility = self.create.1.filter(|v| *v == Visibility::Private);
        Params {
            word,
            number: 1024,
            method: self.method % 3,
            create: (
                Some("cirros".into()),
                visibility,
                Some(DiskFormat::Qcow2),
                Some(ContainerFormat::Bare),
            ),
            ..self
        }
    }
}

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
    CompleteImport,
    FailImport,
    DeactivateImage,
    ReactivateImage,
    DeleteImage,
    RestoreImage,
    PurgeImage,
    AddLocation,
    RemoveLocation,
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
    pub const ALL: [Kind; 28] = [
        Kind::CreateImage, Kind::UpdateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::AbortUpload,
        Kind::BeginStage, Kind::CompleteStage, Kind::AbortStage, Kind::BeginImport, Kind::CompleteImport,
        Kind::FailImport, Kind::DeactivateImage, Kind::ReactivateImage, Kind::DeleteImage, Kind::RestoreImage,
        Kind::PurgeImage, Kind::AddLocation, Kind::RemoveLocation, Kind::AddTag, Kind::RemoveTag,
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
            Command::CompleteImport(_) => Kind::CompleteImport,
            Command::FailImport(_) => Kind::FailImport,
            Command::DeactivateImage(_) => Kind::DeactivateImage,
            Command::ReactivateImage(_) => Kind::ReactivateImage,
            Command::DeleteImage(_) => Kind::DeleteImage,
            Command::RestoreImage(_) => Kind::RestoreImage,
            Command::PurgeImage(_) => Kind::PurgeImage,
            Command::AddLocation(_) => Kind::AddLocation,
            Command::RemoveLocation(_) => Kind::RemoveLocation,
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
        }),
        Kind::AbortUpload => Command::AbortUpload(abort),
        Kind::BeginStage => Command::BeginStage(lease),
        Kind::CompleteStage => Command::CompleteStage(image),
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
            stores: Vec::new(),
            lease_expires_at: now + Duration::hours(1),
            request_id: None,
        }),
        Kind::CompleteImport => Command::CompleteImport(CompleteImport {
            image_id,
            task_id,
            digest: data,
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

/// Who issues a step: half the time the actor SPEC names for the command, else anyone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Natural,
    Owner,
    Admin,
    Service,
    Reader,
    Other,
}

/// The actor for `who`, given the command it issues.
pub fn actor(who: Who, command: &Command) -> Actor {
    match who {
        Who::Natural => match command {
            Command::CompleteUpload(_)
            | Command::AbortUpload(_)
            | Command::CompleteStage(_)
            | Command::AbortStage(_)
            | Command::CompleteImport(_)
            | Command::FailImport(_)
            | Command::PurgeImage(_)
            | Command::AddLocation(_)
            | Command::StartTask(_)
            | Command::SucceedTask(_)
            | Command::FailTask(_)
            | Command::ExpireTask(_) => Actor::service(),
            Command::RestoreImage(_) | Command::CreateTask(_) => super::fixtures::admin(),
            Command::BeginImport(c) if c.method == ImportMethod::CopyImage => {
                super::fixtures::admin()
            }
            Command::UpdateMember(c) => {
                Actor::new(c.member_id.clone(), "u-member", &["member", "reader"])
            }
            _ => owner(),
        },
        Who::Owner => owner(),
        Who::Admin => super::fixtures::admin(),
        Who::Service => Actor::service(),
        Who::Reader => super::fixtures::reader(),
        Who::Other => super::fixtures::other(),
    }
}

/// One step of a random history: the command, its issuer and the settings and clock.
#[derive(Debug, Clone)]
pub struct Step {
    pub kind: Kind,
    pub params: Params,
    pub who: Who,
    pub delayed_delete: bool,
    pub multiple_locations: bool,
    /// Minutes the clock advances before this step.
    pub advance: i64,
}

/// Any step.
pub fn step() -> impl Strategy<Value = Step> {
    let who = prop_oneof![
        5 => Just(Who::Natural),
        1 => select(vec![Who::Owner, Who::Admin, Who::Service, Who::Reader, Who::Other]),
    ];
    (
        select(Kind::ALL.to_vec()),
        params(),
        who,
        any::<bool>(),
        any::<bool>(),
        0i64..180,
    )
        .prop_map(
            |(kind, params, who, delayed_delete, multiple_locations, advance)| Step {
                kind,
                params,
                who,
                delayed_delete,
                multiple_locations,
                advance,
            },
        )
}

/// Fixed parts, for building one command of each kind outside proptest.
pub fn sample_params() -> Params {
    Params {
        image: 0,
        task: 0,
        word: "a".into(),
        member: MEMBER,
        flag: true,
        method: 0,
        number: 1024,
        member_status: MemberStatus::Accepted,
        operations: Vec::new(),
        create: (None, None, None, None),
        input: Value::Null,
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

/// Command sequences that make progress on one image and task (with the import method
/// they use): random histories alone rarely chain enough steps to reach later statuses.
#[rustfmt::skip]
const SCRIPTS: &[(u8, &[Kind])] = &[
    (0, &[Kind::CreateImage, Kind::BeginUpload, Kind::CompleteUpload, Kind::DeactivateImage, Kind::ReactivateImage, Kind::DeleteImage]),
    (0, &[Kind::CreateImage, Kind::BeginUpload, Kind::AbortUpload, Kind::BeginStage, Kind::AbortStage, Kind::DeleteImage]),
    (0, &[Kind::CreateImage, Kind::BeginStage, Kind::CompleteStage, Kind::BeginImport, Kind::StartTask, Kind::CompleteImport]),
    (1, &[Kind::CreateImage, Kind::BeginImport, Kind::StartTask, Kind::FailImport, Kind::BeginImport, Kind::StartTask]),
    (1, &[Kind::CreateImage, Kind::BeginImport, Kind::FailTask, Kind::FailImport, Kind::CompleteImport, Kind::DeleteImage]),
    (0, &[Kind::CreateImage, Kind::AddLocation, Kind::AddLocation, Kind::RemoveLocation, Kind::RemoveLocation, Kind::DeleteImage]),
    (0, &[Kind::DeleteImage, Kind::RestoreImage, Kind::PurgeImage, Kind::DeleteImage, Kind::PurgeImage, Kind::CreateImage]),
    (0, &[Kind::AddMember, Kind::UpdateMember, Kind::AddTag, Kind::UpdateImage, Kind::RemoveTag, Kind::RemoveMember]),
    (0, &[Kind::CreateTask, Kind::StartTask, Kind::SucceedTask, Kind::ExpireTask, Kind::FailTask, Kind::ExpireTask]),
];

/// One script on one image and task, with random issuers, settings and clock.
fn script() -> impl Strategy<Value = Vec<Step>> {
    let steps = prop::collection::vec(step(), 6);
    (
        select(SCRIPTS.to_vec()),
        0..IMAGES.len(),
        0..TASKS.len(),
        wild_params().prop_map(Params::tame),
        steps,
    )
        .prop_map(|((method, kinds), image, task, shared, steps)| {
            kinds
                .iter()
                .zip(steps)
                .map(|(kind, mut step)| {
                    step.kind = *kind;
                    step.params = Params {
                        image,
                        task,
                        method,
                        word: shared.word.clone(),
                        member: shared.member,
                        ..step.params.tame()
                    };
                    step
                })
                .collect()
        })
}

/// A history of up to 40 steps: single random steps and scripts, interleaved.
pub fn history() -> impl Strategy<Value = Vec<Step>> {
    let chunk = prop_oneof![1 => step().prop_map(|s| vec![s]), 1 => script()];
    prop::collection::vec(chunk, 1..12).prop_map(|chunks| {
        let mut steps: Vec<Step> = chunks.into_iter().flatten().collect();
        steps.truncate(40);
        steps
    })
}
