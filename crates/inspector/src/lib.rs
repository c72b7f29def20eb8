//! Streaming disk image format inspection for uploads (SPEC section 8), modelled on
//! Glance's `format_inspector` (now oslo.utils' `imageutils.format_inspector`).
//!
//! The upload path feeds an [`Inspector`] each chunk as it arrives and asks for the
//! verdict at the end. It detects raw, qcow2, vmdk, vhd, vhdx, vdi, iso and raw disks
//! with a GPT or MBR, reads the virtual size from the header, refuses content that does
//! not match the declared `disk_format`, and refuses unsafe content (references to
//! other files, headers valid as two formats) whatever was declared.
//!
//! Memory is bounded whatever the stream length: a 64 KiB prefix (enough for the ISO
//! volume descriptor at 32 KiB, the GPT header and a VMDK embedded descriptor), the
//! last 1536 bytes (VMDK stream footer, VHD footer), and at most one 64 KiB VHDX table
//! being followed; see [`Inspector::MAX_BUFFERED`]. No input can make it panic.

mod formats;
mod fuzz;
mod verdict;

use std::collections::VecDeque;

use formats::{Found, vhdx, vmdk};
pub use fuzz::fuzz_one;
use verdict::Declared;

/// Length of the buffered prefix of the stream.
const HEAD_LEN: usize = 64 * 1024;
/// Length of the buffered end of the stream.
const TAIL_LEN: usize = vmdk::FOOTER_LEN;

/// A format recognised in the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DetectedFormat {
    /// Nothing recognised: a plain disk or filesystem image.
    Raw,
    /// QEMU qcow2.
    Qcow2,
    /// VMware VMDK (single-file sparse or stream-optimized).
    Vmdk,
    /// Microsoft VHD (dynamic, or fixed when declared vhd).
    Vhd,
    /// Microsoft VHDX.
    Vhdx,
    /// VirtualBox VDI.
    Vdi,
    /// ISO 9660 or UDF (also when it carries a hybrid MBR/GPT).
    Iso,
    /// A raw disk with a GUID partition table.
    Gpt,
    /// A raw disk with a legacy MBR partition table.
    Mbr,
}

impl DetectedFormat {
    /// The name Glance uses for this format (`gpt` and `mbr` are not disk formats but
    /// raw disks with a partition table).
    pub fn as_str(self) -> &'static str {
        match self {
            DetectedFormat::Raw => "raw",
            DetectedFormat::Qcow2 => "qcow2",
            DetectedFormat::Vmdk => "vmdk",
            DetectedFormat::Vhd => "vhd",
            DetectedFormat::Vhdx => "vhdx",
            DetectedFormat::Vdi => "vdi",
            DetectedFormat::Iso => "iso",
            DetectedFormat::Gpt => "gpt",
            DetectedFormat::Mbr => "mbr",
        }
    }

    /// True for raw and the raw disks with a partition table.
    pub fn is_raw_family(self) -> bool {
        matches!(
            self,
            DetectedFormat::Raw | DetectedFormat::Gpt | DetectedFormat::Mbr
        )
    }
}

impl std::fmt::Display for DetectedFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict on an accepted image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inspection {
    /// What the data is. For a declared `raw` image this may be a richer format that
    /// was accepted as raw.
    pub format: DetectedFormat,
    /// Virtual disk size in bytes: from the header for a matched format, the byte count
    /// for declared `raw`, `None` when unknown (ISO without a primary descriptor, and
    /// the uninspected ami/ari/aki/ploop).
    pub virtual_size: Option<u64>,
}

/// Why an image is refused. Messages are meant for the user who uploaded it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The data is not in the declared format (HTTP 415 in the upload path).
    #[error(
        "the image data is {detected}, which does not match the declared disk_format {declared}"
    )]
    Mismatch {
        /// The declared `disk_format`.
        declared: String,
        /// What the data is.
        detected: DetectedFormat,
    },
    /// The data is in the declared format but its header is truncated or inconsistent
    /// (treated like a mismatch: HTTP 415).
    #[error("the image data is not a valid {format} image: {reason}")]
    Malformed {
        /// The format whose header is broken.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The content must never be accepted, whatever was declared (HTTP 400).
    #[error("the image was refused as unsafe ({format}): {reason}")]
    Unsafe {
        /// The format that carries the danger, or `multiple`.
        format: &'static str,
        /// What is dangerous.
        reason: String,
    },
}

impl Refusal {
    /// True when the content is dangerous (400), false when it merely does not match
    /// the declared format (415).
    pub fn is_unsafe(&self) -> bool {
        matches!(self, Refusal::Unsafe { .. })
    }
}

/// Inspects one image stream, chunk by chunk.
#[derive(Debug, Clone)]
pub struct Inspector {
    declared: Declared,
    declared_name: String,
    /// Bytes seen so far (the stream position).
    pos: u64,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    text: vmdk::TextScan,
    vhdx: Option<vhdx::Walker>,
    /// The prefix's detection, once the prefix is complete.
    detected: Option<Found>,
    /// A refusal already returned; repeated by every later call.
    refused: Option<Refusal>,
}

