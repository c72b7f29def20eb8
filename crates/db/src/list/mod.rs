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

/// Ends a page query whose rows are in the CTE `page` (aliased `alias`), after its
/// `LIMIT` (one more than the page, so a next page shows): the one row of [`PageRow`],
/// whether the marker (the CTE `marker`, when `has_marker`) was found, and the page as a
/// JSON array of `document` in `order_by`.
pub(crate) fn push_page_row(
    sql: &mut SqlBuilder,
    limit: u32,
    has_marker: bool,
    document: &str,
    alias: &str,
    order_by: &str,
) {
    sql.push_bind(BindValue::BigInt(i64::from(limit) + 1));
    let marker_found = if has_marker {
        "EXISTS (SELECT 1 FROM marker)"
    } else {
        "TRUE"
    };
    sql.push(&format!(
        ") SELECT {marker_found} AS marker_found, \
         COALESCE((SELECT jsonb_agg({document} ORDER BY {order_by}) FROM page {alias}), \
         '[]'::jsonb) AS documents"
    ));
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
