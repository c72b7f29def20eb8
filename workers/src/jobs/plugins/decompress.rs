//! `image_decompression`: gzip and zip data, told by their magic bytes as Glance's plugin
//! tells them, is decompressed before the format check. A zip archive must hold exactly
//! one file (Glance's rule), which its end records must declare before the archive is
//! opened (see [`super::zip_end`]). Decompression streams from one scratch file to another on a
//! blocking thread, and stops as soon as the output passes the image size cap: a
//! decompression bomb is refused after at most the cap's worth of output.
//! Glance's optional LHA support (through the `lhafile` module, off by default) is left
//! out: there is no pure-Rust reader for it.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};
use store::DataLimits;

use super::PluginError;
use super::scratch::Scratch;
use super::zip_end;

/// The gzip member header: magic and the deflate method.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
/// A zip local file header.
const ZIP_MAGIC: &[u8] = &[0x50, 0x4b, 0x03, 0x04];

/// Bytes decompressed per read.
const BUFFER: usize = 256 * 1024;

/// The compressed containers the plugin opens.
#[derive(Debug, Clone, Copy)]
enum Container {
    Gzip,
    Zip,
}

impl Container {
    fn detect(head: &[u8]) -> Option<Self> {
        if head.starts_with(GZIP_MAGIC) {
            Some(Container::Gzip)
        } else if head.starts_with(ZIP_MAGIC) {
            Some(Container::Zip)
        } else {
            None
        }
    }

    fn name(self) -> &'static str {
        match self {
            Container::Gzip => "gzip",
            Container::Zip => "zip",
        }
    }
}

/// Why decompression stopped.
enum Failure {
    /// The data is at fault: the task's message.
    Data(String),
    /// The scratch area failed.
    Scratch(std::io::Error),
}

/// Decompresses `file` if it is gzip or zip: the decompressed file, or `file` itself
/// when it is neither.
pub(super) async fn decompress<E>(
    scratch: &Scratch,
    file: PathBuf,
    limits: DataLimits,
) -> Result<PathBuf, PluginError<E>> {
    let output = scratch.path("decompressed");
    let (source, target) = (file.clone(), output.clone());
    // The thread owns a share of the directory: dropped mid-write, the job cannot have
    // the directory removed before the thread stops writing into it.
    let share = scratch.share();
    let done = tokio::task::spawn_blocking(move || {
        let done = decompress_file(&source, &target, limits);
        drop(share);
        done
    })
    .await
    .map_err(|joined| super::joined("image_decompression", joined))?;
    match done {
        Ok(None) => Ok(file),
        Ok(Some(container)) => {
            tracing::debug!(container = container.name(), "import data decompressed");
            // The compressed copy is no longer needed: free the scratch space now.
            tokio::fs::remove_file(&file)
                .await
                .map_err(PluginError::Scratch)?;
            // Later steps write their own files: the name is taken by this one.
            let kept = scratch.path("source");
            tokio::fs::rename(&output, &kept)
                .await
                .map_err(PluginError::Scratch)?;
            Ok(kept)
        }
        Err(Failure::Data(message)) => Err(PluginError::Failed(message)),
        Err(Failure::Scratch(error)) => Err(PluginError::Scratch(error)),
    }
}

fn decompress_file(
    source: &Path,
    target: &Path,
    limits: DataLimits,
) -> Result<Option<Container>, Failure> {
    let mut input = File::open(source).map_err(Failure::Scratch)?;
    let mut head = [0u8; 4];
    let mut seen = 0;
    while seen < head.len() {
        match input.read(&mut head[seen..]).map_err(Failure::Scratch)? {
            0 => break,
            n => seen += n,
        }
    }
    let Some(container) = Container::detect(&head[..seen]) else {
        return Ok(None);
    };
    input.rewind().map_err(Failure::Scratch)?;
    let input = BufReader::new(input);
    match container {
        Container::Gzip => copy_capped(MultiGzDecoder::new(input), target, container, limits)?,
        Container::Zip => {
            let unreadable = |e: zip::result::ZipError| {
                Failure::Data(format!(
                    "image_decompression cannot read the zip archive: {e}"
                ))
            };
            // The end records first: the crate reads the whole central directory.
            let mut input = input;
            if let Err(why) = zip_end::check(&mut input).map_err(Failure::Scratch)? {
                return Err(Failure::Data(format!(
                    "image_decompression refused the zip archive: {why}"
                )));
            }
            input.rewind().map_err(Failure::Scratch)?;
            let mut archive = zip::ZipArchive::new(input).map_err(unreadable)?;
            // Glance counts every name (`namelist()`); the crate's length counts one of
            // each.
            if archive.has_duplicate_names() {
                return Err(Failure::Data(
                    "image_decompression takes a zip archive of exactly one file; this one holds several of the same name"
                        .to_owned(),
                ));
            }
            if archive.len() != 1 {
                return Err(Failure::Data(format!(
                    "image_decompression takes a zip archive of exactly one file; this one holds {}",
                    archive.len()
                )));
            }
            let entry = archive.by_index(0).map_err(unreadable)?;
            if entry.is_dir() {
                return Err(Failure::Data(
                    "image_decompression takes a zip archive of one file; this one holds a directory"
                        .to_owned(),
                ));
            }
            copy_capped(entry, target, container, limits)?;
        }
    }
    Ok(Some(container))
}

/// Copies the decompressed stream into `target`, refusing it once it passes the cap.
fn copy_capped(
    mut reader: impl Read,
    target: &Path,
    container: Container,
    limits: DataLimits,
) -> Result<(), Failure> {
    let mut output = BufWriter::new(File::create(target).map_err(Failure::Scratch)?);
    let mut buffer = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // An error of the system (the scratch disk failing) is no fault of the data:
            // decoders report corrupt data without an OS error code.
            Err(e) if e.raw_os_error().is_some() => return Err(Failure::Scratch(e)),
            Err(e) => {
                return Err(Failure::Data(format!(
                    "image_decompression failed: the {} data is corrupt: {e}",
                    container.name()
                )));
            }
        };
        total += n as u64;
        if total > limits.max_bytes {
            return Err(Failure::Data(format!(
                "image_decompression refused the {} data: it decompresses to more than the image size cap of {} bytes (a decompression bomb?)",
                container.name(),
                limits.max_bytes
            )));
        }
        output.write_all(&buffer[..n]).map_err(Failure::Scratch)?;
    }
    output.flush().map_err(Failure::Scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader failing as a disk does.
    struct FailingDisk;

    impl Read for FailingDisk {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from_raw_os_error(5))
        }
    }

    /// A reader failing as a decoder on corrupt data does.
    struct CorruptData;

    impl Read for CorruptData {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "bad block",
            ))
        }
    }

    #[test]
    fn a_disk_error_is_the_scratch_areas_and_a_decoder_error_the_datas() {
        let dir = tempfile::tempdir().expect("a directory");
        let target = dir.path().join("out");
        let limits = DataLimits { max_bytes: 1 << 20 };
        let disk = copy_capped(FailingDisk, &target, Container::Gzip, limits);
        assert!(matches!(disk, Err(Failure::Scratch(_))));
        let data = copy_capped(CorruptData, &target, Container::Gzip, limits);
        assert!(matches!(data, Err(Failure::Data(message)) if message.contains("corrupt")));
    }
}
