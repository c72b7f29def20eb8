//! What the image and task lists share: sort directions, page sizes, the error of a list
//! read ([`ListReadError`]), the one row a page query returns, the `spelled!` macro of
//! the lists' closed vocabularies, and [`SqlBuilder`]. Parsing the query string (and the
//! 400s of a malformed one) is the gateway's; this module only holds typed values.

mod spelled;
mod sql_builder;

pub(crate) use spelled::spelled;
pub use sql_builder::{BindValue, SqlBuilder};

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Jsonb};
use serde_json::Value;
use uuid::Uuid;

use crate::DbError;

/// Why a list read failed: the marker names nothing the caller can list, or the
/// database failed.
#[derive(Debug, thiserror::Error)]
pub enum ListReadError {
    /// The marker is a well-formed id, but of nothing the caller can list.
    #[error("the marker {marker} is not the id of a {what} visible to the caller")]
    MarkerNotFound {
        /// "image" or "task".
        what: &'static str,
        /// The marker as given.
        marker: Uuid,
    },
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

/// The one row a page query returns, even for an empty page.
#[derive(QueryableByName)]
pub(crate) struct PageRow {
    /// False when a marker was given but is unknown or invisible to the caller.
    #[diesel(sql_type = Bool)]
    pub(crate) marker_found: bool,
    /// The page as a JSON array of documents, in order.
    #[diesel(sql_type = Jsonb)]
    pub(crate) documents: Value,
}
