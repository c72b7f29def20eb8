//! The payloads of `add_location` and `remove_location`.

use crate::ids::ImageId;
use crate::image::{DataDigest, Location};
use serde::{Deserialize, Serialize};

/// A verified location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLocation {
    /// The image.
    pub image_id: ImageId,
    /// Where the data is.
    pub location: Location,
    /// Size and digests read from it (required to activate a queued image).
    #[serde(default)]
    pub digest: Option<DataDigest>,
}

/// A location to forget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveLocation {
    /// The image.
    pub image_id: ImageId,
    /// The location's URL.
    pub url: String,
}
