//! Removing a deleted image's data, wherever it is (image and staging areas): the one
//! place data goes away after `DELETE` or the scrubber's purge, so no delete path leaves
//! files behind (SPEC 2, "do better").

use super::{JobContext, JobError};
use shared::domain::ImageId;
use shared::store::Area;

/// Removes every blob of a deleted image; idempotent.
pub async fn remove_data(image_id: ImageId, ctx: &JobContext) -> Result<(), JobError> {
    for area in [Area::Images, Area::Staging] {
        ctx.store.delete(area, image_id).await?;
    }
    tracing::info!(image.id = %image_id, "removed the data of a deleted image");
    Ok(())
}
