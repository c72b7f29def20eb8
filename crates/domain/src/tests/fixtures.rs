//! Shared test fixtures: a fixed clock, well-known ids and actors, images and tasks built
//! directly in any status (as the repository would load them), and the small vocabulary
//! (`Expect`) the tables use to say what SPEC expects of a command, with the walk that
//! checks a table cell by cell (`table_mismatches`, `assert_agrees_with_spec`).

use crate::command::{ImageRef, MemberRef, TagRef};
use crate::image::{DataDigest, IMPORT_TASK_PROPERTY, Location, Member};
use crate::status::{MemberStatus, TaskType, Visibility};
use crate::{
    Actor, Context, DomainConfig, Image, ImageId, ImageStatus, RejectionKind, Task, TaskId,
    TaskStatus,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

/// The owning project of every fixture image.
pub const OWNER: &str = "p1";
/// A project the fixture images are shared with (member `pending` unless said otherwise).
pub const MEMBER: &str = "p2";
/// A project with no relation to the fixture images.
pub const OTHER: &str = "p3";

/// The image every table row is about.
pub const IMAGE: ImageId =
    ImageId::from_uuid(Uuid::from_u128(0x1111_1111_1111_4111_8111_1111_1111_1111));
/// The import task of the fixture image.
pub const TASK: TaskId =
    TaskId::from_uuid(Uuid::from_u128(0x2222_2222_2222_4222_8222_2222_2222_2222));
/// The named stores of multi-store fixtures ("fast" the default), and the one copies
/// go to.
pub const STORES: [&str; 2] = ["fast", "cold"];
pub const STORE: &str = "cold";

/// The domain settings of a deployment with [`STORES`].
pub fn multi_store() -> DomainConfig {
    DomainConfig {
        stores: STORES.iter().map(|s| (*s).to_owned()).collect(),
        ..DomainConfig::default()
    }
}

/// The version fixture aggregates are loaded at (anything but 1 shows "+1", not "=2").
pub const VERSION: i64 = 5;

/// When the fixtures were created.
pub fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_735_689_600, 0).expect("2025-01-01T00:00:00Z is a valid time")
}

/// The time decisions are made at: a day after the fixtures were created.
pub fn now() -> DateTime<Utc> {
    t0() + Duration::days(1)
}

/// A member (and reader) of the owning project.
pub fn owner() -> Actor {
    Actor::new(OWNER, "u-owner", &["member", "reader"])
}

/// A reader of the owning project.
pub fn reader() -> Actor {
    Actor::new(OWNER, "u-reader", &["reader"])
}

/// A member of the project the image is shared with.
pub fn shared_member() -> Actor {
    Actor::new(MEMBER, "u-member", &["member", "reader"])
}

/// A member of an unrelated project.
pub fn other() -> Actor {
    Actor::new(OTHER, "u-other", &["member", "reader"])
}

/// An admin of another project.
pub fn admin() -> Actor {
    Actor::new("p-admin", "u-admin", &["admin", "member", "reader"])
}

/// The context a decision is made under, with Glance's default settings.
pub fn ctx(actor: Actor) -> Context {
    Context {
        actor,
        now: now(),
        config: DomainConfig::default(),
    }
}

/// What a finished upload or a verified location reports.
pub fn digest() -> DataDigest {
    DataDigest {
        size: 1024,
        checksum: "0f343b0931126a20f133d67c2b018a3b".into(),
        os_hash_algo: "sha512".into(),
        os_hash_value: "ab".repeat(64),
        virtual_size: None,
    }
}

/// A location of the fixture image's data.
pub fn location(n: usize) -> Location {
    Location {
        url: format!("file:///var/lib/imagefleet/images/{IMAGE}-{n}"),
        metadata: serde_json::json!({}),
    }
}

