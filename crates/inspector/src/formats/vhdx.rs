//! Microsoft VHDX: little-endian, structures found through GUIDs. The file starts with
//! the `vhdxfile` identifier; the region table sits at 192 KiB (`regi`, entry count at
//! 8, 32-byte entries from 16: GUID, file offset u64, length u32, flags u32). The
//! metadata region it points to starts with a table (`metadata`, entry count u16 at
//! 10, 32-byte entries from 32: GUID, offset u32 from the region start, length u32);
//! its "virtual disk size" item is a u64 and its "file parameters" item holds flags
//! whose bit 1 means the disk has a parent.
//!
//! All of this lies beyond the bounded prefix, so [`Walker`] follows it as the stream
//! goes by, capturing at most one 64 KiB table at a time (the most a 2047-entry table
//! can take, as in Glance). A structure that points backwards, at bytes already gone,
//! is malformed: QEMU-written files always point forwards. A disk with a parent is
//! unsafe (it refers to another file; Glance does not check this, QEMU refuses it).

use super::{Capture, Probe, bytes, le_u16, le_u32, le_u64};
use crate::DetectedFormat;

const IDENT: &[u8] = b"vhdxfile";
/// Offset of the (first) region table.
pub(crate) const REGION_TABLE_AT: u64 = 192 * 1024;
/// Bytes captured for a region or metadata table, also the walker's memory bound.
pub(crate) const TABLE_LEN: usize = 64 * 1024;
const MAX_ENTRIES: usize = 2047;

const METADATA_REGION: [u8; 16] = guid(
    0x8b7c_a206,
    0x4790,
    0x4b9a,
    *b"\xb8\xfe\x57\x5f\x05\x0f\x88\x6e",
);
const VIRTUAL_DISK_SIZE: [u8; 16] = guid(
    0x2fa5_4224,
    0xcd1b,
    0x4876,
    *b"\xb2\x11\x5d\xbe\xd8\x3b\xf4\xb8",
);
const FILE_PARAMETERS: [u8; 16] = guid(
    0xcaa1_6737,
    0xfa36,
    0x4d43,
    *b"\xb3\xb6\x33\xf0\xaa\x44\xe7\x6b",
);
const HAS_PARENT: u32 = 1 << 1;

/// A Microsoft GUID as stored on disk: the first three fields little-endian.
const fn guid(a: u32, b: u16, c: u16, d: [u8; 8]) -> [u8; 16] {
    let (a, b, c) = (a.to_le_bytes(), b.to_le_bytes(), c.to_le_bytes());
    [
        a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d[0], d[1], d[2], d[3], d[4], d[5], d[6],
        d[7],
    ]
}

/// Checks for the VHDX identifier; the size comes later, from the [`Walker`].
pub(crate) fn probe(head: &[u8]) -> Probe {
    if head.starts_with(IDENT) {
        Probe::found(DetectedFormat::Vhdx, None)
    } else {
        Probe::Absent
    }
}

/// Why the walk failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The structures are missing, truncated or point backwards.
    Malformed(String),
    /// The disk refers to a parent disk.
    Unsafe(String),
}

#[derive(Debug, Clone)]
enum Stage {
    RegionTable(Capture),
    MetadataTable(Capture),
    Items { size: Item, params: Item },
    Done(Result<u64, Failure>),
}

#[derive(Debug, Clone)]
enum Item {
    Pending(Capture),
    Known([u8; 8]),
}

/// Follows the VHDX structures through the stream to the virtual size.
#[derive(Debug, Clone)]
pub(crate) struct Walker {
    stage: Stage,
}

impl Walker {
    /// A walker for a stream whose prefix carried the VHDX identifier.
    pub(crate) fn new() -> Self {
        Walker {
            stage: Stage::RegionTable(Capture::new(REGION_TABLE_AT, TABLE_LEN)),
        }
    }

    fn captures(&self) -> Vec<&Capture> {
        fn pending(item: &Item) -> Option<&Capture> {
            match item {
                Item::Pending(c) => Some(c),
                Item::Known(_) => None,
            }
        }
        match &self.stage {
            Stage::RegionTable(c) | Stage::MetadataTable(c) => vec![c],
            Stage::Items { size, params } => [pending(size), pending(params)]
                .into_iter()
                .flatten()
                .collect(),
            Stage::Done(_) => Vec::new(),
        }
    }

    /// The stream offset at which the walker next needs to look at what it captured.
    pub(crate) fn next_boundary(&self) -> Option<u64> {
        self.captures()
            .iter()
            .filter(|c| !c.complete())
            .map(|c| c.end())
            .min()
    }

    /// Bytes held.
    pub(crate) fn buffered(&self) -> usize {
        self.captures().iter().map(|c| c.data().len()).sum()
    }

