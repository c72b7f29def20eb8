//! `image_conversion`: `qemu-img convert` of the import's data to the conversion format,
//! as Glance's plugin does it. The format inspector reads the data first, as the image
//! declares it; only data it accepted reaches `qemu-img`, always with that format as
//! `-f` (never left to `qemu-img`'s own probing, which a crafted image can fool). The
//! output must fit the image size cap (told from the inspected virtual size before
//! converting, and enforced again as it is stored), and `qemu-img` is killed when it
//! runs past the timeout. ISO images stay as they are (Glance's rule), as does data
//! already in the target format.

use domain::status::DiskFormat;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use store::{DataCheck, DataLimits, Refused};

use super::scratch::Scratch;
use super::{PluginError, check_for};

/// Most characters of `qemu-img`'s complaint a task message carries.
const MAX_STDERR: usize = 500;

/// One conversion of an import's data.
pub(super) struct Conversion {
    /// The format the data was declared as (and is inspected as).
    pub from: DiskFormat,
    /// The format to convert to.
    pub to: DiskFormat,
    /// Longest `qemu-img` may run.
    pub timeout: Duration,
    /// The size cap the output must fit.
    pub limits: DataLimits,
}

/// `qemu-img`'s name of a disk format, for those it reads and writes.
fn qemu_name(format: DiskFormat) -> Option<&'static str> {
    match format {
        DiskFormat::Raw => Some("raw"),
        DiskFormat::Qcow2 => Some("qcow2"),
        DiskFormat::Vmdk => Some("vmdk"),
        DiskFormat::Vdi => Some("vdi"),
        DiskFormat::Vhdx => Some("vhdx"),
        DiskFormat::Vhd => Some("vpc"),
        _ => None,
    }
}

impl Conversion {
    /// Converts `file`: the converted file, or None when the data stays as it is.
    pub(super) async fn run<E>(
        &self,
        scratch: &Scratch,
        file: &Path,
    ) -> Result<Option<PathBuf>, PluginError<E>> {
        let virtual_size = inspect(file, self.from).await?.map_err(|refused| {
            PluginError::Failed(format!(
                "image_conversion refused the data before converting it: {refused}"
            ))
        })?;
        if self.from == DiskFormat::Iso || self.from == self.to {
            return Ok(None);
        }
        let (Some(input), Some(output)) = (qemu_name(self.from), qemu_name(self.to)) else {
            return Err(PluginError::Failed(format!(
                "image_conversion cannot convert disk_format {}: it converts raw, qcow2, vmdk, vdi, vhd and vhdx images",
                self.from
            )));
        };
        if let Some(size) = virtual_size.filter(|size| *size > self.limits.max_bytes) {
            return Err(PluginError::Failed(format!(
                "image_conversion refused the data: its virtual size of {size} bytes is over the image size cap of {} bytes",
                self.limits.max_bytes
            )));
        }
        let converted = scratch.path("converted");
        let child = tokio::process::Command::new("qemu-img")
            .args(["convert", "-f", input, "-O", output])
            .arg(file)
            .arg(&converted)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // A conversion given up on (timeout, job dropped) must not run on.
            .kill_on_drop(true)
            .spawn()
            .map_err(PluginError::Scratch)?;
        let ended = match tokio::time::timeout(self.timeout, child.wait_with_output()).await {
            Ok(ended) => ended.map_err(PluginError::Scratch)?,
            Err(_) => {
                return Err(PluginError::Failed(format!(
                    "image_conversion to {} took longer than {} s and was stopped",
                    self.to,
                    self.timeout.as_secs()
                )));
            }
        };
        if !ended.status.success() {
            let stderr = String::from_utf8_lossy(&ended.stderr);
            let said: String = stderr.trim().chars().take(MAX_STDERR).collect();
            return Err(PluginError::Failed(format!(
                "image_conversion from {} to {} failed: qemu-img: {said}",
                self.from, self.to
            )));
        }
        tokio::fs::remove_file(file)
            .await
            .map_err(PluginError::Scratch)?;
        Ok(Some(converted))
    }
}

/// The inspector's verdict on `file` as data of `format`: its virtual size, or why it
/// is refused.
async fn inspect<E>(
    file: &Path,
    format: DiskFormat,
) -> Result<Result<Option<u64>, Refused>, PluginError<E>> {
    let file = file.to_owned();
    let verdict = tokio::task::spawn_blocking(move || -> std::io::Result<_> {
        let mut check = check_for(format);
        let mut input = std::fs::File::open(&file)?;
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let n = input.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            if let Err(refused) = check.feed(&buffer[..n]) {
                return Ok(Err(refused));
            }
        }
        Ok(check.finish())
    })
    .await
    .map_err(|joined| PluginError::Scratch(std::io::Error::other(joined.to_string())))?;
    verdict.map_err(PluginError::Scratch)
}
