//! One module per disk image format, each a pure function of bytes already buffered
//! (the prefix of the stream, or its last bytes), plus the shared pieces they use:
//! the [`Probe`] answer, bounds-checked integer readers and [`Capture`], which collects
//! a region of the stream that lies beyond the prefix (VHDX metadata).
//!
//! Every reader returns `Option` so that a short or hostile buffer can never index out
//! of bounds: a format that cannot read a field it needs answers `Malformed`.

pub(crate) mod gpt;
pub(crate) mod iso;
pub(crate) mod qcow2;
pub(crate) mod qed;
pub(crate) mod vdi;
pub(crate) mod vhd;
pub(crate) mod vhdx;
pub(crate) mod vmdk;

use crate::DetectedFormat;

/// What one format's probe concluded about the bytes it was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    /// The format's signature is not there.
    Absent,
    /// The signature is there and the header reads well.
    Found(Found),
    /// The signature is there but the header is truncated or inconsistent.
    Malformed(String),
    /// The header reads well but describes something that must never be accepted.
    Unsafe(String),
}

/// A recognised format and the virtual size its header declares, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) format: DetectedFormat,
    pub(crate) virtual_size: Option<u64>,
}

impl Probe {
    /// A found format with a known (or unknown) virtual size.
    pub(crate) fn found(format: DetectedFormat, virtual_size: Option<u64>) -> Self {
        Probe::Found(Found {
            format,
            virtual_size,
        })
    }
}

/// `len` bytes at `at`, or `None` when the buffer is too short.
pub(crate) fn bytes(buf: &[u8], at: usize, len: usize) -> Option<&[u8]> {
    buf.get(at..at.checked_add(len)?)
}

fn array<const N: usize>(buf: &[u8], at: usize) -> Option<[u8; N]> {
    bytes(buf, at, N)?.try_into().ok()
}

/// Little-endian u16 at `at`.
pub(crate) fn le_u16(buf: &[u8], at: usize) -> Option<u16> {
    array(buf, at).map(u16::from_le_bytes)
}

/// Little-endian u32 at `at`.
pub(crate) fn le_u32(buf: &[u8], at: usize) -> Option<u32> {
    array(buf, at).map(u32::from_le_bytes)
}

/// Little-endian u64 at `at`.
pub(crate) fn le_u64(buf: &[u8], at: usize) -> Option<u64> {
    array(buf, at).map(u64::from_le_bytes)
}

/// Big-endian u32 at `at`.
pub(crate) fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    array(buf, at).map(u32::from_be_bytes)
}

/// Big-endian u64 at `at`.
pub(crate) fn be_u64(buf: &[u8], at: usize) -> Option<u64> {
    array(buf, at).map(u64::from_be_bytes)
}

/// A region `[start, start + len)` of the stream, collected as the bytes go by.
///
/// It is only ever created for a region that starts at or after the current stream
/// position, so the bytes it wants are all still to come and it fills up the same way
/// whatever the chunking.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    start: u64,
    len: usize,
    data: Vec<u8>,
}

impl Capture {
    /// A capture of `len` (at least 1) bytes from absolute offset `start`.
    pub(crate) fn new(start: u64, len: usize) -> Self {
        Capture {
            start,
            len: len.max(1),
            data: Vec::new(),
        }
    }

    /// The absolute offset just past the region.
    pub(crate) fn end(&self) -> u64 {
        self.start.saturating_add(self.len as u64)
    }

    /// Absolute offset of the region's first byte.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// True once every byte of the region has been seen.
    pub(crate) fn complete(&self) -> bool {
        self.data.len() == self.len
    }

    /// The bytes collected so far.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// Takes the part of `piece` (which starts at absolute `piece_start`) that falls in
    /// the region and has not been taken yet.
    pub(crate) fn take(&mut self, piece_start: u64, piece: &[u8]) {
        let want_from = self.start.saturating_add(self.data.len() as u64);
        let piece_end = piece_start.saturating_add(piece.len() as u64);
        if self.complete() || piece_start > want_from || piece_end <= want_from {
            return;
        }
        // `want_from - piece_start` is below `piece.len()`, so it fits in usize.
        let skip = usize::try_from(want_from - piece_start).unwrap_or(piece.len());
        let rest = piece.get(skip..).unwrap_or_default();
        let need = self.len - self.data.len();
        self.data.extend_from_slice(&rest[..rest.len().min(need)]);
    }
}