    /// Offers `piece`, starting at stream offset `start`, to the pending captures.
    pub(crate) fn take(&mut self, start: u64, piece: &[u8]) {
        match &mut self.stage {
            Stage::RegionTable(c) | Stage::MetadataTable(c) => c.take(start, piece),
            Stage::Items { size, params } => {
                for item in [size, params] {
                    if let Item::Pending(c) = item {
                        c.take(start, piece);
                    }
                }
            }
            Stage::Done(_) => {}
        }
    }

    /// Moves on once captures are complete; `pos` is the stream offset reached.
    pub(crate) fn advance(&mut self, pos: u64) {
        loop {
            let next = match &self.stage {
                Stage::RegionTable(c) if c.complete() => metadata_table(c.data(), pos),
                Stage::MetadataTable(c) if c.complete() => items(c, pos),
                Stage::Items { size, params } => match (known(size), known(params)) {
                    (Some(size), Some(params)) => Stage::Done(verdict(size, params)),
                    _ => return,
                },
                _ => return,
            };
            self.stage = next;
        }
    }

    /// The verdict: the virtual size, or why there is none. Called at end of stream.
    pub(crate) fn outcome(&self) -> Result<u64, Failure> {
        let stage = match &self.stage {
            // A metadata region shorter than the 64 KiB captured, at the very end of
            // the file, still has its table and items in what was captured.
            Stage::MetadataTable(c) => items(c, u64::MAX),
            other => other.clone(),
        };
        match stage {
            Stage::Done(result) => result,
            Stage::Items { size, params } => match (known(&size), known(&params)) {
                (Some(size), Some(params)) => verdict(size, params),
                _ => Err(Failure::Malformed(
                    "the stream ends before the VHDX metadata".into(),
                )),
            },
            _ => Err(Failure::Malformed(
                "the stream ends before the VHDX metadata".into(),
            )),
        }
    }

    /// A failure already certain, before the end of the stream.
    pub(crate) fn failure(&self) -> Option<Failure> {
        match &self.stage {
            Stage::Done(Err(failure)) => Some(failure.clone()),
            _ => None,
        }
    }
}

/// An item's 8 bytes once they are all there.
fn known(item: &Item) -> Option<[u8; 8]> {
    match item {
        Item::Known(bytes) => Some(*bytes),
        Item::Pending(c) => c.data().try_into().ok(),
    }
}

/// The size, unless the file parameters say the disk has a parent.
fn verdict(size: [u8; 8], params: [u8; 8]) -> Result<u64, Failure> {
    if le_u32(&params, 4).unwrap_or(0) & HAS_PARENT != 0 {
        Err(Failure::Unsafe(
            "a differencing VHDX refers to a parent disk".into(),
        ))
    } else {
        Ok(u64::from_le_bytes(size))
    }
}

fn malformed(reason: &str) -> Stage {
    Stage::Done(Err(Failure::Malformed(reason.into())))
}

/// Reads `count` 32-byte entries from `from` and returns the one named `wanted`.
fn entry<'a>(table: &'a [u8], from: usize, count: usize, wanted: &[u8; 16]) -> Option<&'a [u8]> {
    (0..count)
        .filter_map(|i| bytes(table, from + 32 * i, 32))
        .find(|e| e.starts_with(wanted))
}

/// From a complete region table, the capture of the metadata table.
fn metadata_table(table: &[u8], pos: u64) -> Stage {
    if !table.starts_with(b"regi") {
        return malformed("the VHDX region table signature is missing");
    }
    let count = le_u32(table, 8).unwrap_or(u32::MAX) as usize;
    if count > MAX_ENTRIES {
        return malformed("the VHDX region table has too many entries");
    }
    let Some(offset) = entry(table, 16, count, &METADATA_REGION).and_then(|e| le_u64(e, 16)) else {
        return malformed("the VHDX metadata region is missing");
    };
    if offset < pos {
        return malformed("the VHDX metadata region lies before the region table");
    }
    Stage::MetadataTable(Capture::new(offset, TABLE_LEN))
}

/// From a complete metadata table, where the two items are.
fn items(table: &Capture, pos: u64) -> Stage {
    let data = table.data();
    if !data.starts_with(b"metadata") {
        return malformed("the VHDX metadata table signature is missing");
    }
    let count = usize::from(le_u16(data, 10).unwrap_or(u16::MAX));
    if count > MAX_ENTRIES {
        return malformed("the VHDX metadata table has too many entries");
    }
    let locate = |wanted: &[u8; 16]| -> Option<Item> {
        let e = entry(data, 32, count, wanted)?;
        let offset = le_u32(e, 16)?;
        let at = table.start().checked_add(u64::from(offset))?;
        if let Some(inside) = bytes(data, offset as usize, 8) {
            return inside.try_into().ok().map(Item::Known);
        }
        (at >= pos).then(|| Item::Pending(Capture::new(at, 8)))
    };
    match (locate(&VIRTUAL_DISK_SIZE), locate(&FILE_PARAMETERS)) {
        (Some(size), Some(params)) => Stage::Items { size, params },
        _ => malformed("the VHDX disk size or file parameters are missing"),
    }
}