impl Inspector {
    /// Most bytes an inspector ever holds, whatever the stream.
    pub const MAX_BUFFERED: usize = HEAD_LEN + TAIL_LEN + vhdx::TABLE_LEN;

    /// `declared` is the image's disk_format string as Glance knows it: ami, ari, aki,
    /// vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop (compared case-insensitively).
    pub fn new(declared: &str) -> Self {
        let declared_name = declared.trim().to_ascii_lowercase();
        Inspector {
            declared: Declared::parse(&declared_name),
            declared_name,
            pos: 0,
            head: Vec::new(),
            tail: VecDeque::with_capacity(TAIL_LEN),
            text: vmdk::TextScan::default(),
            vhdx: None,
            detected: None,
            refused: None,
        }
    }

    /// Feed the next bytes. Returns Err as soon as the data is known to be refused
    /// (unsafe, or a mismatch that the header already proves), so a huge upload can
    /// stop early; every later call returns the same Err.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        if let Some(refusal) = &self.refused {
            return Err(refusal.clone());
        }
        let mut rest = chunk;
        while !rest.is_empty() {
            // Split at every offset where a decision is taken, so that decisions see
            // the same bytes however the stream was chunked.
            let room = self.next_boundary().saturating_sub(self.pos).max(1);
            let take = usize::try_from(room).unwrap_or(usize::MAX).min(rest.len());
            let (piece, after) = rest.split_at(take);
            self.consume(piece);
            rest = after;
            if let Err(refusal) = self.at_boundary() {
                self.refused = Some(refusal.clone());
                return Err(refusal);
            }
        }
        Ok(())
    }

    /// End of stream: the verdict.
    pub fn finish(self) -> Result<Inspection, Refusal> {
        if let Some(refusal) = self.refused {
            return Err(refusal);
        }
        if self.text.found() {
            return Err(text_descriptor());
        }
        let found = match self.detected {
            Some(found) => found,
            None => verdict::detect(&self.head, false, self.declared)?,
        };
        let mut tail = self.tail;
        let end = verdict::End {
            head: &self.head,
            tail: tail.make_contiguous(),
            vhdx: self.vhdx.as_ref().map(vhdx::Walker::outcome),
            length: self.pos,
        };
        verdict::conclude(found, end, self.declared, &self.declared_name)
    }

    /// Bytes currently held, never more than [`Inspector::MAX_BUFFERED`].
    pub fn buffered_len(&self) -> usize {
        self.head.len() + self.tail.len() + self.vhdx.as_ref().map_or(0, vhdx::Walker::buffered)
    }

    /// Bytes seen so far.
    pub fn bytes_seen(&self) -> u64 {
        self.pos
    }

    fn next_boundary(&self) -> u64 {
        let fixed = [HEAD_LEN as u64, vmdk::TextScan::LIMIT]
            .into_iter()
            .filter(|&b| b > self.pos);
        let walker = self.vhdx.as_ref().and_then(vhdx::Walker::next_boundary);
        fixed.chain(walker).min().unwrap_or(u64::MAX)
    }

    /// Takes in a piece that crosses no boundary.
    fn consume(&mut self, piece: &[u8]) {
        if self.head.len() < HEAD_LEN {
            // Exactly the bound, not a doubling past it.
            self.head.reserve_exact(HEAD_LEN - self.head.len());
            let room = HEAD_LEN - self.head.len();
            self.head.extend_from_slice(&piece[..piece.len().min(room)]);
        }
        self.text.feed(self.pos, piece);
        if let Some(walker) = &mut self.vhdx {
            walker.take(self.pos, piece);
        }
        let keep = &piece[piece.len().saturating_sub(TAIL_LEN)..];
        let overflow = (self.tail.len() + keep.len()).saturating_sub(TAIL_LEN);
        self.tail.drain(..overflow);
        self.tail.extend(keep);
        self.pos = self.pos.saturating_add(piece.len() as u64);
    }

    /// Decisions that can be taken before the end of the stream.
    fn at_boundary(&mut self) -> Result<(), Refusal> {
        if self.text.found() {
            return Err(text_descriptor());
        }
        if self.detected.is_none() && self.head.len() == HEAD_LEN {
            let found = verdict::detect(&self.head, true, self.declared)?;
            verdict::early(&found, self.declared, &self.declared_name)?;
            if found.format == DetectedFormat::Vhdx {
                self.vhdx = Some(vhdx::Walker::new());
            }
            self.detected = Some(found);
        }
        if let Some(walker) = &mut self.vhdx {
            walker.advance(self.pos);
            match walker.failure() {
                Some(vhdx::Failure::Unsafe(reason)) => {
                    return Err(Refusal::Unsafe {
                        format: "vhdx",
                        reason,
                    });
                }
                Some(vhdx::Failure::Malformed(reason))
                    if self.declared == Declared::Checked(DetectedFormat::Vhdx) =>
                {
                    return Err(Refusal::Malformed {
                        format: "vhdx",
                        reason,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }
}

fn text_descriptor() -> Refusal {
    Refusal::Unsafe {
        format: "vmdk",
        reason: "a VMDK descriptor file refers to data in other files".into(),
    }
}
