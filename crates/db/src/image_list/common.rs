//! What the image and task lists share: the 400-class [`ListError`], the error of a list
//! read ([`ListReadError`]), sort directions, page-size limits, the parsers of the
//! parameters both lists take (`limit`, `marker`, booleans), and [`SqlBuilder`], which
//! collects SQL text and typed bind values so a query with a varying number of binds
//! still binds every user value and interpolates none.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use std::fmt::Write as _;
use uuid::Uuid;

use crate::DbError;

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

/// Why a list read failed: the request (400) or the database (5xx).
#[derive(Debug, thiserror::Error)]
pub enum ListReadError {
    /// The request names a marker the caller cannot see (400).
    #[error(transparent)]
    Invalid(#[from] ListError),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for ListReadError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(error))
    }
}

/// A sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SortDir {
    /// Smallest first.
    Asc,
    /// Largest first (the default).
    Desc,
}

impl SortDir {
    /// Parses `asc` or `desc` (exactly, as Glance does).
    pub fn parse(param: &str, value: &str) -> Result<Self, ListError> {
        match value {
            "asc" => Ok(Self::Asc),
            "desc" => Ok(Self::Desc),
            _ => Err(ListError::invalid(param, value, "expected asc or desc")),
        }
    }

    /// The SQL keyword.
    pub const fn sql(self) -> &'static str {
        match self {
            Self::Asc => "ASC",
            Self::Desc => "DESC",
        }
    }
}

/// Page sizes: what a list returns without `limit`, and the cap on `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// Page size when no `limit` is given (Glance's `limit_param_default`, 25).
    pub default_limit: u32,
    /// Larger limits are capped to this (Glance's `api_limit_max`, 1000).
    pub max_limit: u32,
}

impl Default for PageLimits {
    fn default() -> Self {
        Self {
            default_limit: 25,
            max_limit: 1000,
        }
    }
}

/// Parses `limit`: a non-negative integer, capped at `limits.max_limit` (a number too
/// large for any integer type is capped too).
pub fn parse_limit(value: &str, limits: PageLimits) -> Result<u32, ListError> {
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
pub fn parse_marker(value: &str) -> Result<Uuid, ListError> {
    Uuid::parse_str(value.trim()).map_err(|_| {
        ListError::invalid("marker", value, "expected the id (a UUID) of a listed item")
    })
}

/// Parses `true` or `false`, in any case.
pub fn parse_bool(param: &str, value: &str) -> Result<bool, ListError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ListError::invalid(param, value, "expected true or false")),
    }
}

/// Stores the value of a parameter that may appear only once.
pub fn once<T>(slot: &mut Option<T>, param: &str, value: T) -> Result<(), ListError> {
    if slot.replace(value).is_some() {
        return Err(ListError::Conflict(format!(
            "The parameter '{param}' may be given only once."
        )));
    }
    Ok(())
}

/// A value bound to a placeholder of a [`SqlBuilder`] query.
#[derive(Debug, Clone, PartialEq)]
pub enum BindValue {
    /// `text`.
    Text(String),
    /// `uuid`.
    Uuid(Uuid),
    /// `uuid[]`.
    UuidArray(Vec<Uuid>),
    /// `bigint`.
    BigInt(i64),
    /// `boolean`.
    Bool(bool),
    /// `timestamptz`.
    Time(DateTime<Utc>),
}

/// SQL text under construction and the values of its `$n` placeholders, in order.
#[derive(Debug, Default)]
pub struct SqlBuilder {
    /// The statement so far.
    pub text: String,
    /// The bind values; `$n` is `binds[n - 1]`.
    pub binds: Vec<BindValue>,
}

impl SqlBuilder {
    /// Appends trusted SQL (constants and allow-listed names only, never user input).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Registers a value and returns its placeholder, to be pushed where it is used
    /// (possibly several times).
    pub fn bind(&mut self, value: BindValue) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Registers a value and appends its placeholder.
    pub fn push_bind(&mut self, value: BindValue) -> &mut Self {
        let placeholder = self.bind(value);
        let _ = write!(self.text, "{placeholder}");
        self
    }

    /// The diesel query, every value bound in placeholder order.
    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.binds {
            query = match value {
                BindValue::Text(v) => query.bind::<Text, _>(v),
                BindValue::Uuid(v) => query.bind::<SqlUuid, _>(v),
                BindValue::UuidArray(v) => query.bind::<Array<SqlUuid>, _>(v),
                BindValue::BigInt(v) => query.bind::<BigInt, _>(v),
                BindValue::Bool(v) => query.bind::<Bool, _>(v),
                BindValue::Time(v) => query.bind::<Timestamptz, _>(v),
            };
        }
        query
    }
}
