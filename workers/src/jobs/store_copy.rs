//! Removing the copy of an image's data that `delete_from_store` took off one of its
//! stores. The event's snapshot tells which stores still held the data then; a blob in
//! any other store goes, unless the image (read from the database now) lists that
//! store again or a running import writes to it (its task's target stores), so a
//! forged or late event cannot remove live data.

use super::{JobContext, JobError};
use domain::image::IMPORTING_TO_STORES_PROPERTY;
use domain::{ImageId, stores};
use store::Area;
use wire::EventEnvelope;

/// The event type that starts this job.
pub const REMOVED_FROM_STORE: &str = "image.removed_from_store";

/// Removes the image's blob from every store the event and the image agree no longer
/// holds it; idempotent (a blob already gone is no error).
pub async fn remove_copies(event: &EventEnvelope, ctx: &JobContext) -> Result<(), JobError> {
    let image_id = ImageId::from_uuid(event.id);
    let held: Vec<String> = event
        .snapshot
        .get("stores")
        .cloned()
        .and_then(|stores| serde_json::from_value(stores).ok())
        .ok_or_else(|| {
            JobError::Permanent(format!(
                "{REMOVED_FROM_STORE} of image {image_id} does not list the stores holding it"
            ))
        })?;
    // A deleted or purged image's data is the cleanup job's to remove.
    let Some(image) = ctx.image(image_id).await? else {
        return Ok(());
    };
    if image.status.is_deleted() {
        return Ok(());
    }
    let holding: Vec<&str> = ctx
        .stores
        .holding(&image.stores)
        .into_iter()
        .map(|named| named.id.as_str())
        .collect();
    let mut importing = stores::split(image.properties.get(IMPORTING_TO_STORES_PROPERTY));
    if let Some(task_id) = image.import_task() {
        // Every store the running import writes to, also those it has finished with
        // (they leave the importing list before the image lists them); one that names
        // none writes to the default store.
        let task = ctx.task(task_id).await?;
        let backend = task
            .and_then(|t| serde_json::from_value::<Vec<String>>(t.input["backend"].clone()).ok());
        importing.extend(backend.unwrap_or_default());
        importing.push(ctx.stores.default_store().id.clone());
    }
    for named in ctx.stores.all() {
        let id = named.id.as_str();
        if held.iter().any(|s| s == id)
            || holding.contains(&id)
            || importing.iter().any(|s| s == id)
        {
            continue;
        }
        named.store.delete(Area::Images, image_id).await?;
        tracing::info!(image.id = %image_id, store = id, "removed a store's copy of the image data");
    }
    Ok(())
}
