//! `GET /v2/images` as one SQL statement: [`ImageListQuery`] holds the parsed, validated
//! request (parsing with Glance's 400s lives in `params`), [`list_images`] runs it with
//! the caller's visibility (SPEC 7) and keyset pagination after a marker, and returns an
//! [`ImagePage`]. Parameter vocabularies (sort keys, visibility filters) are in `vocab`;
//! the pieces both lists share (errors, limits, `SqlBuilder`) are in `common`, which the
//! task list reuses.

mod common;
mod params;
mod sql;
#[cfg(test)]
mod tests;
mod vocab;

pub(crate) use common::{BindValue, SqlBuilder, once, parse_limit, parse_marker};
pub use common::{ListError, ListReadError, PageLimits, SortDir};
pub use params::{ImageFilters, ImageListQuery};
pub use vocab::{
    ImageSortKey, Known, MemberStatusFilter, TimeField, TimeFilter, TimeOp, VisibilityFilter,
};

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Jsonb};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::document::decode;
use domain::{Actor, Image, ImageId};

/// One page of an image list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePage {
    /// The images, in the requested order, at most `limit` of them.
    pub images: Vec<Image>,
    /// More images follow the last one (one more than `limit` was found).
    pub has_more: bool,
}

impl ImagePage {
    /// The marker of the next page (Glance's `next` link), while more may follow.
    pub fn next_marker(&self) -> Option<ImageId> {
        if self.has_more {
            self.images.last().map(|image| image.id)
        } else {
            None
        }
    }
}

/// The one row the page query returns, even for an empty page.
#[derive(QueryableByName)]
pub(crate) struct PageRow {
    /// False when a marker was given but is unknown or invisible to the caller.
    #[diesel(sql_type = Bool)]
    pub(crate) marker_found: bool,
    /// The page as a JSON array of documents, in order.
    #[diesel(sql_type = Jsonb)]
    pub(crate) documents: Value,
}

/// The page of images `actor` asked for, in one query. A marker that is not the id of
/// an image the caller may see (or one pending delete) is [`ListError::MarkerNotFound`].
pub async fn list_images(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    query: &ImageListQuery,
) -> Result<ImagePage, ListReadError> {
    let row: PageRow = sql::image_list_sql(actor, query)
        .into_query()
        .get_result(conn)
        .await?;
    if let (false, Some(marker)) = (row.marker_found, query.marker) {
        return Err(ListError::MarkerNotFound {
            what: "image",
            marker: marker.as_uuid(),
        }
        .into());
    }
    let mut images: Vec<Image> = decode("image", Some(row.documents))?.unwrap_or_default();
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let has_more = images.len() > limit;
    images.truncate(limit);
    Ok(ImagePage { images, has_more })
}
