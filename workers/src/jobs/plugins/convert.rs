//! `image_conversion`: `qemu-img convert` of the import's data to the conversion format,
//! as Glance's plugin does it. The format inspector reads the data first, as the image
//! declares it; only data it accepted reaches `qemu-img`, always with that format as
//! `-f` (never left to `qemu-img`'s own probing, which a crafted image can fool). The
//! output must fit the image size cap: a conversion to raw is as large as the virtual
//! disk, so it is refused beforehand when the inspected virtual size is over the cap or
//! unknown (VHDX, whose size the inspector does not read); any converted file is
//! measured against the cap before it is stored (and the store enforces it again).
//! `qemu-img` is killed when it runs past the timeout, and only the start of its
//! complaint is kept. ISO images stay as they are (Glance's rule), as does data already
//! in the target format.

use domain::status::DiskFormat;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use store::{DataCheck, DataLimits, Refused};
use tokio::io::AsyncReadExt;

use super::scratch::Scratch;
use super::{PluginError, check_for};

/// Most characters of `qemu-img`'s complaint a task message carries.
const MAX_STDERR: usize = 500;
/// Most bytes of `qemu-img`'s stderr kept (a UTF-8 character is at most 4 bytes).
const MAX_STDERR_BYTES: usize = MAX_STDERR * 4;

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
        if self.to == DiskFormat::Raw {
            // Raw output is the whole virtual disk, sparse regions included.
            match virtual_size {
                Some(size) if size > self.limits.max_bytes => {
                    return Err(PluginError::Failed(format!(
                        "image_conversion refused the data: its virtual size of {size} bytes is over the image size cap of {} bytes",
                        self.limits.max_bytes
                    )));
                }
                Some(_) => {}
                None => {
                    return Err(PluginError::Failed(format!(
                        "image_conversion refused the data: the virtual size of a {} image cannot be read before converting it to raw, so its fit in the image size cap cannot be checked",
                        self.from
                    )));
                }
            }
        }
        let converted = scratch.path("converted");
        let mut child = tokio::process::Command::new("qemu-img")
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
        let stderr = child.stderr.take();
        let ended = async { tokio::try_join!(child.wait(), read_bounded(stderr)) };
        let (status, stderr) = match tokio::time::timeout(self.timeout, ended).await {
            Ok(ended) => ended.map_err(PluginError::Scratch)?,
            Err(_) => {
                return Err(PluginError::Failed(format!(
                    "image_conversion to {} took longer than {} s and was stopped",
                    self.to,
                    self.timeout.as_secs()
                )));
            }
        };
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            let said: String = stderr.trim().chars().take(MAX_STDERR).collect();
            return Err(PluginError::Failed(format!(
                "image_conversion from {} to {} failed: qemu-img: {said}",
                self.from, self.to
            )));
        }
        let length = tokio::fs::metadata(&converted)
            .await
            .map_err(PluginError::Scratch)?
            .len();
        if length > self.limits.max_bytes {
            return Err(PluginError::Failed(format!(
                "image_conversion refused the result: the converted {} image of {length} bytes is over the image size cap of {} bytes",
                self.to, self.limits.max_bytes
            )));
        }
        tokio::fs::remove_file(file)
            .await
            .map_err(PluginError::Scratch)?;
        Ok(Some(converted))
    }
}

/// The first bytes of `qemu-img`'s stderr, the rest read and dropped (so it never
/// blocks on a full pipe).
async fn read_bounded(stderr: Option<tokio::process::ChildStderr>) -> std::io::Result<Vec<u8>> {
    let Some(mut stderr) = stderr else {
        return Ok(Vec::new());
    };
    let mut kept = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = stderr.read(&mut buffer).await?;
        if n == 0 {
            return Ok(kept);
        }
        let room = MAX_STDERR_BYTES.saturating_sub(kept.len());
        kept.extend_from_slice(&buffer[..n.min(room)]);
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
    .map_err(|joined| super::joined("image_conversion", joined))?;
    verdict.map_err(PluginError::Scratch)
}
