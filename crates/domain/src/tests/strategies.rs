//! proptest strategies for the parts of random commands: a small pool of image ids, task
//! ids, tags and members (so random sequences keep hitting the same aggregates),
//! arbitrary JSON for patches and task input, huge strings and any integers.

use super::fixtures::{MEMBER, OTHER};
use crate::command::*;
use crate::status::{ContainerFormat, DiskFormat, MemberStatus, Visibility};
use crate::{ImageId, TaskId};
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
    pub image: usize,
    pub task: usize,
    pub word: String,
    pub member: &'static str,
    pub flag: bool,
    pub method: u8,
    pub number: i64,
    pub member_status: MemberStatus,
    pub operations: Vec<PatchOperation>,
    pub create: (
        Option<String>,
        Option<Visibility>,
        Option<DiskFormat>,
        Option<ContainerFormat>,
    ),
    pub input: Value,
}

pub fn wild_params() -> impl Strategy<Value = Params> {
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
pub fn params() -> impl Strategy<Value = Params> {
    prop_oneof![3 => wild_params().prop_map(Params::tame), 1 => wild_params()]
}

impl Params {
    /// The same parts made valid: pool words, in-range numbers, a creatable image.
    pub fn tame(self) -> Params {
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
