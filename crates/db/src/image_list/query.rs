//! A `GET /v2/images` request as typed values ([`ImageListQuery`], [`ImageFilters`]). The
//! gateway parses the query string into them and refuses what a person can get wrong, so
//! the SQL builder only ever sees allow-listed names and typed values.

use std::collections::BTreeMap;

use super::vocab::{ImageSortKey, Known, MemberStatusFilter, TimeFilter, VisibilityFilter};
use crate::list::{PageLimits, SortDir};
use domain::ImageId;
use domain::status::{ContainerFormat, DiskFormat, ImageStatus, MemberStatus};

/// Every filter of `GET /v2/images`; all must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ImageFilters {
    /// Exact name.
    pub name: Option<String>,
    /// Status (pending_delete and deleted images are never listed whatever this says).
    pub status: Option<Known<ImageStatus>>,
    /// Which visibilities; `None` is the default list of SPEC 7.
    pub visibility: Option<VisibilityFilter>,
    /// Owning project.
    pub owner: Option<String>,
    /// Which memberships list shared images for a non-admin; `None` means accepted.
    pub member_status: Option<MemberStatusFilter>,
    /// Tags the image must all carry.
    pub tags: Vec<String>,
    /// Minimum size in bytes.
    pub size_min: Option<i64>,
    /// Maximum size in bytes.
    pub size_max: Option<i64>,
    /// Protected or not.
    pub protected: Option<bool>,
    /// Hidden or not; `None` lists only images that are not hidden.
    pub os_hidden: Option<bool>,
    /// Disk format.
    pub disk_format: Option<Known<DiskFormat>>,
    /// Container format.
    pub container_format: Option<Known<ContainerFormat>>,
    /// Hex md5 of the data.
    pub checksum: Option<String>,
    /// Secure hash of the data.
    pub os_hash_value: Option<String>,
    /// `id=in:a,b`: one of these ids.
    pub ids: Option<Vec<ImageId>>,
    /// Time comparisons.
    pub times: Vec<TimeFilter>,
    /// Extra properties that must have exactly these values.
    pub properties: BTreeMap<String, String>,
}

impl ImageFilters {
    /// The membership answer that lists shared images (accepted unless asked otherwise).
    pub fn member_status(&self) -> MemberStatusFilter {
        self.member_status.unwrap_or(MemberStatusFilter::Accepted)
    }

    /// The member status to require, or `None` for any.
    pub fn required_member_status(&self) -> Option<MemberStatus> {
        match self.member_status() {
            MemberStatusFilter::Pending => Some(MemberStatus::Pending),
            MemberStatusFilter::Accepted => Some(MemberStatus::Accepted),
            MemberStatusFilter::Rejected => Some(MemberStatus::Rejected),
            MemberStatusFilter::All => None,
        }
    }
}

/// A validated `GET /v2/images` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageListQuery {
    /// What to list.
    pub filters: ImageFilters,
    /// The order, tie-breakers included (`id` is appended by the query if missing).
    pub sort: Vec<(ImageSortKey, SortDir)>,
    /// Page size, already capped; 0 gives an empty page.
    pub limit: u32,
    /// Start after this image.
    pub marker: Option<ImageId>,
}

impl Default for ImageListQuery {
    /// The default list: newest first, 25 per page.
    fn default() -> Self {
        Self {
            filters: ImageFilters::default(),
            sort: vec![
                (ImageSortKey::CreatedAt, SortDir::Desc),
                (ImageSortKey::Id, SortDir::Desc),
            ],
            limit: PageLimits::default().default_limit,
            marker: None,
        }
    }
}
