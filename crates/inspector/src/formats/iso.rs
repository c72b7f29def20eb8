//! ISO 9660 (and UDF, which shares the layout): the first 16 2-KiB sectors are a
//! system area free for boot code, and the first volume descriptor follows at 32768.
//! Its bytes 1..6 are `CD001` (or `NSR02`/`NSR03` for UDF, as Glance accepts).
//!
//! The virtual size, for a primary volume descriptor (type 1), is the volume space
//! size (both-endian u32 at 80; the little-endian half is read) times the logical
//! block size (both-endian u16 at 128). Other descriptors give no size.

use super::{Probe, bytes, le_u16, le_u32};
use crate::DetectedFormat;

/// Offset of the first volume descriptor.
pub(crate) const DESCRIPTOR_AT: usize = 32 * 1024;
const DESCRIPTOR_LEN: usize = 2048;
const SIGNATURES: [&[u8]; 3] = [b"CD001", b"NSR02", b"NSR03"];

/// Checks for an ISO volume descriptor in `head`.
pub(crate) fn probe(head: &[u8]) -> Probe {
    let Some(signature) = bytes(head, DESCRIPTOR_AT + 1, 5) else {
        return Probe::Absent;
    };
    if !SIGNATURES.contains(&signature) {
        return Probe::Absent;
    }
    let Some(descriptor) = bytes(head, DESCRIPTOR_AT, DESCRIPTOR_LEN) else {
        return Probe::Malformed("the ISO volume descriptor is truncated".into());
    };
    let size = if descriptor[0] == 1 && signature == b"CD001" {
        let blocks = le_u32(descriptor, 80).unwrap_or(0);
        let block_size = le_u16(descriptor, 128).unwrap_or(0);
        Some(u64::from(blocks) * u64::from(block_size))
    } else {
        None
    };
    Probe::found(DetectedFormat::Iso, size)
}
