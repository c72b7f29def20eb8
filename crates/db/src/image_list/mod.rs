//! `GET /v2/images` as one SQL statement: [`ImageListQuery`] holds the validated request
//! (the gateway parses it from the query string), [`list_images`] runs it with the
//! caller's visibility (SPEC 7) and keyset pagination after a marker, and returns an
//! [`ImagePage`]. Parameter vocabularies (sort keys, visibility filters) are in `vocab`;
//! the pieces both lists share (sort direction, read error, `SqlBuilder`) are in
//! [`crate::list`].

mod query;
mod sql;
#[cfg(test)]
mod tests;
mod vocab;

pub use query::{ImageFilters, ImageListQuery};
pub use vocab::{
    ImageSortKey, Known, MemberStatusFilter, TimeField, TimeFilter, TimeOp, VisibilityFilter,
};

use diesel_async::{AsyncPgConnection, RunQueryDsl};

use super::document::decode;
use crate::list::{ListReadError, PageRow};
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

/// The page of images `actor` asked for, in one query. A marker that is not the id of
/// an image the caller may see (or one pending delete) is
/// [`ListReadError::MarkerNotFound`].
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
        return Err(ListReadError::MarkerNotFound {
            what: "image",
            marker: marker.as_uuid(),
        });
    }
    let mut images: Vec<Image> = decode("image", Some(row.documents))?.unwrap_or_default();
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let has_more = images.len() > limit;
    images.truncate(limit);
    Ok(ImagePage { images, has_more })
}
