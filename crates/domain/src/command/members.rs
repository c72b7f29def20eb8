//! The payloads of `add_member`, `update_member` and `remove_member`
//! (`/v2/images/{id}/members`).

use crate::ids::ImageId;
use crate::status::MemberStatus;
use serde::{Deserialize, Serialize};

/// A member project of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRef {
    /// The image.
    pub image_id: ImageId,
    /// The member project.
    pub member_id: String,
}

/// A member's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMember {
    /// The image.
    pub image_id: ImageId,
    /// The member project.
    pub member_id: String,
    /// Its answer.
    pub status: MemberStatus,
}
