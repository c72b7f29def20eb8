//! Actors and command builders for tests: an owner project `p1` with the member role,
//! a reader of `p1`, another project, an admin and the service, and envelopes of the
//! commands tests send most.

use domain::command::{
    Abort, CreateImage, ImageRef, Leased, PatchOperation, TagRef, UpdateImage, WithDigest,
};
use domain::image::DataDigest;
use domain::{Actor, Command, ImageId};
use wire::CommandEnvelope;

/// The project that owns test images.
pub const OWNER_PROJECT: &str = "p1";

/// A member of `p1`: may create and change its images.
pub fn owner() -> Actor {
    Actor::new(OWNER_PROJECT, "u1", &["member", "reader"])
}

/// A reader of `p1`: may only read.
pub fn reader() -> Actor {
    Actor::new(OWNER_PROJECT, "u2", &["reader"])
}

/// A member of another project.
pub fn other() -> Actor {
    Actor::new("p2", "u3", &["member", "reader"])
}

/// An admin.
pub fn admin() -> Actor {
    Actor::new("admin-project", "root", &["admin", "member", "reader"])
}

/// An envelope with a fresh command id.
pub fn envelope(actor: Actor, command: Command) -> CommandEnvelope {
    CommandEnvelope::new(actor, command)
}

/// `create_image` of a raw/bare image with the given id and name.
pub fn create(image_id: ImageId, name: &str) -> Command {
    Command::CreateImage(CreateImage {
        image_id,
        name: Some(name.to_owned()),
        visibility: None,
        protected: None,
        os_hidden: None,
        disk_format: "raw".parse().ok(),
        container_format: "bare".parse().ok(),
        min_disk: None,
        min_ram: None,
        tags: Vec::new(),
        properties: Default::default(),
        owner: None,
    })
}

/// A plain image reference.
pub fn image_ref(image_id: ImageId) -> ImageRef {
    ImageRef {
        image_id,
        expected_version: None,
    }
}

/// `update_image` adding (or replacing) one extra property.
pub fn set_property(image_id: ImageId, key: &str, value: &str) -> Command {
    Command::UpdateImage(UpdateImage {
        image_id,
        operations: vec![PatchOperation::Add {
            attribute: key.to_owned(),
            value: value.into(),
        }],
        expected_version: None,
    })
}

/// `add_tag`.
pub fn add_tag(image_id: ImageId, tag: &str) -> Command {
    Command::AddTag(TagRef {
        image_id,
        tag: tag.to_owned(),
    })
}

/// `remove_tag`.
pub fn remove_tag(image_id: ImageId, tag: &str) -> Command {
    Command::RemoveTag(TagRef {
        image_id,
        tag: tag.to_owned(),
    })
}

/// `begin_upload` with a lease of an hour.
pub fn begin_upload(image_id: ImageId) -> Command {
    Command::BeginUpload(Leased {
        image_id,
        lease_expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
    })
}

/// `complete_upload` of `size` bytes with made-up digests.
pub fn complete_upload(image_id: ImageId, size: i64) -> Command {
    Command::CompleteUpload(WithDigest {
        image_id,
        digest: DataDigest {
            size,
            checksum: format!("{size:032x}"),
            os_hash_algo: "sha512".to_owned(),
            os_hash_value: format!("{size:0128x}"),
            virtual_size: Some(size),
        },
        store: None,
    })
}

/// `abort_upload` with the data removed.
pub fn abort_upload(image_id: ImageId) -> Command {
    Command::AbortUpload(Abort {
        image_id,
        reason: "client went away".to_owned(),
        data_removed: true,
    })
}
