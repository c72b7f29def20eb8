//! The import plugins' flags (Glance's `image_import_plugins` and the plugins' own
//! options), part of [`crate::fleet_args::FleetArgs`]. Bad values stop the worker at
//! startup with the flag's name: an unknown plugin or conversion format (clap lists the
//! valid ones), a property that is not `key:value` or names an attribute that cannot be
//! injected, a scratch directory that cannot be made, or image_conversion without
//! `qemu-img`.

use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

use crate::jobs::{ConversionFormat, ImportPlugin, ImportPlugins};

/// The import plugins a worker runs and their settings.
#[derive(Debug, Args)]
pub struct PluginArgs {
    /// Import plugins each interoperable import runs, in this order (comma-separated):
    /// image_decompression, image_conversion, inject_image_metadata. None by default.
    #[arg(
        long,
        env = "IMAGEFLEET_IMPORT_PLUGINS",
        value_enum,
        value_delimiter = ','
    )]
    pub import_plugins: Vec<ImportPlugin>,
    /// The format image_conversion converts imported images to.
    #[arg(
        long,
        env = "IMAGEFLEET_CONVERSION_FORMAT",
        value_enum,
        default_value = "raw"
    )]
    pub conversion_format: ConversionFormat,
    /// Seconds one `qemu-img convert` may run before it is killed and the import fails.
    #[arg(long, env = "IMAGEFLEET_CONVERSION_TIMEOUT", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub conversion_timeout: u64,
    /// Properties inject_image_metadata adds to imported images, as comma-separated
    /// `key:value` pairs.
    #[arg(long, env = "IMAGEFLEET_INJECT_PROPERTIES", value_delimiter = ',',
          value_parser = parse_property)]
    pub inject_properties: Vec<(String, String)>,
    /// Roles whose imports get no injected properties (comma-separated).
    #[arg(
        long,
        env = "IMAGEFLEET_INJECT_IGNORE_ROLES",
        value_delimiter = ',',
        default_value = "admin"
    )]
    pub inject_ignore_roles: Vec<String>,
    /// Directory under which import jobs make their scratch directories for
    /// image_decompression and image_conversion (the system's temporary directory by
    /// default). Each job's directory holds at most about twice the image size cap.
    #[arg(long, env = "IMAGEFLEET_SCRATCH_DIR")]
    pub scratch_dir: Option<PathBuf>,
    /// Seconds after which a scratch directory is taken for a killed job's and removed by
    /// the worker's sweep; at least the gateway's IMAGEFLEET_DATA_LEASE, which no import
    /// outlives.
    #[arg(long, env = "IMAGEFLEET_SCRATCH_MAX_AGE", default_value_t = 3600)]
    pub scratch_max_age: u64,
}

/// Why the plugin flags do not make a configuration.
#[derive(Debug, thiserror::Error)]
pub enum PluginArgsError {
    /// The scratch directory cannot be created.
    #[error("IMAGEFLEET_SCRATCH_DIR {0}: {1}")]
    ScratchDir(String, #[source] std::io::Error),
    /// image_conversion is enabled but `qemu-img` does not run.
    #[error(
        "IMAGEFLEET_IMPORT_PLUGINS names image_conversion, but `qemu-img --version` does not run: {0}"
    )]
    QemuImg(String),
}

/// One `key:value` of `IMAGEFLEET_INJECT_PROPERTIES`, checked by the domain's rules.
fn parse_property(entry: &str) -> Result<(String, String), String> {
    domain::injection::parse_entry(entry)
}

impl PluginArgs {
    /// The plugins these flags configure, checked for use at startup: the scratch
    /// directory is made (and named absolutely), `qemu-img` runs if conversion is on.
    pub fn to_plugins(&self) -> Result<ImportPlugins, PluginArgsError> {
        let plugins = self.settings();
        let scratch_dir = &plugins.scratch_dir;
        let unusable = |e| PluginArgsError::ScratchDir(scratch_dir.display().to_string(), e);
        std::fs::create_dir_all(scratch_dir).map_err(unusable)?;
        // Absolute and free of links: the directory jobs and sweeps use stays the one
        // named at startup whatever the working directory or links do later.
        let scratch_dir = std::fs::canonicalize(scratch_dir).map_err(unusable)?;
        if self.import_plugins.contains(&ImportPlugin::ImageConversion) {
            let ran = std::process::Command::new("qemu-img")
                .arg("--version")
                .output()
                .map_err(|e| PluginArgsError::QemuImg(e.to_string()))?;
            if !ran.status.success() {
                return Err(PluginArgsError::QemuImg(ran.status.to_string()));
            }
        }
        Ok(ImportPlugins {
            scratch_dir,
            ..plugins
        })
    }

    /// The settings the flags say, before the startup checks.
    fn settings(&self) -> ImportPlugins {
        let defaults = ImportPlugins::default();
        ImportPlugins {
            order: self.import_plugins.clone(),
            conversion_format: self.conversion_format,
            conversion_timeout: Duration::from_secs(self.conversion_timeout),
            inject: self.inject_properties.iter().cloned().collect(),
            inject_ignore_roles: self
                .inject_ignore_roles
                .iter()
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty())
                .collect(),
            scratch_dir: self.scratch_dir.clone().unwrap_or(defaults.scratch_dir),
            scratch_max_age: Duration::from_secs(self.scratch_max_age),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        plugins: PluginArgs,
    }

    /// Parses the flags with every argument's environment variable removed: what is
    /// checked is the flags and the built-in defaults, whatever `IMAGEFLEET_*` the
    /// shell running the tests has set.
    fn parse(args: &[&str]) -> Result<PluginArgs, String> {
        let argv = std::iter::once("workers").chain(args.iter().copied());
        let command = Flags::command().mut_args(|arg| arg.env(None::<&str>));
        command
            .try_get_matches_from(argv)
            .and_then(|matches| Flags::from_arg_matches(&matches))
            .map(|flags| flags.plugins)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn plugins_keep_their_order_and_properties_their_values() {
        let args = parse(&[
            "--import-plugins",
            "image_conversion,image_decompression",
            "--conversion-format",
            "qcow2",
            "--inject-properties",
            "hw_vendor:acme,source:mirror:internal",
        ])
        .expect("valid flags");
        let plugins = args.settings();
        assert_eq!(
            plugins.order,
            [
                ImportPlugin::ImageConversion,
                ImportPlugin::ImageDecompression
            ]
        );
        assert_eq!(plugins.conversion_format, ConversionFormat::Qcow2);
        assert_eq!(plugins.inject["source"], "mirror:internal");
        assert_eq!(plugins.inject_ignore_roles, ["admin"]);
    }

    #[test]
    fn bad_values_are_refused_naming_the_flag() {
        for (args, expected) in [
            (["--import-plugins", "image_resizing"], "--import-plugins"),
            (["--conversion-format", "vmdk"], "--conversion-format"),
            (["--inject-properties", "novalue"], "key:value"),
            (["--inject-properties", "os_glance_x:1"], "reserved"),
            (["--inject-properties", "name:x"], "core attribute"),
        ] {
            let refused = parse(&args).expect_err("refused");
            assert!(refused.contains(expected), "{args:?}: {refused}");
        }
    }
}
