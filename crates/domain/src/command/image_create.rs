//! The payload of `create_image` (`POST /v2/images`).

use crate::ids::ImageId;
use crate::status::{ContainerFormat, DiskFormat, Visibility};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The fields a client may give at creation (SPEC 5); absent ones take Glance's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateImage {
    /// The new image's id.
    pub image_id: ImageId,
    /// Name, up to 255 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Defaults to shared.
    #[serde(default)]
    pub visibility: Option<Visibility>,
    /// Defaults to false.
    #[serde(default)]
    pub protected: Option<bool>,
    /// Defaults to false.
    #[serde(default)]
    pub os_hidden: Option<bool>,
    /// Format of the data to come.
    #[serde(default)]
    pub disk_format: Option<DiskFormat>,
    /// Container of the data to come.
    #[serde(default)]
    pub container_format: Option<ContainerFormat>,
    /// Defaults to 0.
    #[serde(default)]
    pub min_disk: Option<i64>,
    /// Defaults to 0.
    #[serde(default)]
    pub min_ram: Option<i64>,
    /// Tags; duplicates collapse.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra properties.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Another owning project (admin only).
    #[serde(default)]
    pub owner: Option<String>,
}
