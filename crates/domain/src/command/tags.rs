//! The payload of `add_tag` and `remove_tag` (`/v2/images/{id}/tags/{tag}`).

use crate::ids::ImageId;
use serde::{Deserialize, Serialize};

/// A tag of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagRef {
    /// The image.
    pub image_id: ImageId,
    /// The tag, up to 255 characters.
    pub tag: String,
}
