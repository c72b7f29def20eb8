//! What a project's images hold, counted as Glance counts: killed and deleted images
//! hold no data and do not count, pending_delete ones keep theirs until scrubbed and do.
//! Staged data (an image uploading or importing has its staged size) counts as staged
//! only: Glance's `image_size_total` sums the data of images' locations, which a staged
//! image does not have yet, and the storage quota is measured against that total.
//! One query each, served by `images_owner_idx`: the gateway's `/v2/info/usage` and the
//! room an upload has under the project's storage quota.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::DbError;
use domain::ImageId;

/// The four counters of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, QueryableByName)]
pub struct ProjectUsage {
    /// Bytes of the project's stored images (staged data aside).
    #[diesel(sql_type = BigInt)]
    pub size_total: i64,
    /// How many images the project has.
    #[diesel(sql_type = BigInt)]
    pub count_total: i64,
    /// Bytes staged: the sizes of images in uploading and importing.
    #[diesel(sql_type = BigInt)]
    pub stage_total: i64,
    /// Uploads in flight: images saving, uploading or importing.
    #[diesel(sql_type = BigInt)]
    pub count_uploading: i64,
}

const USAGE: &str = "SELECT \
     COALESCE(SUM(size) FILTER (WHERE status NOT IN ('uploading', 'importing')), 0)::bigint \
         AS size_total, \
     COUNT(*) AS count_total, \
     COALESCE(SUM(size) FILTER (WHERE status IN ('uploading', 'importing')), 0)::bigint \
         AS stage_total, \
     COUNT(*) FILTER (WHERE status IN ('saving', 'uploading', 'importing')) \
         AS count_uploading \
     FROM images WHERE owner = $1 AND status NOT IN ('killed', 'deleted')";

/// `project`'s usage.
pub async fn project_usage(
    conn: &mut AsyncPgConnection,
    project: &str,
) -> Result<ProjectUsage, DbError> {
    Ok(diesel::sql_query(USAGE)
        .bind::<Text, _>(project)
        .get_result(conn)
        .await?)
}

#[derive(QueryableByName)]
struct Used {
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

// Without the image being written: its old size, if any, is being replaced.
const USED_BESIDE: &str = "SELECT COALESCE(SUM(size), 0)::bigint AS bytes FROM images \
     WHERE owner = $1 AND id <> $2 \
     AND status NOT IN ('killed', 'deleted', 'uploading', 'importing')";

/// Bytes `owner`'s images hold, other than `image`'s: what counts against the quota
/// while `image`'s data is written.
pub async fn bytes_used_beside(
    conn: &mut AsyncPgConnection,
    owner: &str,
    image: ImageId,
) -> Result<u64, DbError> {
    let used: Used = diesel::sql_query(USED_BESIDE)
        .bind::<Text, _>(owner)
        .bind::<SqlUuid, _>(image.as_uuid())
        .get_result(conn)
        .await?;
    Ok(u64::try_from(used.bytes).unwrap_or(0))
}
