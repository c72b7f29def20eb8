//! The closed vocabularies of the domain: image and task statuses, visibilities, disk and
//! container formats and member statuses, each with its Glance spelling on the wire and in
//! the database.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares a closed, string-valued enum with its wire spelling, `ALL`, `as_str`,
/// `Display` and a `FromStr` that names the accepted values when it refuses one.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The Glance spelling of this value.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        what: $what,
                        value: s.to_owned(),
                        allowed: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A string that is not one of a vocabulary's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid {what} '{value}': expected one of {}", allowed.join(", "))]
pub struct UnknownValue {
    /// What was being parsed, e.g. "disk_format".
    pub what: &'static str,
    /// The refused input.
    pub value: String,
    /// The accepted spellings.
    pub allowed: &'static [&'static str],
}

vocabulary!(
    /// The lifecycle status of an image (SPEC 1).
    ImageStatus, "status" {
        /// The record exists; no data yet.
        Queued => "queued",
        /// Data is being written through `PUT /file`.
        Saving => "saving",
        /// Data is being staged for an interoperable import.
        Uploading => "uploading",
        /// An import task is running.
        Importing => "importing",
        /// Data is available.
        Active => "active",
        /// Downloads refused to all but admins.
        Deactivated => "deactivated",
        /// Writing the data failed unrecoverably; only delete helps.
        Killed => "killed",
        /// Deleted with delayed delete on; data kept until scrubbed.
        PendingDelete => "pending_delete",
        /// Gone; kept as a record for history.
        Deleted => "deleted",
    }
);

vocabulary!(
    /// The lifecycle status of a task (SPEC 3).
    TaskStatus, "task status" {
        /// Created, not started.
        Pending => "pending",
        /// Picked up by a worker.
        Processing => "processing",
        /// Done; `result` holds details.
        Success => "success",
        /// Stopped with an error; `message` says why.
        Failure => "failure",
    }
);

vocabulary!(
    /// Who may see an image (SPEC 7).
    Visibility, "visibility" {
        /// Everyone sees and lists it.
        Public => "public",
        /// Everyone may see it by id; listed only on request.
        Community => "community",
        /// The owner and the image's members.
        Shared => "shared",
        /// The owner only.
        Private => "private",
    }
);

vocabulary!(
    /// The format of an image's bytes.
    DiskFormat, "disk_format" {
        /// Amazon machine image.
        Ami => "ami",
        /// Amazon ramdisk image.
        Ari => "ari",
        /// Amazon kernel image.
        Aki => "aki",
        /// Virtual Hard Disk.
        Vhd => "vhd",
        /// Virtual Hard Disk v2.
        Vhdx => "vhdx",
        /// VMware disk.
        Vmdk => "vmdk",
        /// Raw bytes.
        Raw => "raw",
        /// QEMU copy-on-write v2.
        Qcow2 => "qcow2",
        /// VirtualBox disk.
        Vdi => "vdi",
        /// ISO 9660 optical disc.
        Iso => "iso",
        /// Virtuozzo ploop.
        Ploop => "ploop",
    }
);

vocabulary!(
    /// The container an image's bytes come in.
    ContainerFormat, "container_format" {
        /// Amazon machine image.
        Ami => "ami",
        /// Amazon ramdisk image.
        Ari => "ari",
        /// Amazon kernel image.
        Aki => "aki",
        /// No container.
        Bare => "bare",
        /// Open Virtualization Format.
        Ovf => "ovf",
        /// Open Virtual Appliance archive.
        Ova => "ova",
        /// A Docker tar archive.
        Docker => "docker",
        /// A compressed archive.
        Compressed => "compressed",
    }
);

vocabulary!(
    /// A member project's answer to an image shared with it.
    MemberStatus, "member status" {
        /// Not yet answered.
        Pending => "pending",
        /// Accepted: the image is listed for the member.
        Accepted => "accepted",
        /// Rejected.
        Rejected => "rejected",
    }
);

vocabulary!(
    /// The kind of work a task does.
    TaskType, "task type" {
        /// The tasks API's `import` (`POST /v2/tasks`).
        Import => "import",
        /// The interoperable image import (`POST /v2/images/{id}/import`).
        ApiImageImport => "api_image_import",
        /// Hashing the data behind a location added by `POST /v2/images/{id}/locations`
        /// (Glance's name for the same background work).
        LocationImport => "location_import",
    }
);

impl ImageStatus {
    /// Statuses whose record is hidden from everyone but admins.
    pub const fn is_deleted(self) -> bool {
        matches!(self, ImageStatus::PendingDelete | ImageStatus::Deleted)
    }
}

impl TaskStatus {
    /// Success and failure never change again.
    pub const fn is_terminal(self) -> bool {
        matches!(self, TaskStatus::Success | TaskStatus::Failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_round_trips_through_its_spelling() {
        for s in ImageStatus::ALL {
            assert_eq!(s.as_str().parse::<ImageStatus>(), Ok(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(s.as_str().into()));
        }
        for f in DiskFormat::ALL {
            assert_eq!(f.as_str().parse::<DiskFormat>(), Ok(*f));
        }
    }

    #[test]
    fn an_unknown_value_names_the_accepted_ones() {
        let err = "qcow3"
            .parse::<DiskFormat>()
            .expect_err("qcow3 is no format");
        assert!(err.to_string().contains("qcow2"), "{err}");
    }
}