/// The fixture image in `status`: owner `p1`, shared with `p2` (pending), formats set,
/// one tag and one extra property, with the fields that status implies (data once
/// written, a lease while data is written, the import lock while importing).
pub fn image_in(status: ImageStatus) -> Image {
    use ImageStatus::*;
    let mut image = Image {
        id: IMAGE,
        version: VERSION,
        status,
        name: Some("cirros".into()),
        visibility: Visibility::Shared,
        protected: false,
        os_hidden: false,
        owner: OWNER.into(),
        checksum: None,
        os_hash_algo: None,
        os_hash_value: None,
        size: None,
        virtual_size: None,
        min_disk: 0,
        min_ram: 0,
        disk_format: Some(crate::status::DiskFormat::Raw),
        container_format: Some(crate::status::ContainerFormat::Bare),
        tags: vec!["t1".into()],
        properties: BTreeMap::from([("k".to_owned(), "v".to_owned())]),
        members: vec![Member {
            member_id: MEMBER.into(),
            status: MemberStatus::Pending,
            created_at: t0(),
            updated_at: t0(),
        }],
        locations: Vec::new(),
        stores: Vec::new(),
        created_at: t0(),
        updated_at: t0(),
        deleted_at: None,
        lease_expires_at: None,
    };
    // An uploading image here has finished staging (no lease), the state SPEC's
    // uploading -> importing row is about; staging still in progress is its own case.
    if matches!(status, Saving | Importing) {
        image.lease_expires_at = Some(now() + Duration::hours(1));
    }
    if status == Importing {
        image
            .properties
            .insert(IMPORT_TASK_PROPERTY.into(), TASK.to_string());
    }
    if matches!(status, Active | Deactivated | PendingDelete) {
        image.set_data(&digest());
    }
    if matches!(status, PendingDelete | Deleted) {
        image.deleted_at = Some(t0());
    }
    image
}

/// The fixture image's import task in `status`; finished tasks expired an hour ago.
pub fn task_in(status: TaskStatus) -> Task {
    Task {
        id: TASK,
        version: VERSION,
        task_type: TaskType::ApiImageImport,
        status,
        input: serde_json::json!({"image_id": IMAGE}),
        result: None,
        message: String::new(),
        owner: OWNER.into(),
        image_id: Some(IMAGE),
        request_id: None,
        user_id: Some("u-owner".into()),
        expires_at: status.is_terminal().then(|| now() - Duration::hours(1)),
        created_at: t0(),
        updated_at: t0(),
        deleted: false,
        deleted_at: None,
    }
}

/// [`task_in`] as a copy-image import to [`STORE`] records it.
pub fn copy_task_in(status: TaskStatus) -> Task {
    Task {
        input: serde_json::json!({
            "image_id": IMAGE,
            "import_req": { "method": { "name": "copy-image" }, "stores": [STORE] },
            "backend": [STORE],
        }),
        ..task_in(status)
    }
}

/// `{image_id: IMAGE}`.
pub fn image_ref() -> ImageRef {
    ImageRef {
        image_id: IMAGE,
        expected_version: None,
    }
}

/// A tag command on the fixture image.
pub fn tag(tag: &str) -> TagRef {
    TagRef {
        image_id: IMAGE,
        tag: tag.into(),
    }
}

/// A member command on the fixture image.
pub fn member(member_id: &str) -> MemberRef {
    MemberRef {
        image_id: IMAGE,
        member_id: member_id.into(),
    }
}

/// The fixture image's statuses, in SPEC 1's order (the tables' column order).
pub const IMAGE_STATUSES: [ImageStatus; 9] = [
    ImageStatus::Queued,
    ImageStatus::Saving,
    ImageStatus::Uploading,
    ImageStatus::Importing,
    ImageStatus::Active,
    ImageStatus::Deactivated,
    ImageStatus::Killed,
    ImageStatus::PendingDelete,
    ImageStatus::Deleted,
];

/// Task statuses in SPEC 3's order.
pub const TASK_STATUSES: [TaskStatus; 4] = [
    TaskStatus::Pending,
    TaskStatus::Processing,
    TaskStatus::Success,
    TaskStatus::Failure,
];

/// What SPEC expects of one command in one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<S> {
    /// Accepted: one event, the aggregate moves to this status.
    Go(S),
    /// Accepted: one event, the status stays (routing key `<aggregate>.updated`).
    Same,
    /// Accepted with nothing to change: `Ok(vec![])`.
    Noop,
    /// Refused with this kind.
    No(RejectionKind),
}

/// Walks a SPEC table: every cell of every row checked in its status column, the
/// disagreements as messages.
pub fn table_mismatches<R: Copy, S: Copy, const N: usize>(
    table: &[(R, [Expect<S>; N])],
    statuses: &[S; N],
    check: impl Fn(R, S, Expect<S>) -> Result<(), String>,
) -> Vec<String> {
    table
        .iter()
        .flat_map(|(row, cells)| {
            statuses
                .iter()
                .zip(cells)
                .map(|(s, e)| check(*row, *s, *e))
                .collect::<Vec<_>>()
        })
        .filter_map(Result::err)
        .collect()
}

/// Fails with every cell that disagrees with SPEC, not just the first.
pub fn assert_agrees_with_spec(mismatches: &[String]) {
    assert!(
        mismatches.is_empty(),
        "{} cells disagree with SPEC:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
