//! VirtualBox VDI: a little-endian 512-byte header whose magic `0xbeda107f` sits at
//! offset 0x40 (after a free-text banner) and whose disk size is the u64 at 0x170.
//!
//! Like Glance, no safety check: a differencing VDI names its parent by UUID, not by a
//! path, and QEMU refuses one with a non-null parent link.

use super::{Probe, le_u32, le_u64};
use crate::DetectedFormat;

const MAGIC: u32 = 0xbeda_107f;
const HEADER_LEN: usize = 512;

/// Checks for a VDI header at the start of `head`.
pub(crate) fn probe(head: &[u8]) -> Probe {
    if le_u32(head, 0x40) != Some(MAGIC) {
        return Probe::Absent;
    }
    match le_u64(head, 0x170) {
        Some(size) if head.len() >= HEADER_LEN => Probe::found(DetectedFormat::Vdi, Some(size)),
        _ => Probe::Malformed("the VDI header is truncated".into()),
    }
}
