//! The payloads that begin, complete and abort a data write: an upload (`PUT /file`) or
//! a staging (`PUT /stage`).

use crate::ids::ImageId;
use crate::image::DataDigest;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Starts a data write that holds the image until the lease expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Leased {
    /// The image.
    pub image_id: ImageId,
    /// After this the janitor may return the image to queued.
    pub lease_expires_at: DateTime<Utc>,
}

/// Finishes a data write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WithDigest {
    /// The image.
    pub image_id: ImageId,
    /// What was written.
    pub digest: DataDigest,
    /// The store written to (multi-store mode; `X-Image-Meta-Store` or the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
}

/// Finishes a staging (`PUT /stage`): the image shows the staged size while the data
/// waits for `POST /import`, as Glance sets `size` when it stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StagedData {
    /// The image.
    pub image_id: ImageId,
    /// Bytes staged. Optional on the wire: a gateway of an earlier release sends none,
    /// and the image then shows no size until the import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
}

/// Gives up a data write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// The image.
    pub image_id: ImageId,
    /// Why, for the event and the log.
    pub reason: String,
    /// False when partial data could not be removed: the image is then killed.
    pub data_removed: bool,
}
