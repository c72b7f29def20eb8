//! The payloads of the interoperable import (`POST /v2/images/{id}/import`) and of its
//! task's progress and end: `begin_import`, `import_store_done`, `complete_import`,
//! `fail_import`.

use crate::ids::{ImageId, TaskId};
use crate::image::DataDigest;
use crate::status::DiskFormat;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How an import gets its data (SPEC 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "name", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ImportMethod {
    /// From the staging area filled by `PUT /stage`.
    // serde ignores extra keys next to the tag of a unit variant, even with
    // `deny_unknown_fields`; the schema says so too.
    #[schemars(extend("additionalProperties" = true))]
    GlanceDirect,
    /// Downloaded from a URL the gateway already checked.
    WebDownload {
        /// The source.
        uri: String,
    },
    /// Copied from existing stores to others (multi-store only).
    #[schemars(extend("additionalProperties" = true))]
    CopyImage,
}

/// Starts an interoperable import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BeginImport {
    /// The image.
    pub image_id: ImageId,
    /// The task to create.
    pub task_id: TaskId,
    /// The import method.
    pub method: ImportMethod,
    /// Target stores, if named.
    #[serde(default)]
    pub stores: Vec<String>,
    /// Whether one store failing fails the whole import (Glance's
    /// `all_stores_must_succeed`, true unless the request says otherwise).
    #[serde(default = "must_succeed")]
    pub all_stores_must_succeed: bool,
    /// After this the janitor may fail the import.
    pub lease_expires_at: DateTime<Utc>,
    /// The request that asked for it.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Glance's default for `all_stores_must_succeed`, for commands sent before it was
/// carried.
fn must_succeed() -> bool {
    true
}

/// A running import is done with one store: written (`succeeded`) or failed. Sent by
/// the import job after each store, so the image's `os_glance_importing_to_stores` and
/// `os_glance_failed_import` follow the import while it runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportStoreDone {
    /// The image.
    pub image_id: ImageId,
    /// Its import task.
    pub task_id: TaskId,
    /// The store.
    pub store: String,
    /// Whether the data was written there.
    pub succeeded: bool,
}

/// The import's data is in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteImport {
    /// The image.
    pub image_id: ImageId,
    /// Its import task.
    pub task_id: TaskId,
    /// What was written.
    pub digest: DataDigest,
    /// The stores the data was written to (multi-store mode): the image's stores become
    /// these, or for copy-image its stores and these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stores: Vec<String>,
    /// The format the `image_conversion` plugin converted the data to: the image takes
    /// it as its `disk_format`, with `container_format` bare (as Glance's plugin sets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converted_to: Option<DiskFormat>,
    /// Extra properties the `inject_image_metadata` plugin adds (see
    /// [`crate::injection`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub injected: BTreeMap<String, String>,
}

/// The import failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailImport {
    /// The image.
    pub image_id: ImageId,
    /// Its import task.
    pub task_id: TaskId,
    /// Why, shown as the task's message.
    pub message: String,
}
