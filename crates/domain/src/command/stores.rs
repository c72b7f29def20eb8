//! The payload of `delete_from_store` (`DELETE /v2/stores/{store_id}/{image_id}`).

use crate::ids::ImageId;
use serde::{Deserialize, Serialize};

/// One store's copy of an image's data to remove, the image keeping its other copies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteFromStore {
    /// The image.
    pub image_id: ImageId,
    /// The store's id.
    pub store: String,
}
