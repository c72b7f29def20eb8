//! QEMU qcow2 (versions 2 and 3): a big-endian header at offset 0.
//!
//! The fields read (docs/interop/qcow2.txt in QEMU):
//! `0` magic `QFI\xfb`, `4` version, `8` backing file offset (u64), `20` cluster bits,
//! `24` virtual size (u64), `72` incompatible features (u64, v3), `100` header length
//! (v3). Header extensions follow the header, each `type u32, length u32, data` padded
//! to 8 bytes, ended by type 0.
//!
//! Unsafe, whatever the declared format (CVE-2024-32498 and friends): a backing file
//! (QEMU would open a host path named by the image), an external data file (the
//! incompatible feature bit, or the data-file name extension), an unknown incompatible
//! feature (QEMU's meaning of it could change what is read), and any version other than
//! 2 or 3 (version 1 "qcow" is long obsolete; Glance refuses it too).

use super::{Probe, be_u32, be_u64};
use crate::DetectedFormat;

const MAGIC: &[u8] = b"QFI\xfb";
const V2_HEADER_LEN: usize = 72;
const V3_MIN_HEADER_LEN: usize = 104;

/// Incompatible feature bits QEMU knows (dirty, corrupt, external data file,
/// compression type, extended L2 entries).
const KNOWN_INCOMPATIBLE: u64 = 0b1_1111;
/// Incompatible feature bit 2: the guest data lives in another file.
const INCOMPAT_DATA_FILE: u64 = 1 << 2;

/// Header extension naming the external data file ("DATA").
const EXT_DATA_FILE: u32 = 0x4441_5441;
/// Extensions walked at most: the list must end within the first cluster anyway, and
/// a bound keeps a hostile list from costing time.
const MAX_EXTENSIONS: usize = 1024;

/// Checks the qcow2 header at the start of `head`.
pub(crate) fn probe(head: &[u8]) -> Probe {
    if !head.starts_with(MAGIC) {
        return Probe::Absent;
    }
    let Some(version) = be_u32(head, 4) else {
        return Probe::Malformed("the qcow2 header is truncated".into());
    };
    let header_len = match version {
        2 if head.len() >= V2_HEADER_LEN => V2_HEADER_LEN,
        2 => return Probe::Malformed("the qcow2 header is truncated".into()),
        3 => match be_u32(head, 100) {
            Some(len) if (len as usize) >= V3_MIN_HEADER_LEN => len as usize,
            Some(_) => return Probe::Malformed("the qcow2 header length is too small".into()),
            None => return Probe::Malformed("the qcow2 header is truncated".into()),
        },
        other => return Probe::Unsafe(format!("qcow2 version {other} is not supported")),
    };
    let (Some(backing_offset), Some(size)) = (be_u64(head, 8), be_u64(head, 24)) else {
        return Probe::Malformed("the qcow2 header is truncated".into());
    };
    if backing_offset != 0 {
        return Probe::Unsafe("the image has a backing file".into());
    }
    if version == 3 {
        let incompatible = be_u64(head, 72).unwrap_or(0);
        if incompatible & INCOMPAT_DATA_FILE != 0 {
            return Probe::Unsafe("the image uses an external data file".into());
        }
        if incompatible & !KNOWN_INCOMPATIBLE != 0 {
            return Probe::Unsafe(format!(
                "the image uses unknown incompatible features {:#x}",
                incompatible & !KNOWN_INCOMPATIBLE
            ));
        }
    }
    if let Some(reason) = unsafe_extension(head, header_len) {
        return Probe::Unsafe(reason);
    }
    Probe::found(DetectedFormat::Qcow2, Some(size))
}

/// Walks the header extensions that lie within `head` and names the first unsafe one.
/// QEMU ignores the data-file name unless the feature bit is set, but an image carrying
/// it is at best confused, so it is refused on its own too.
fn unsafe_extension(head: &[u8], header_len: usize) -> Option<String> {
    let mut at = header_len;
    for _ in 0..MAX_EXTENSIONS {
        let kind = be_u32(head, at)?;
        let len = be_u32(head, at.checked_add(4)?)? as usize;
        match kind {
            0 => return None,
            EXT_DATA_FILE => {
                return Some("the image names an external data file".into());
            }
            _ => {}
        }
        let padded = len.checked_add(7)? & !7;
        at = at.checked_add(8)?.checked_add(padded)?;
    }
    None
}
