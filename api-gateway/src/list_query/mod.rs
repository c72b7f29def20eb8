//! The query strings of `GET /v2/images` ([`images`]) and `GET /v2/tasks` ([`tasks`]),
//! parsed into the database's typed list queries with Glance's 400s: [`ListError`] and
//! the parsers both lists share (`limit`, `marker`, booleans, sort directions, closed
//! vocabularies, parameters that may appear only once).

mod images;
mod tasks;

pub use images::{parse_image_list, parse_image_list_with};
pub use tasks::{parse_task_list, parse_task_list_with};

use db::list::{PageLimits, SortDir};
use domain::status::UnknownValue;
use std::str::FromStr;
use uuid::Uuid;

/// A list request that cannot be answered as asked: Glance answers these with 400.
/// Messages name the parameter and what would be accepted, so a person can fix the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    /// A parameter's value is malformed or not one of the accepted values.
    #[error("Invalid value '{value}' for '{param}': {expected}.")]
    InvalidValue {
        /// The query parameter.
        param: String,
        /// The refused value.
        value: String,
        /// What would be accepted.
        expected: String,
    },
    /// Parameters that contradict each other or repeat where only one is allowed.
    #[error("{0}")]
    Conflict(String),
    /// The marker is a well-formed id, but of nothing the caller can list.
    #[error(
        "Invalid marker: no {what} with id {marker} is visible to you. \
         Start the listing again without a marker."
    )]
    MarkerNotFound {
        /// "image" or "task".
        what: &'static str,
        /// The marker as given.
        marker: Uuid,
    },
}

impl ListError {
    /// A refused value of `param`, with what would have been accepted.
    pub fn invalid(param: &str, value: &str, expected: impl Into<String>) -> Self {
        Self::InvalidValue {
            param: param.to_owned(),
            value: value.to_owned(),
            expected: expected.into(),
        }
    }
}

/// Parses one spelling of a closed vocabulary, or names every accepted one in a 400.
fn one_of<T: FromStr<Err = UnknownValue>>(param: &str, value: &str) -> Result<T, ListError> {
    value.parse().map_err(|e: UnknownValue| {
        ListError::invalid(
            param,
            value,
            format!("expected one of {}", e.allowed.join(", ")),
        )
    })
}

/// Parses `asc` or `desc` (exactly, as Glance does).
fn parse_sort_dir(param: &str, value: &str) -> Result<SortDir, ListError> {
    match value {
        "asc" => Ok(SortDir::Asc),
        "desc" => Ok(SortDir::Desc),
        _ => Err(ListError::invalid(param, value, "expected asc or desc")),
    }
}

/// Parses `limit`: a non-negative integer, capped at `limits.max_limit` (a number too
/// large for any integer type is capped too).
fn parse_limit(value: &str, limits: PageLimits) -> Result<u32, ListError> {
    let digits = value.strip_prefix('+').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        let expected = if value.starts_with('-') {
            "the limit must not be negative"
        } else {
            "expected a non-negative integer"
        };
        return Err(ListError::invalid("limit", value, expected));
    }
    let capped = digits.parse::<u64>().map_or(limits.max_limit, |n| {
        u32::try_from(n).map_or(limits.max_limit, |n| n.min(limits.max_limit))
    });
    Ok(capped)
}

/// Parses a `marker`: the id of the last item of the previous page.
fn parse_marker(value: &str) -> Result<Uuid, ListError> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        ListError::invalid("marker", value, "expected the id (a UUID) of a listed item")
    })
}

/// Parses `true` or `false`, in any case.
fn parse_bool(param: &str, value: &str) -> Result<bool, ListError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ListError::invalid(param, value, "expected true or false")),
    }
}

/// Stores the value of a parameter that may appear only once.
fn once<T>(slot: &mut Option<T>, param: &str, value: T) -> Result<(), ListError> {
    if slot.replace(value).is_some() {
        return Err(ListError::Conflict(format!(
            "The parameter '{param}' may be given only once."
        )));
    }
    Ok(())
}
