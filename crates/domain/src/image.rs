//! The image aggregate: every field Glance shows, plus the version that optimistic
//! locking compares and the lease that lets the janitor reclaim abandoned uploads.

use super::ids::{ImageId, TaskId};
use super::status::{ContainerFormat, DiskFormat, ImageStatus, MemberStatus, Visibility};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Properties whose names start with this are the service's own (SPEC 9): visible,
/// never writable by clients.
pub const RESERVED_PROPERTY_PREFIX: &str = "os_glance_";

/// The property that locks an image while an import runs (its value is the task id).
pub const IMPORT_TASK_PROPERTY: &str = "os_glance_import_task";

/// The property listing the stores an import failed to write to.
pub const FAILED_IMPORT_PROPERTY: &str = "os_glance_failed_import";

/// The property listing the stores a running import has still to write to.
pub const IMPORTING_TO_STORES_PROPERTY: &str = "os_glance_importing_to_stores";

/// An image as stored, at one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Image {
    /// The image's id.
    pub id: ImageId,
    /// Starts at 1 on creation and rises by one with every accepted change.
    pub version: i64,
    /// The lifecycle status.
    pub status: ImageStatus,
    /// A free-form name, up to 255 characters.
    pub name: Option<String>,
    /// Who may see it.
    pub visibility: Visibility,
    /// A protected image cannot be deleted, even by an admin.
    pub protected: bool,
    /// Hidden from default lists.
    pub os_hidden: bool,
    /// The owning project.
    pub owner: String,
    /// Hex md5 of the data.
    pub checksum: Option<String>,
    /// The secure hash's algorithm (`sha512`).
    pub os_hash_algo: Option<String>,
    /// Hex digest of the secure hash.
    pub os_hash_value: Option<String>,
    /// Size of the data in bytes.
    pub size: Option<i64>,
    /// Size of the virtual disk the data describes.
    pub virtual_size: Option<i64>,
    /// Minimum disk in GiB a server needs to boot it.
    pub min_disk: i32,
    /// Minimum RAM in MiB a server needs to boot it.
    pub min_ram: i32,
    /// The format of the data.
    pub disk_format: Option<DiskFormat>,
    /// The container of the data.
    pub container_format: Option<ContainerFormat>,
    /// Unique tags, sorted.
    pub tags: Vec<String>,
    /// Extra properties, including the service's `os_glance_*` ones.
    pub properties: BTreeMap<String, String>,
    /// Projects the image is shared with.
    pub members: Vec<Member>,
    /// Where the data lives, in order.
    pub locations: Vec<Location>,
    /// The stores holding the data, in order (multi-store mode; an image with data
    /// that lists none is in the default store).
    #[serde(default)]
    pub stores: Vec<String>,
    /// When the image was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it was deleted (pending_delete or deleted).
    pub deleted_at: Option<DateTime<Utc>>,
    /// While saving, uploading or importing: the moment the janitor may give up on the
    /// holder and return the image to queued.
    pub lease_expires_at: Option<DateTime<Utc>>,
}

/// A project an image is shared with, and its answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    /// The member project's id.
    pub member_id: String,
    /// Its answer.
    pub status: MemberStatus,
    /// When the image was shared with it.
    pub created_at: DateTime<Utc>,
    /// When its status last changed.
    pub updated_at: DateTime<Utc>,
}

/// A place the image's data can be read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    /// The URL of the data.
    pub url: String,
    /// Store-specific metadata.
    pub metadata: serde_json::Value,
}

/// Size and digests of data that was written or verified in one pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DataDigest {
    /// Bytes written.
    pub size: i64,
    /// Hex md5 (Glance's `checksum`).
    pub checksum: String,
    /// The secure hash algorithm, `sha512` by default.
    pub os_hash_algo: String,
    /// Hex digest of the secure hash.
    pub os_hash_value: String,
    /// The virtual disk size, when the format inspector could tell it.
    pub virtual_size: Option<i64>,
}

impl Image {
    /// The member entry of a project, if the image is shared with it.
    pub fn member(&self, project_id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.member_id == project_id)
    }

    /// The running import's task id, from the lock property.
    pub fn import_task(&self) -> Option<TaskId> {
        self.properties
            .get(IMPORT_TASK_PROPERTY)
            .and_then(|v| TaskId::parse(v).ok())
    }

    /// Whether data has been written (formats are then frozen).
    pub fn has_data(&self) -> bool {
        self.checksum.is_some() || !self.locations.is_empty() || self.size.is_some()
    }

    /// Records the digest of freshly written data.
    pub(crate) fn set_data(&mut self, digest: &DataDigest) {
        self.size = Some(digest.size);
        self.checksum = Some(digest.checksum.clone());
        self.os_hash_algo = Some(digest.os_hash_algo.clone());
        self.os_hash_value = Some(digest.os_hash_value.clone());
        self.virtual_size = digest.virtual_size;
    }

    /// Forgets data that was removed.
    pub(crate) fn clear_data(&mut self) {
        self.size = None;
        self.checksum = None;
        self.os_hash_algo = None;
        self.os_hash_value = None;
        self.virtual_size = None;
        self.stores.clear();
    }
}
