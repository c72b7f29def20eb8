//! The payload of `update_image` (`PATCH /v2/images/{id}`): JSON-patch operations.

use crate::ids::ImageId;
use serde::{Deserialize, Serialize};

/// `PATCH`'s operations, already split into attribute names (`~0`/`~1` decoded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateImage {
    /// The image.
    pub image_id: ImageId,
    /// Applied in order, all or nothing.
    pub operations: Vec<PatchOperation>,
    /// Refuse with 412 unless the image is at this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_version: Option<i64>,
}

/// One JSON-patch operation on a top-level attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PatchOperation {
    /// Sets the attribute, creating an extra property if needed.
    Add {
        /// The attribute's name.
        attribute: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// Sets an attribute that must already exist.
    Replace {
        /// The attribute's name.
        attribute: String,
        /// The new value.
        value: serde_json::Value,
    },
    /// Removes an extra property that must exist.
    Remove {
        /// The attribute's name.
        attribute: String,
    },
}
