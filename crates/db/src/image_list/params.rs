//! `GET /v2/images` parameters as typed values ([`ImageListQuery`]), and their parsing
//! from query-string pairs with Glance's 400s. Parsing decides everything a person can
//! get wrong, so the SQL builder only ever sees allow-listed names and typed values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::common::{ListError, PageLimits, SortDir, once, parse_bool, parse_limit, parse_marker};
use super::vocab::{
    ImageSortKey, Known, MemberStatusFilter, TimeField, TimeFilter, TimeOp, VisibilityFilter,
};
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

impl ImageListQuery {
    /// Parses query-string pairs with the default page limits.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ListError> {
        Self::from_pairs_with(pairs, PageLimits::default())
    }

    /// Parses query-string pairs (already percent-decoded), refusing what Glance refuses.
    pub fn from_pairs_with(
        pairs: &[(String, String)],
        limits: PageLimits,
    ) -> Result<Self, ListError> {
        let mut f = ImageFilters::default();
        let (mut limit, mut marker, mut sort) = (None, None, None);
        let (mut sort_keys, mut sort_dirs) = (Vec::new(), Vec::new());
        for (key, value) in pairs {
            let key = key.as_str();
            match key {
                "limit" => once(&mut limit, key, parse_limit(value, limits)?)?,
                "marker" => once(&mut marker, key, ImageId::from_uuid(parse_marker(value)?))?,
                "sort" => once(&mut sort, key, parse_sort(value)?)?,
                "sort_key" => sort_keys.push(ImageSortKey::parse(value.trim())?),
                "sort_dir" => sort_dirs.push(SortDir::parse(key, value.trim())?),
                "name" => once(&mut f.name, key, value.clone())?,
                "status" => once(&mut f.status, key, Known::parse(value))?,
                "visibility" => once(&mut f.visibility, key, VisibilityFilter::parse(value)?)?,
                "owner" => once(&mut f.owner, key, value.clone())?,
                "member_status" => {
                    once(&mut f.member_status, key, MemberStatusFilter::parse(value)?)?;
                }
                "tag" => {
                    let tag = value.trim().to_owned();
                    if !f.tags.contains(&tag) {
                        f.tags.push(tag);
                    }
                }
                "size_min" => once(&mut f.size_min, key, parse_size(key, value)?)?,
                "size_max" => once(&mut f.size_max, key, parse_size(key, value)?)?,
                "protected" => once(&mut f.protected, key, parse_bool(key, value)?)?,
                "os_hidden" => once(&mut f.os_hidden, key, parse_bool(key, value)?)?,
                "disk_format" => once(&mut f.disk_format, key, Known::parse(value))?,
                "container_format" => once(&mut f.container_format, key, Known::parse(value))?,
                "checksum" => once(&mut f.checksum, key, value.clone())?,
                "os_hash_value" => once(&mut f.os_hash_value, key, value.clone())?,
                "id" => once(&mut f.ids, key, parse_ids(value)?)?,
                "created_at" | "updated_at" => f.times.push(parse_time_filter(key, value)?),
                "changes-since" => {
                    return Err(ListError::Conflict(
                        "The 'changes-since' filter is not available in v2: use \
                         updated_at=gte:<time> instead."
                            .to_owned(),
                    ));
                }
                _ => {
                    if f.properties.insert(key.to_owned(), value.clone()).is_some() {
                        return Err(ListError::Conflict(format!(
                            "The property filter '{key}' may be given only once."
                        )));
                    }
                }
            }
        }
        let sort = match sort {
            Some(_) if !sort_keys.is_empty() || !sort_dirs.is_empty() => {
                return Err(ListError::Conflict(
                    "Use either 'sort' or 'sort_key'/'sort_dir', not both.".to_owned(),
                ));
            }
            Some(sort) => sort,
            None => legacy_sort(sort_keys, sort_dirs)?,
        };
        Ok(Self {
            filters: f,
            sort,
            limit: limit.unwrap_or(limits.default_limit.min(limits.max_limit)),
            marker,
        })
    }
}

