//! The import plugins (Glance's `image_import_plugins`): steps an interoperable import
//! runs, in the configured order, between reading the data and storing it.
//!
//! The data plugins (`image_decompression`, `image_conversion`) work on a copy of the
//! data in a scratch directory of the job's own, bounded by the image size cap and
//! removed when the job's pass ends, whatever happened (a worker killed mid-job leaves
//! it behind until the worker's periodic sweep, see [`ImportPlugins::sweep_scratch`]):
//! decompressing a zip archive and
//! converting with `qemu-img` both need a file, not a stream. The result is then
//! streamed into the store like any import, inspected, counted and hashed in that pass,
//! so `size`, `virtual_size` and the hashes describe what was stored. Without a data
//! plugin the import streams straight from its source, as before.
//!
//! `inject_image_metadata` changes no bytes: its properties go with the import's
//! completion (see [`domain::injection`]), in the same command that makes the image
//! active, so a failed import leaves none behind.

mod convert;
mod decompress;
mod scratch;
mod zip_end;

use bytes::Bytes;
use domain::Image;
use domain::status::{ContainerFormat, DiskFormat};
use futures::Stream;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use store::{Area, DataLimits, FormatCheck, ImageStore, WriteError, WrittenData};

/// One import plugin, by Glance's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ImportPlugin {
    /// gzip and zip sources are decompressed before the format check.
    #[value(name = "image_decompression")]
    ImageDecompression,
    /// The data is converted with `qemu-img` to the conversion format.
    #[value(name = "image_conversion")]
    ImageConversion,
    /// Configured properties are added to imported images.
    #[value(name = "inject_image_metadata")]
    InjectImageMetadata,
}

/// The formats `image_conversion` converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConversionFormat {
    /// Raw bytes.
    Raw,
    /// QEMU copy-on-write v2.
    Qcow2,
}

impl ConversionFormat {
    /// The disk format of a converted image.
    pub fn disk_format(self) -> DiskFormat {
        match self {
            ConversionFormat::Raw => DiskFormat::Raw,
            ConversionFormat::Qcow2 => DiskFormat::Qcow2,
        }
    }
}

/// The import plugins a worker runs, with their settings.
#[derive(Debug, Clone)]
pub struct ImportPlugins {
    /// The plugins, in the order they run.
    pub order: Vec<ImportPlugin>,
    /// What `image_conversion` converts to.
    pub conversion_format: ConversionFormat,
    /// Longest one `qemu-img convert` may run before it is killed.
    pub conversion_timeout: Duration,
    /// Properties `inject_image_metadata` adds, checked by [`domain::injection`].
    pub inject: BTreeMap<String, String>,
    /// Roles whose imports get no injected properties.
    pub inject_ignore_roles: Vec<String>,
    /// Where jobs make their scratch directories.
    pub scratch_dir: PathBuf,
    /// Age past which a scratch directory is a killed job's, and swept: no job runs
    /// longer than its image's data lease.
    pub scratch_max_age: Duration,
}

impl Default for ImportPlugins {
    /// No plugins (Glance's default), the settings at their defaults.
    fn default() -> Self {
        Self {
            order: Vec::new(),
            conversion_format: ConversionFormat::Raw,
            conversion_timeout: Duration::from_secs(600),
            inject: BTreeMap::new(),
            inject_ignore_roles: domain::injection::DEFAULT_IGNORED_ROLES
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
            scratch_dir: std::env::temp_dir(),
            scratch_max_age: Duration::from_secs(3600),
        }
    }
}

/// Why the plugins' pass over the data stopped.
#[derive(Debug)]
pub enum PluginError<E> {
    /// Reading the source, the size cap, the format check or the store, as in a write
    /// without plugins.
    Write(WriteError<E>),
    /// A plugin refused or failed on the data: the task fails with this message.
    Failed(String),
    /// The scratch area failed (the worker's fault, not the data's): try again later.
    Scratch(std::io::Error),
}

/// The data as stored, and the format it was converted to, if it was.
#[derive(Debug)]
pub struct Stored {
    /// Size and digests of what was stored.
    pub written: WrittenData,
    /// The format `image_conversion` converted the data to.
    pub converted_to: Option<DiskFormat>,
}

