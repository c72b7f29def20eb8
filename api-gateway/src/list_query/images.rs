//! `GET /v2/images` query strings into [`ImageListQuery`], refusing with Glance's 400s
//! what Glance refuses. Parsing decides everything a person can get wrong, so the SQL
//! builder only ever sees allow-listed names and typed values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use std::str::FromStr;
use uuid::Uuid;

use super::{ListError, once, one_of, parse_bool, parse_limit, parse_marker, parse_sort_dir};
use db::image_list::{ImageFilters, ImageListQuery, ImageSortKey, Known, TimeFilter, TimeOp};
use db::list::{PageLimits, SortDir};
use domain::ImageId;

#[cfg(test)]
mod tests;

/// Parses `GET /v2/images` query-string pairs with the default page limits.
pub fn parse_image_list(pairs: &[(String, String)]) -> Result<ImageListQuery, ListError> {
    parse_image_list_with(pairs, PageLimits::default())
}

/// Parses `GET /v2/images` query-string pairs (already percent-decoded), refusing what
/// Glance refuses.
pub fn parse_image_list_with(
    pairs: &[(String, String)],
    limits: PageLimits,
) -> Result<ImageListQuery, ListError> {
    let mut f = ImageFilters::default();
    let (mut limit, mut marker, mut sort) = (None, None, None);
    let (mut sort_keys, mut sort_dirs) = (Vec::new(), Vec::new());
    for (key, value) in pairs {
        let key = key.as_str();
        match key {
            "limit" => once(&mut limit, key, parse_limit(value, limits)?)?,
            "marker" => once(&mut marker, key, ImageId::from_uuid(parse_marker(value)?))?,
            "sort" => once(&mut sort, key, parse_sort(value)?)?,
            "sort_key" => sort_keys.push(one_of("sort_key", value.trim())?),
            "sort_dir" => sort_dirs.push(parse_sort_dir(key, value.trim())?),
            "name" => once(&mut f.name, key, value.clone())?,
            "status" => once(&mut f.status, key, known(value))?,
            "visibility" => once(&mut f.visibility, key, one_of(key, value)?)?,
            "owner" => once(&mut f.owner, key, value.clone())?,
            "member_status" => {
                once(&mut f.member_status, key, one_of(key, value)?)?;
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
            "disk_format" => once(&mut f.disk_format, key, known(value))?,
            "container_format" => once(&mut f.container_format, key, known(value))?,
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
    Ok(ImageListQuery {
        filters: f,
        sort,
        limit: limit.unwrap_or(limits.default_limit.min(limits.max_limit)),
        marker,
    })
}

/// `sort=name:desc,created_at`: keys with optional directions (desc by default).
fn parse_sort(value: &str) -> Result<Vec<(ImageSortKey, SortDir)>, ListError> {
    let mut keys = Vec::new();
    let mut dirs = Vec::new();
    for part in value.trim().split(',') {
        let (key, dir) = part.split_once(':').unwrap_or((part, "desc"));
        keys.push(one_of("sort_key", key.trim())?);
        dirs.push(parse_sort_dir("sort", dir.trim())?);
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
    let field = one_of("time field", param)?;
    let expected = "expected gt:, gte:, lt:, lte:, eq: or neq: followed by an ISO 8601 time \
                    such as 2024-01-31T12:00:00Z";
    let (op, time) = value
        .split_once(':')
        .and_then(|(op, time)| op.parse::<TimeOp>().ok().map(|op| (op, time)))
        .unwrap_or((TimeOp::Eq, value));
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

/// A filter on a closed vocabulary: an unknown spelling is kept and matches nothing, as
/// Glance answers it with an empty list rather than a 400.
fn known<T: FromStr>(value: &str) -> Known<T> {
    value
        .parse()
        .map_or_else(|_| Known::Unknown(value.to_owned()), Known::Is)
}
