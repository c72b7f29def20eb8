//! How many bytes an upload may take: the image size cap, or less when the owning
//! project's storage quota (Glance's `user_storage_quota`) leaves less room. One query.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text, Uuid};
use diesel_async::RunQueryDsl;
use shared::domain::Image;
use shared::store::DataLimits;

use crate::error::ApiError;
use crate::routes::common::read_connection;
use crate::state::AppState;

#[derive(QueryableByName)]
struct Used {
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

// Counted as `/v2/info/usage` counts (killed and deleted images hold nothing), without
// the image being written: its old size, if any, is being replaced.
const USED: &str = "SELECT COALESCE(SUM(size), 0)::bigint AS bytes FROM images \
     WHERE owner = $1 AND id <> $2 AND status NOT IN ('killed', 'deleted')";

/// The limits of a write of `image`'s data.
pub async fn data_limits(state: &AppState, image: &Image) -> Result<DataLimits, ApiError> {
    let cap = state.settings.image_size_cap;
    let Some(quota) = state.settings.user_storage_quota else {
        return Ok(DataLimits { max_bytes: cap });
    };
    let mut conn = read_connection(state).await?;
    let used: Used = diesel::sql_query(USED)
        .bind::<Text, _>(&image.owner)
        .bind::<Uuid, _>(image.id.as_uuid())
        .get_result(&mut conn)
        .await
        .map_err(ApiError::internal)?;
    let room = quota.saturating_sub(u64::try_from(used.bytes).unwrap_or(0));
    Ok(DataLimits {
        max_bytes: cap.min(room),
    })
}
