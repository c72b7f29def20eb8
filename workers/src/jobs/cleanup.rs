//! Removing a deleted image's data, wherever it is (image and staging areas): the one
//! place data goes away after `DELETE` or the scrubber's purge, so no delete path leaves
//! files behind (SPEC 2, "do better"). The event only says which image: whether its
//! data may go is read from the database, so a forged `image.deleted` event on the bus
//! cannot remove a live image's data.

use super::{JobContext, JobError};
use domain::{ImageId, ImageStatus};
use store::Area;

/// Removes every blob of a deleted image (or of one no longer recorded at all);
/// idempotent. An image in any other status keeps its data: the job is refused.
pub async fn remove_data(image_id: ImageId, ctx: &JobContext) -> Result<(), JobError> {
    if let Some(image) = ctx.image(image_id).await?
        && image.status != ImageStatus::Deleted
    {
        return Err(JobError::Permanent(format!(
            "image {image_id} is {}, not deleted: its data stays",
            image.status.as_str()
        )));
    }
    for area in [Area::Images, Area::Staging] {
        ctx.stores.delete_everywhere(area, image_id).await?;
    }
    tracing::info!(image.id = %image_id, "removed the data of a deleted image");
    Ok(())
}
