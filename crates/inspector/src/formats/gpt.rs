//! Partition tables of raw disks: a legacy MBR, or a GPT behind its protective MBR.
//! Both are the "raw" family for the declared-format check.
//!
//! Like Glance's GPT inspector, an MBR is the 0x55AA signature at 510 with partition
//! entries at 446, excluding FAT boot sectors (which end in the same signature). A GPT
//! is an MBR holding the protective partition (type 0xEE) plus the `EFI PART` header at
//! LBA 1 (offset 512, or 4096 on 4K-sector disks).
//!
//! Where we differ from Glance, and why: Glance treats any sector ending in 0x55AA as
//! an MBR and then refuses the image as unsafe when a boot flag is not 0x00/0x80 or no
//! partition is defined. Every NTFS or ext boot sector ends in 0x55AA with boot code
//! where the table would be, so that refuses ordinary raw filesystem images. Here such
//! a sector is simply not a partition table (the image stays raw, which references no
//! other file). Glance's protective-MBR rules are kept as unsafe: a 0xEE entry must be
//! the only partition, start at CHS 0/2/0 and LBA 1, otherwise tools disagree about
//! which table describes the disk (a "hybrid MBR").

use super::{Probe, bytes, le_u16, le_u32};
use crate::DetectedFormat;

const SIGNATURE: u16 = 0xaa55;
const TABLE_AT: usize = 446;
const GPT_HEADER: &[u8] = b"EFI PART";
const PROTECTIVE: u8 = 0xee;
const MEDIA_FIXED_DISK: u8 = 0xf8;

/// Checks for a partition table at the start of `head`.
pub(crate) fn probe(head: &[u8]) -> Probe {
    if head.len() < 512 || le_u16(head, 510) != Some(SIGNATURE) || is_fat(head) {
        return Probe::Absent;
    }
    let mut used = Vec::new();
    for index in 0..4 {
        let Some(entry) = bytes(head, TABLE_AT + 16 * index, 16) else {
            return Probe::Absent;
        };
        if entry[0] != 0x00 && entry[0] != 0x80 {
            return Probe::Absent;
        }
        if entry[4] != 0 {
            used.push((index, entry));
        }
    }
    let Some(&(index, entry)) = used.iter().find(|(_, entry)| entry[4] == PROTECTIVE) else {
        return if used.is_empty() {
            Probe::Absent
        } else {
            Probe::found(DetectedFormat::Mbr, None)
        };
    };
    if used.len() != 1 || index != 0 {
        return Probe::Unsafe("the protective MBR of a GPT defines other partitions".into());
    }
    if entry[1..4] != [0x00, 0x02, 0x00] || le_u32(entry, 8) != Some(1) {
        return Probe::Unsafe("the protective MBR of a GPT does not start at LBA 1".into());
    }
    let has_header = [512, 4096]
        .iter()
        .any(|&at| bytes(head, at, GPT_HEADER.len()) == Some(GPT_HEADER));
    if has_header {
        Probe::found(DetectedFormat::Gpt, None)
    } else {
        Probe::Malformed("a protective MBR without a GPT header".into())
    }
}

/// A FAT volume boot record looks like an MBR; two FATs on a fixed-disk medium give it
/// away (Glance's test).
fn is_fat(head: &[u8]) -> bool {
    head.get(0x10) == Some(&2) && head.get(0x15) == Some(&MEDIA_FIXED_DISK)
}