impl ImportPlugins {
    /// Whether a plugin works on the data (and so needs the scratch area).
    pub fn touch_data(&self) -> bool {
        self.order.iter().any(|p| {
            matches!(
                p,
                ImportPlugin::ImageDecompression | ImportPlugin::ImageConversion
            )
        })
    }

    /// Removes the scratch directories left by jobs that can no longer be running (their
    /// worker was killed): the number removed.
    pub async fn sweep_scratch(&self) -> std::io::Result<usize> {
        let (parent, max_age) = (self.scratch_dir.clone(), self.scratch_max_age);
        tokio::task::spawn_blocking(move || scratch::sweep(&parent, max_age))
            .await
            .map_err(std::io::Error::other)?
    }

    /// The properties an import asked for by someone with `roles` gets injected.
    pub fn injected(&self, roles: &[String]) -> BTreeMap<String, String> {
        if !self.order.contains(&ImportPlugin::InjectImageMetadata) {
            return BTreeMap::new();
        }
        domain::injection::injected_for(roles, &self.inject_ignore_roles, &self.inject)
    }

    /// Copies `data` into a scratch file, runs the data plugins over it in order, and
    /// streams the result into the store as `image`'s data, checked against the format
    /// it has then.
    pub async fn store<S, E>(
        &self,
        store: &ImageStore,
        image: &Image,
        data: S,
        limits: DataLimits,
    ) -> Result<Stored, PluginError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let scratch = scratch::Scratch::new(&self.scratch_dir)
            .await
            .map_err(PluginError::Scratch)?;
        let stored = self.pass(&scratch, store, image, data, limits).await;
        // Removed before the import ends, whatever the pass came to (a dropped job
        // leaves the removal to the drop).
        scratch.remove().await;
        stored
    }

    /// The data plugins' pass over `data` in `scratch`, and the result into the store.
    async fn pass<S, E>(
        &self,
        scratch: &scratch::Scratch,
        store: &ImageStore,
        image: &Image,
        data: S,
        limits: DataLimits,
    ) -> Result<Stored, PluginError<E>>
    where
        S: Stream<Item = Result<Bytes, E>>,
    {
        let mut file = scratch.take(data, limits).await?;
        // Without a declared format the domain refuses the import before it starts;
        // raw is the inspector's strictest reading of unknown bytes.
        let mut format = image.disk_format.unwrap_or(DiskFormat::Raw);
        let mut converted_to = None;
        for plugin in &self.order {
            match plugin {
                ImportPlugin::ImageDecompression => {
                    // Glance's plugin: a compressed container is meant to stay so.
                    if image.container_format != Some(ContainerFormat::Compressed) {
                        file = decompress::decompress(scratch, file, limits).await?;
                    }
                }
                ImportPlugin::ImageConversion => {
                    let target = self.conversion_format.disk_format();
                    let conversion = convert::Conversion {
                        from: format,
                        to: target,
                        timeout: self.conversion_timeout,
                        limits,
                    };
                    if let Some(converted) = conversion.run(scratch, &file).await? {
                        file = converted;
                        format = target;
                        converted_to = Some(target);
                    }
                }
                ImportPlugin::InjectImageMetadata => {}
            }
        }
        let written = scratch
            .store(store, Area::Images, image.id, &file, limits, format)
            .await?;
        Ok(Stored {
            written,
            converted_to,
        })
    }
}

/// A blocking step of `plugin` that did not return: a panic is the data's doing (a
/// reader tripped on it), so the task fails; a cancelled thread is tried again.
fn joined<E>(plugin: &str, joined: tokio::task::JoinError) -> PluginError<E> {
    if joined.is_panic() {
        PluginError::Failed(format!("{plugin} failed: reading the data crashed"))
    } else {
        PluginError::Scratch(std::io::Error::other(joined.to_string()))
    }
}

/// The format check of data declared as `format`.
fn check_for(format: DiskFormat) -> FormatCheck {
    FormatCheck::for_format(Some(format))
}
