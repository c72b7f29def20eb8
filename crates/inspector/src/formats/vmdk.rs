//! VMware VMDK, in its two single-file forms (monolithicSparse and streamOptimized): a
//! little-endian "hosted sparse extent" header at 0 (`KDMV`, version `4`, capacity in
//! sectors `12`, descriptor offset and size in sectors `28`/`36`, grain directory
//! offset `56`) and a text descriptor embedded at sector 1. Also the plain-text
//! descriptor file that the multi-file forms (monolithicFlat, twoGbMaxExtent*) use.
//!
//! The descriptor is what makes VMDK dangerous: its extent lines and its
//! `parentFileNameHint` name other files that QEMU would open. Rules, following
//! Glance's and tightened where a single uploaded file can only be safe one way:
//! - createType must be monolithicSparse or streamOptimized (Glance's rule);
//! - every line must be a comment, a `ddb` line, a `key=value` field or an extent line
//!   (Glance's rule: anything unexpected is refused rather than guessed at);
//! - exactly one extent, of type SPARSE, whose name has no path separator (Glance
//!   allows several extents; in a single file only one can describe the file itself);
//! - no `parentFileNameHint` (QEMU reads it from the embedded descriptor as the backing
//!   file; Glance does not check it);
//! - a descriptor file with no sparse header is always refused: its data lives in other
//!   files by construction (Glance accepts one whose extents have no '/').
//!
//! The descriptor must end (NUL or its declared size) inside the bounded prefix, so
//! what is checked is all QEMU would read; a longer one is refused, not half-checked.

use super::{Probe, bytes, le_u32, le_u64};
use crate::DetectedFormat;

const MAGIC: &[u8] = b"KDMV";
/// Glance and QEMU expect the embedded descriptor at sector 1.
const DESCRIPTOR_AT: usize = 512;
/// QEMU reads at most 1 MiB - 1 of descriptor.
const DESCRIPTOR_MAX: u64 = (1 << 20) - 1;
/// QEMU scans this much from sector 1 for `parentFileNameHint`, whatever the header says.
const PARENT_SCAN_LEN: usize = 20 * 512;
/// Grain directory offset meaning "see the footer at the end of the stream".
const GD_AT_END: u64 = u64::MAX;
/// Footer marker, footer header copy and end-of-stream marker: three sectors.
pub(crate) const FOOTER_LEN: usize = 3 * 512;

/// Checks for a hosted sparse extent header and its embedded descriptor in `head`;
/// `head_full` says the prefix stopped at its bound rather than at the end of stream.
pub(crate) fn probe(head: &[u8], head_full: bool) -> Probe {
    if !head.starts_with(MAGIC) {
        return Probe::Absent;
    }
    // QEMU looks for a parent at sector 1 of any KDMV file, whatever the header says,
    // so this comes before any check that could call the header malformed.
    let scan_end = head.len().min(DESCRIPTOR_AT + PARENT_SCAN_LEN);
    let scan = head.get(DESCRIPTOR_AT..scan_end).unwrap_or_default();
    if contains_ignore_case(until_nul(scan), b"parentfilenamehint") {
        return Probe::Unsafe("the VMDK descriptor names a parent disk".into());
    }
    let fields = (
        le_u32(head, 4),
        le_u64(head, 12),
        le_u64(head, 28),
        le_u64(head, 36),
    );
    let (Some(version), Some(capacity), Some(desc_sector), Some(desc_sectors)) = fields else {
        return Probe::Malformed("the VMDK header is truncated".into());
    };
    if !(1..=3).contains(&version) {
        return Probe::Malformed(format!("VMDK version {version} is not supported"));
    }
    if desc_sector != 1 {
        return Probe::Malformed("the VMDK descriptor is not at sector 1".into());
    }
    let Some(virtual_size) = capacity.checked_mul(512) else {
        return Probe::Malformed("the VMDK capacity overflows".into());
    };
    let desc_len = desc_sectors.saturating_mul(512).min(DESCRIPTOR_MAX) as usize;
    let region = head.get(DESCRIPTOR_AT..).unwrap_or_default();
    let text = until_nul(&region[..region.len().min(desc_len)]);
    // The text is complete if it stopped at a NUL or at the declared size.
    if text.len() == region.len() && region.len() < desc_len {
        return if head_full {
            Probe::Unsafe("the VMDK descriptor is too large to be checked".into())
        } else {
            Probe::Malformed("the VMDK descriptor is truncated".into())
        };
    }
    match check_descriptor(text) {
        Ok(()) => Probe::found(DetectedFormat::Vmdk, Some(virtual_size)),
        Err(reason) => Probe::Unsafe(reason),
    }
}

