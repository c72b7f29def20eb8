//! Microsoft VHD (QEMU's "vpc"): a big-endian 512-byte footer whose cookie is
//! `conectix`. Dynamic and differencing disks keep a copy of it at offset 0; a fixed
//! disk is raw data with the footer only at the very end.
//!
//! Fields read: `40` original size (u64; Glance's virtual size, and what QEMU writes for
//! the current size too) and `60` disk type (2 fixed, 3 dynamic, 4 differencing).
//!
//! A differencing disk is unsafe: its header names a parent disk by path. Glance does
//! not check it (QEMU refuses to open one today), but it is the same class of reference
//! to another file as a qcow2 backing file, so it is refused.

use super::{Probe, be_u32, be_u64};
use crate::DetectedFormat;

const COOKIE: &[u8] = b"conectix";
/// Size of the footer, also the length of the tail that must be kept to find a fixed
/// disk's footer.
pub(crate) const FOOTER_LEN: usize = 512;

/// Checks for the footer copy that starts a dynamic or differencing VHD.
pub(crate) fn probe(head: &[u8]) -> Probe {
    if !head.starts_with(COOKIE) {
        return Probe::Absent;
    }
    parse(head)
}

/// Checks for a footer in the last bytes of the stream (a fixed VHD). Only consulted
/// when the image is declared vhd: QEMU's format probe looks at the start of a file
/// only, so a footer at the end cannot change how an image declared anything else is
/// read.
pub(crate) fn probe_footer(tail: &[u8]) -> Probe {
    let Some(footer) = tail
        .len()
        .checked_sub(FOOTER_LEN)
        .and_then(|at| tail.get(at..))
    else {
        return Probe::Absent;
    };
    if !footer.starts_with(COOKIE) {
        return Probe::Absent;
    }
    parse(footer)
}

fn parse(footer: &[u8]) -> Probe {
    if footer.len() < FOOTER_LEN {
        return Probe::Malformed("the VHD footer is truncated".into());
    }
    let (Some(size), Some(disk_type)) = (be_u64(footer, 40), be_u32(footer, 60)) else {
        return Probe::Malformed("the VHD footer is truncated".into());
    };
    match disk_type {
        2 | 3 => Probe::found(DetectedFormat::Vhd, Some(size)),
        4 => Probe::Unsafe("a differencing VHD refers to a parent disk".into()),
        other => Probe::Malformed(format!("unknown VHD disk type {other}")),
    }
}
