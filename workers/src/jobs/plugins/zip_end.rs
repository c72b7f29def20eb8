//! The end of a zip archive, read before the `zip` crate opens it: `ZipArchive::new`
//! loads every central-directory entry into memory (about 46 bytes of input each), so a
//! crafted archive under the image size cap could take gigabytes of the worker's memory
//! before the one-file rule is checked. Every end-of-central-directory record in the
//! archive's last 64 KiB (and the ZIP64 record one of them points to) must declare
//! exactly one entry and a small central directory, or the archive is refused.

use std::io::{Read, Seek, SeekFrom};

/// The end-of-central-directory record's signature, and its size without the comment.
const EOCD_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const EOCD_SIZE: usize = 22;
/// The ZIP64 end locator's signature and size (it sits just before the record).
const LOCATOR_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const LOCATOR_SIZE: usize = 20;
/// The ZIP64 end record's signature, and the bytes of it read here.
const ZIP64_SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
const ZIP64_READ: usize = 56;
/// How far from the end a record may start: its size and the longest comment.
const TAIL: u64 = (EOCD_SIZE + LOCATOR_SIZE + u16::MAX as usize) as u64;
/// The largest central directory of one entry: its 46 bytes and three 64 KiB fields.
pub(super) const MAX_CENTRAL_DIRECTORY: u64 = 46 + 3 * u16::MAX as u64;

/// What one end record declares.
struct Declared {
    entries: u64,
    directory_size: u64,
}

/// Checks the end records of the archive `input`: Ok when every one declares a single
/// entry and a small central directory, else why the archive is refused.
pub(super) fn check<R: Read + Seek>(input: &mut R) -> std::io::Result<Result<(), String>> {
    let length = input.seek(SeekFrom::End(0))?;
    let start = length.saturating_sub(TAIL);
    input.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    input.take(TAIL).read_to_end(&mut tail)?;
    let mut found = false;
    for at in (0..tail.len().saturating_sub(EOCD_SIZE - 1)).rev() {
        let record = &tail[at..at + EOCD_SIZE];
        if record[..4] != EOCD_SIGNATURE {
            continue;
        }
        let comment = usize::from(u16_at(record, 20));
        // A record whose comment runs past the end is no record (the crate skips it too).
        if at + EOCD_SIZE + comment > tail.len() {
            continue;
        }
        found = true;
        let entries = u16_at(record, 10);
        let directory_size = u32_at(record, 12);
        let offset = u32_at(record, 16);
        let declared = if entries == u16::MAX || directory_size == u32::MAX || offset == u32::MAX {
            match zip64_record(input, &tail, start, at)? {
                Some(declared) => declared,
                None => {
                    return Ok(Err(
                        "its ZIP64 end record is missing or unreadable".to_owned()
                    ));
                }
            }
        } else {
            Declared {
                entries: u64::from(entries),
                directory_size: u64::from(directory_size),
            }
        };
        if declared.entries != 1 {
            return Ok(Err(format!(
                "it must hold exactly one file; its central directory declares {} entries",
                declared.entries
            )));
        }
        if declared.directory_size > MAX_CENTRAL_DIRECTORY {
            return Ok(Err(format!(
                "its central directory of {} bytes is too large for one file (at most {MAX_CENTRAL_DIRECTORY})",
                declared.directory_size
            )));
        }
    }
    if found {
        Ok(Ok(()))
    } else {
        Ok(Err("it has no end-of-central-directory record".to_owned()))
    }
}

/// The ZIP64 end record the locator before the record at `at` (in `tail`, which starts
/// at `start` in the file) points to, if there is a valid one.
fn zip64_record<R: Read + Seek>(
    input: &mut R,
    tail: &[u8],
    start: u64,
    at: usize,
) -> std::io::Result<Option<Declared>> {
    let Some(locator) = at.checked_sub(LOCATOR_SIZE).map(|l| &tail[l..at]) else {
        return Ok(None);
    };
    if locator[..4] != LOCATOR_SIGNATURE {
        return Ok(None);
    }
    let offset = u64_at(locator, 8);
    let locator_offset = start + (at - LOCATOR_SIZE) as u64;
    if offset.checked_add(ZIP64_READ as u64) > Some(locator_offset) {
        return Ok(None);
    }
    input.seek(SeekFrom::Start(offset))?;
    let mut record = [0u8; ZIP64_READ];
    input.read_exact(&mut record)?;
    if record[..4] != ZIP64_SIGNATURE {
        return Ok(None);
    }
    Ok(Some(Declared {
        entries: u64_at(&record, 32),
        directory_size: u64_at(&record, 40),
    }))
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    /// A zip archive of `files`, stored.
    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut archive = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default();
        for (name, data) in files {
            archive.start_file(*name, options).expect("zip in memory");
            archive.write_all(data).expect("zip in memory");
        }
        archive.finish().expect("zip in memory").into_inner()
    }

    /// A bare end record declaring `entries` entries in a directory of `size` bytes.
    fn end_record(entries: u16, size: u32) -> Vec<u8> {
        let mut record = EOCD_SIGNATURE.to_vec();
        record.extend_from_slice(&[0, 0, 0, 0]);
        record.extend_from_slice(&entries.to_le_bytes());
        record.extend_from_slice(&entries.to_le_bytes());
        record.extend_from_slice(&size.to_le_bytes());
        record.extend_from_slice(&0u32.to_le_bytes());
        record.extend_from_slice(&0u16.to_le_bytes());
        record
    }

    fn verdict(bytes: Vec<u8>) -> Result<(), String> {
        check(&mut Cursor::new(bytes)).expect("read in memory")
    }

    #[test]
    fn an_archive_of_one_file_passes() {
        assert_eq!(verdict(zip_of(&[("disk.raw", b"data")])), Ok(()));
    }

    #[test]
    fn an_end_record_declaring_many_entries_is_refused() {
        let refused = verdict(end_record(60_000, 60_000 * 46)).expect_err("refused");
        assert!(refused.contains("declares 60000 entries"), "{refused}");
    }

    #[test]
    fn a_large_central_directory_is_refused() {
        let refused = verdict(end_record(1, 4 << 20)).expect_err("refused");
        assert!(refused.contains("too large for one file"), "{refused}");
    }

    #[test]
    fn an_archive_of_two_files_of_the_same_name_is_refused() {
        let two = zip_of(&[("a.raw", b"first"), ("b.raw", b"second")]);
        // The writer refuses duplicate names: rename the second in both of its headers.
        let mut same = two.clone();
        for at in 0..same.len() - 5 {
            if &same[at..at + 5] == b"b.raw" {
                same[at..at + 5].copy_from_slice(b"a.raw");
            }
        }
        let refused = verdict(same).expect_err("refused");
        assert!(refused.contains("declares 2 entries"), "{refused}");
    }

    #[test]
    fn a_zip64_end_without_its_record_is_refused() {
        let refused = verdict(end_record(u16::MAX, 0)).expect_err("refused");
        assert!(refused.contains("ZIP64"), "{refused}");
    }

    #[test]
    fn data_without_an_end_record_is_refused() {
        let refused = verdict(b"PK\x03\x04 and nothing else".to_vec()).expect_err("refused");
        assert!(refused.contains("no end-of-central-directory"), "{refused}");
    }
}