/// `sort=name:desc,created_at`: keys with optional directions (desc by default).
fn parse_sort(value: &str) -> Result<Vec<(ImageSortKey, SortDir)>, ListError> {
    let mut keys = Vec::new();
    let mut dirs = Vec::new();
    for part in value.trim().split(',') {
        let (key, dir) = part.split_once(':').unwrap_or((part, "desc"));
        keys.push(ImageSortKey::parse(key.trim())?);
        dirs.push(SortDir::parse("sort", dir.trim())?);
    }
    with_tie_breakers(keys, dirs)
}

/// `sort_key` (repeatable) with `sort_dir`: none (desc), one for every key, or one each.
fn legacy_sort(
    keys: Vec<ImageSortKey>,
    dirs: Vec<SortDir>,
) -> Result<Vec<(ImageSortKey, SortDir)>, ListError> {
    if dirs.len() > 1 && dirs.len() != keys.len() {
        return Err(ListError::Conflict(format!(
            "{} sort_dir values were given for {} sort_key values: give one sort_dir, or one \
             per sort_key.",
            dirs.len(),
            keys.len()
        )));
    }
    let keys = if keys.is_empty() {
        vec![ImageSortKey::CreatedAt]
    } else {
        keys
    };
    let dirs = match dirs.as_slice() {
        [] => vec![SortDir::Desc; keys.len()],
        [one] => vec![*one; keys.len()],
        _ => dirs,
    };
    with_tie_breakers(keys, dirs)
}

/// Pairs keys with directions and appends `created_at` and `id` unless present: in the
/// given direction when all keys agree on one (Glance: when one is given), else desc.
fn with_tie_breakers(
    keys: Vec<ImageSortKey>,
    dirs: Vec<SortDir>,
) -> Result<Vec<(ImageSortKey, SortDir)>, ListError> {
    let tie_dir = match dirs.first() {
        Some(first) if dirs.iter().all(|d| d == first) => *first,
        _ => SortDir::Desc,
    };
    let mut sort: Vec<(ImageSortKey, SortDir)> = Vec::with_capacity(keys.len() + 2);
    for (key, dir) in keys.into_iter().zip(dirs) {
        if sort.iter().any(|(k, _)| *k == key) {
            return Err(ListError::Conflict(format!(
                "The sort key '{}' is given more than once.",
                key.as_str()
            )));
        }
        sort.push((key, dir));
    }
    for key in [ImageSortKey::CreatedAt, ImageSortKey::Id] {
        if !sort.iter().any(|(k, _)| *k == key) {
            sort.push((key, tie_dir));
        }
    }
    Ok(sort)
}

fn parse_size(param: &str, value: &str) -> Result<i64, ListError> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| ListError::invalid(param, value, "expected a non-negative integer"))
}

/// `in:a,b` (or a single id): image ids.
fn parse_ids(value: &str) -> Result<Vec<ImageId>, ListError> {
    let list = value.strip_prefix("in:").unwrap_or(value);
    list.split(',')
        .map(|id| {
            Uuid::parse_str(id.trim().trim_matches('"'))
                .map(ImageId::from_uuid)
                .map_err(|_| {
                    ListError::invalid(
                        "id",
                        value,
                        "expected in: followed by comma-separated UUIDs",
                    )
                })
        })
        .collect()
}

/// `created_at=gte:2024-01-01T00:00:00Z`; a bare time means `eq:`.
fn parse_time_filter(param: &str, value: &str) -> Result<TimeFilter, ListError> {
    let field = TimeField::parse(param)?;
    let expected = "expected gt:, gte:, lt:, lte:, eq: or neq: followed by an ISO 8601 time \
                    such as 2024-01-31T12:00:00Z";
    let (op, time) = match value.split_once(':') {
        Some((op, time)) if TimeOp::parse(op).is_ok() => (TimeOp::parse(op)?, time),
        _ => (TimeOp::Eq, value),
    };
    let at = parse_time(time).ok_or_else(|| ListError::invalid(param, value, expected))?;
    Ok(TimeFilter { field, op, at })
}

/// ISO 8601 as clients send it: with an offset or `Z`, without one (UTC), or a date.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(at.and_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|at| at.and_utc())
}