/// Applies the descriptor rules in the module doc.
fn check_descriptor(text: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(text)
        .ok()
        .filter(|t| t.is_ascii())
        .ok_or("the VMDK descriptor is not ASCII text")?
        .to_ascii_lowercase();
    let mut create_type = None;
    let mut extents = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with("ddb") {
            continue;
        }
        let first_word = line.split_whitespace().next().unwrap_or_default();
        if ["rw", "rdonly", "noaccess"].contains(&first_word) {
            extents.push(line);
        } else if let Some((key, value)) = line.split_once('=').filter(|(k, _)| !k.contains(' ')) {
            if key == "createtype" {
                create_type = Some(value.trim().trim_matches('"').to_owned());
            }
        } else {
            return Err("the VMDK descriptor has a line that is not understood".into());
        }
    }
    match create_type.as_deref() {
        Some("monolithicsparse" | "streamoptimized") => {}
        Some(other) if other.len() < 64 => {
            return Err(format!("VMDK subformat {other:?} is not accepted"));
        }
        _ => return Err("the VMDK descriptor has no valid createType".into()),
    }
    let [extent] = extents.as_slice() else {
        return Err("a single-file VMDK must have exactly one extent".into());
    };
    if extent.contains('/') || extent.contains('\\') {
        return Err("the VMDK extent names a file by path".into());
    }
    if extent.split_whitespace().nth(2) != Some("sparse") {
        return Err("the VMDK extent is not a sparse extent of this file".into());
    }
    Ok(())
}

/// True when the header says the grain directory is in a footer at the end.
pub(crate) fn needs_footer(head: &[u8]) -> bool {
    head.starts_with(MAGIC) && le_u64(head, 56) == Some(GD_AT_END)
}

/// Glance's footer check for streamOptimized images written with the grain directory
/// at the end: QEMU then trusts the footer's copy of the header, so it must agree with
/// the header that was checked, and the stream must end with well-formed markers.
pub(crate) fn check_footer(head: &[u8], tail: &[u8]) -> Result<(), String> {
    let footer = tail
        .len()
        .checked_sub(FOOTER_LEN)
        .and_then(|at| tail.get(at..))
        .ok_or("the VMDK stream is too short for its footer")?;
    let copy = &footer[512..1024];
    let same = |at: usize, len: usize| bytes(head, at, len) == bytes(copy, at, len);
    // Magic, version, descriptor offset and size must match the header.
    if !(same(0, 8) && same(28, 16)) {
        return Err("the VMDK footer does not match the header".into());
    }
    if le_u64(copy, 56) == Some(GD_AT_END) {
        return Err("the VMDK footer points at another footer".into());
    }
    let marker_ok = |sector: &[u8], kind: u32, value_zero: bool| {
        (!value_zero || le_u64(sector, 0) == Some(0))
            && le_u32(sector, 8) == Some(0)
            && le_u32(sector, 12) == Some(kind)
            && sector[16..].iter().all(|&b| b == 0)
    };
    if !marker_ok(&footer[..512], 3, false) {
        return Err("the VMDK footer marker is invalid".into());
    }
    if !marker_ok(&footer[1024..], 0, true) {
        return Err("the VMDK end-of-stream marker is invalid".into());
    }
    Ok(())
}

fn until_nul(bytes: &[u8]) -> &[u8] {
    bytes.split(|&b| b == 0).next().unwrap_or_default()
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Streaming detector for a plain-text VMDK descriptor file, over the first 1 MiB:
/// the first 512 bytes are printable ASCII (Glance's test for "this is text") and the
/// text before the first NUL mentions `createType` (QEMU refuses a descriptor without
/// one; any spelling or spacing counts, as QEMU's own parser is lenient). Constant
/// memory, so it can look further than the bounded prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextScan {
    ended: bool,
    matched: usize,
    found: bool,
}

impl TextScan {
    /// Stream offset past which the scan stops (QEMU reads no more descriptor).
    pub(crate) const LIMIT: u64 = DESCRIPTOR_MAX;
    const NEEDLE: &'static [u8] = b"createtype";

    /// Scans `piece`, which starts at stream offset `start`.
    pub(crate) fn feed(&mut self, start: u64, piece: &[u8]) {
        for (at, &byte) in (start..).zip(piece) {
            if self.found || self.ended || at >= Self::LIMIT {
                return;
            }
            let text = byte.is_ascii_graphic() || byte.is_ascii_whitespace();
            if byte == 0 || (at < 512 && !text) {
                self.ended = true;
                return;
            }
            let byte = byte.to_ascii_lowercase();
            self.matched = if Self::NEEDLE.get(self.matched) == Some(&byte) {
                self.matched + 1
            } else {
                // No proper prefix of the needle is also its suffix, so a mismatch
                // restarts the match at this byte.
                usize::from(Self::NEEDLE.first() == Some(&byte))
            };
            self.found = self.matched == Self::NEEDLE.len();
        }
    }

    /// True once the stream has shown itself to be a VMDK descriptor file.
    pub(crate) fn found(&self) -> bool {
        self.found
    }
}
