//! The closed vocabularies of the image list's parameters: visibility and member-status
//! filters, sort keys (an allow-list that doubles as the column names the SQL may name),
//! time filters, and [`Known`] for vocabulary filters whose unknown values match nothing.
//! Each parses from its spelling (`FromStr`); the gateway turns a refusal into its 400.

use chrono::{DateTime, Utc};

use crate::list::spelled;

spelled!(
    /// The `visibility` filter.
    VisibilityFilter, "visibility" {
        /// Public images.
        Public => "public",
        /// The caller's private images (every project's for an admin).
        Private => "private",
        /// Shared images the caller owns or is a member of (all for an admin).
        Shared => "shared",
        /// Community images of every project.
        Community => "community",
        /// Everything the caller may see.
        All => "all",
    }
);

spelled!(
    /// `member_status`: which of the caller's memberships list shared images.
    MemberStatusFilter, "member_status" {
        /// Not yet answered.
        Pending => "pending",
        /// Accepted (the default).
        Accepted => "accepted",
        /// Rejected.
        Rejected => "rejected",
        /// Any answer.
        All => "all",
    }
);

spelled!(
    /// A column images may be sorted by; its spelling is the column's name.
    ImageSortKey, "sort_key" {
        /// `name` (nullable).
        Name => "name",
        /// `status`.
        Status => "status",
        /// `container_format` (nullable).
        ContainerFormat => "container_format",
        /// `disk_format` (nullable).
        DiskFormat => "disk_format",
        /// `size` (nullable).
        Size => "size",
        /// `id`, the final tie-breaker.
        Id => "id",
        /// `created_at`.
        CreatedAt => "created_at",
        /// `updated_at`.
        UpdatedAt => "updated_at",
        /// `visibility`.
        Visibility => "visibility",
        /// `owner`.
        Owner => "owner",
        /// `min_disk`.
        MinDisk => "min_disk",
        /// `min_ram`.
        MinRam => "min_ram",
        /// `virtual_size` (nullable).
        VirtualSize => "virtual_size",
        /// `protected`.
        Protected => "protected",
        /// `os_hidden`.
        OsHidden => "os_hidden",
    }
);

spelled!(
    /// A comparison of a time filter (`created_at=gte:2024-01-01T00:00:00Z`).
    TimeOp, "time operator" {
        /// Later than.
        Gt => "gt",
        /// At or later than.
        Gte => "gte",
        /// Earlier than.
        Lt => "lt",
        /// At or earlier than.
        Lte => "lte",
        /// Exactly at.
        Eq => "eq",
        /// Not at.
        Neq => "neq",
    }
);

spelled!(
    /// The timestamp a time filter compares.
    TimeField, "time field" {
        /// `created_at`.
        CreatedAt => "created_at",
        /// `updated_at`.
        UpdatedAt => "updated_at",
    }
);

impl ImageSortKey {
    /// Columns that may hold NULL, which the keyset condition must order explicitly.
    pub const fn nullable(self) -> bool {
        matches!(
            self,
            Self::Name | Self::ContainerFormat | Self::DiskFormat | Self::Size | Self::VirtualSize
        )
    }
}

impl TimeOp {
    /// The SQL comparison operator.
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Gt => ">",
            Self::Gte => ">=",
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Eq => "=",
            Self::Neq => "<>",
        }
    }
}

/// A filter on a closed vocabulary: Glance answers an unknown value with an empty list,
/// not a 400, so the unknown spelling is kept and matches nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known<T> {
    /// A value of the vocabulary.
    Is(T),
    /// A spelling outside it: no image matches.
    Unknown(String),
}

/// `created_at` or `updated_at` compared with a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeFilter {
    /// Which timestamp.
    pub field: TimeField,
    /// How it is compared.
    pub op: TimeOp,
    /// With what.
    pub at: DateTime<Utc>,
}
