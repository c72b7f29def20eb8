//! The decision: which format the bytes are, whether that is acceptable for the
//! declared `disk_format`, and whether the content is unsafe whatever was declared.
//!
//! Rules (Glance's `set_data` and oslo.utils' `InspectWrapper`, SPEC section 8):
//! - unsafe content is refused first, whatever the declared format: a `raw` upload that
//!   is really a qcow2 with a backing file is the CVE-2024-32498 attack;
//! - content that is valid as two formats at once is unsafe (one header hidden in
//!   another), except an ISO with an MBR or GPT in its system area: that is a normal
//!   hybrid (bootable-as-disk) ISO, and Glance allows exactly iso+gpt (its GPT
//!   inspector also covers plain MBRs), taking it as ISO. The partition table of such
//!   an ISO is not safety-checked, as in Glance, because it is part of the ISO;
//! - a format whose header is broken counts as absent, unless it is the declared one
//!   (Glance drops inspectors that fail to parse, except the expected one);
//! - declared qcow2/vmdk/vhd/vhdx/vdi/iso must be detected as exactly that;
//! - declared raw accepts anything safe (Glance's observed behaviour) with the byte
//!   count as virtual size; gpt and mbr are raw disks anyway;
//! - ami/ari/aki/ploop (and names we do not know) are not inspected beyond safety.

use crate::formats::{Found, Probe, gpt, iso, qcow2, qed, vdi, vhd, vhdx, vmdk};
use crate::{DetectedFormat, Refusal};

/// The declared `disk_format`, as far as inspection cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Declared {
    /// `raw`: accepts any safe content.
    Raw,
    /// A format whose content must match.
    Checked(DetectedFormat),
    /// `ami`, `ari`, `aki`, `ploop` or unknown: only safety is checked.
    Uninspected,
}

impl Declared {
    pub(crate) fn parse(name: &str) -> Self {
        match name {
            "raw" => Declared::Raw,
            "qcow2" => Declared::Checked(DetectedFormat::Qcow2),
            "vmdk" => Declared::Checked(DetectedFormat::Vmdk),
            "vhd" => Declared::Checked(DetectedFormat::Vhd),
            "vhdx" => Declared::Checked(DetectedFormat::Vhdx),
            "vdi" => Declared::Checked(DetectedFormat::Vdi),
            "iso" => Declared::Checked(DetectedFormat::Iso),
            _ => Declared::Uninspected,
        }
    }

    fn is(self, format: DetectedFormat) -> bool {
        self == Declared::Checked(format)
    }
}

/// Detects the format from the bounded prefix `head`. `head_full` says the prefix
/// stopped at its bound (more data may follow) rather than at the end of the stream.
pub(crate) fn detect(head: &[u8], head_full: bool, declared: Declared) -> Result<Found, Refusal> {
    use DetectedFormat as F;
    let iso = iso::probe(head);
    let hybrid_iso = matches!(iso, Probe::Found(_));
    let probes = [
        (F::Qcow2, "qcow2", qcow2::probe(head)),
        (F::Raw, "qed", qed::probe(head)),
        (F::Vmdk, "vmdk", vmdk::probe(head, head_full)),
        (F::Vhd, "vhd", vhd::probe(head)),
        (F::Vhdx, "vhdx", vhdx::probe(head)),
        (F::Vdi, "vdi", vdi::probe(head)),
        (F::Iso, "iso", iso),
        // The partition table of a hybrid ISO belongs to the ISO (module doc).
        (
            F::Gpt,
            "gpt",
            if hybrid_iso {
                Probe::Absent
            } else {
                gpt::probe(head)
            },
        ),
    ];
    let mut found = Vec::new();
    let mut malformed = None;
    for (format, name, probe) in probes {
        match probe {
            Probe::Absent => {}
            Probe::Found(f) => found.push(f),
            Probe::Unsafe(reason) => {
                return Err(Refusal::Unsafe {
                    format: name,
                    reason,
                });
            }
            Probe::Malformed(reason) if declared.is(format) => malformed = Some((name, reason)),
            Probe::Malformed(_) => {}
        }
    }
    match found.as_slice() {
        [] => {}
        [one] => return Ok(*one),
        several => {
            let names: Vec<_> = several.iter().map(|f| f.format.as_str()).collect();
            return Err(Refusal::Unsafe {
                format: "multiple",
                reason: format!(
                    "the data is valid as several formats at once ({})",
                    names.join(", ")
                ),
            });
        }
    }
    match malformed {
        Some((format, reason)) => Err(Refusal::Malformed { format, reason }),
        None => Ok(Found {
            format: F::Raw,
            virtual_size: None,
        }),
    }
}

