//! `GET /v2/tasks` query strings into [`TaskListQuery`]: filters `type` and `status`, one
//! sort key and direction, `limit` and `marker`, refused with Glance's 400s.

use super::{ListError, once, one_of, parse_limit, parse_marker, parse_sort_dir};
use db::list::PageLimits;
use db::task_list::TaskListQuery;
use domain::TaskId;

#[cfg(test)]
mod tests;

/// Parses `GET /v2/tasks` query-string pairs with the default page limits.
pub fn parse_task_list(pairs: &[(String, String)]) -> Result<TaskListQuery, ListError> {
    parse_task_list_with(pairs, PageLimits::default())
}

/// Parses `GET /v2/tasks` query-string pairs. Unlike Glance, which ignores unknown
/// parameters, an unknown one is a 400: silently ignoring a misspelt filter would list
/// too much.
pub fn parse_task_list_with(
    pairs: &[(String, String)],
    limits: PageLimits,
) -> Result<TaskListQuery, ListError> {
    let mut q = TaskListQuery::default();
    let (mut task_type, mut status, mut sort_key, mut sort_dir) = (None, None, None, None);
    let (mut limit, mut marker) = (None, None);
    for (key, value) in pairs {
        let key = key.as_str();
        match key {
            "type" => once(&mut task_type, key, one_of(key, value)?)?,
            "status" => once(&mut status, key, one_of(key, value)?)?,
            "sort_key" => once(&mut sort_key, key, one_of(key, value.trim())?)?,
            "sort_dir" => once(&mut sort_dir, key, parse_sort_dir(key, value.trim())?)?,
            "limit" => once(&mut limit, key, parse_limit(value, limits)?)?,
            "marker" => once(&mut marker, key, TaskId::from_uuid(parse_marker(value)?))?,
            _ => {
                return Err(ListError::Conflict(format!(
                    "Unknown parameter '{key}': tasks are listed with type, status, \
                     sort_key, sort_dir, limit and marker."
                )));
            }
        }
    }
    q.task_type = task_type;
    q.status = status;
    q.sort_key = sort_key.unwrap_or(q.sort_key);
    q.sort_dir = sort_dir.unwrap_or(q.sort_dir);
    q.limit = limit.unwrap_or(limits.default_limit.min(limits.max_limit));
    q.marker = marker;
    Ok(q)
}
