//! How many bytes an upload may take: the image size cap, or less when the owning
//! project's storage quota (Glance's `user_storage_quota`) leaves less room.

use db::usage::bytes_used_beside;
use domain::Image;
use store::DataLimits;

use crate::error::ApiError;
use crate::routes::common::read_connection;
use crate::state::AppState;

/// The limits of a write of `image`'s data.
pub async fn data_limits(state: &AppState, image: &Image) -> Result<DataLimits, ApiError> {
    let cap = state.settings.image_size_cap;
    let Some(quota) = state.settings.user_storage_quota else {
        return Ok(DataLimits { max_bytes: cap });
    };
    let mut conn = read_connection(state).await?;
    let used = bytes_used_beside(&mut conn, &image.owner, image.id)
        .await
        .map_err(ApiError::internal)?;
    let room = quota.saturating_sub(used);
    Ok(DataLimits {
        max_bytes: cap.min(room),
    })
}
