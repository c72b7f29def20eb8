//! QEMU Enhanced Disk (QED): recognised only to be refused.
//!
//! QED supports backing files and nobody deploys it any more; Glance identifies it and
//! bans it outright, and so do we: there is no `disk_format` for it, and content that
//! QEMU would probe as QED must not slip in as "raw".

use super::Probe;

/// Refuses content that starts with the QED magic.
pub(crate) fn probe(head: &[u8]) -> Probe {
    if head.starts_with(b"QED\0") {
        Probe::Unsafe("QED images are not accepted".into())
    } else {
        Probe::Absent
    }
}