/// A refusal that the prefix alone already proves, so that a long upload can stop.
/// Declared vhd waits for the end: a fixed VHD is raw data until its last 512 bytes.
pub(crate) fn early(found: &Found, declared: Declared, declared_name: &str) -> Result<(), Refusal> {
    match declared {
        Declared::Checked(DetectedFormat::Vhd) if found.format.is_raw_family() => Ok(()),
        Declared::Checked(format) if format != found.format => Err(Refusal::Mismatch {
            declared: declared_name.to_owned(),
            detected: found.format,
        }),
        _ => Ok(()),
    }
}

/// Everything known at the end of the stream.
pub(crate) struct End<'a> {
    pub(crate) head: &'a [u8],
    pub(crate) tail: &'a [u8],
    pub(crate) vhdx: Option<Result<u64, vhdx::Failure>>,
    pub(crate) length: u64,
}

/// The final verdict for a stream whose prefix was detected as `found`.
pub(crate) fn conclude(
    mut found: Found,
    end: End<'_>,
    declared: Declared,
    declared_name: &str,
) -> Result<crate::Inspection, Refusal> {
    match found.format {
        DetectedFormat::Vmdk if vmdk::needs_footer(end.head) => {
            vmdk::check_footer(end.head, end.tail).map_err(|reason| Refusal::Unsafe {
                format: "vmdk",
                reason,
            })?;
        }
        DetectedFormat::Vhdx => match end.vhdx {
            Some(Ok(size)) => found.virtual_size = Some(size),
            Some(Err(vhdx::Failure::Unsafe(reason))) => {
                return Err(Refusal::Unsafe {
                    format: "vhdx",
                    reason,
                });
            }
            Some(Err(vhdx::Failure::Malformed(reason))) if declared.is(DetectedFormat::Vhdx) => {
                return Err(Refusal::Malformed {
                    format: "vhdx",
                    reason,
                });
            }
            None if declared.is(DetectedFormat::Vhdx) => {
                return Err(Refusal::Malformed {
                    format: "vhdx",
                    reason: "the stream ends before the VHDX region table".into(),
                });
            }
            _ => {}
        },
        raw if raw.is_raw_family() && declared.is(DetectedFormat::Vhd) => {
            match vhd::probe_footer(end.tail) {
                Probe::Found(fixed) => found = fixed,
                Probe::Unsafe(reason) => {
                    return Err(Refusal::Unsafe {
                        format: "vhd",
                        reason,
                    });
                }
                Probe::Malformed(reason) => {
                    return Err(Refusal::Malformed {
                        format: "vhd",
                        reason,
                    });
                }
                Probe::Absent => {}
            }
        }
        _ => {}
    }
    match declared {
        Declared::Raw => Ok(crate::Inspection {
            format: found.format,
            virtual_size: Some(end.length),
        }),
        Declared::Uninspected => Ok(crate::Inspection {
            format: found.format,
            virtual_size: None,
        }),
        Declared::Checked(format) if format == found.format => Ok(crate::Inspection {
            format,
            virtual_size: found.virtual_size,
        }),
        Declared::Checked(_) => Err(Refusal::Mismatch {
            declared: declared_name.to_owned(),
            detected: found.format,
        }),
    }
}
