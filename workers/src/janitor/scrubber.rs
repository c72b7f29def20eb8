//! The scrubber (delayed delete): an image deleted with `delayed_delete` on waits in
//! pending_delete, restorable by an admin, for `scrub_time`; then it is purged
//! (pending_delete -> deleted). The data is not removed here: the purge's
//! `image.deleted` event starts the cleanup job, the one place data of deleted images
//! goes away, so a purge and an immediate delete end the same way.

use apply::sweep;
use domain::Command;
use domain::command::ImageRef;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, read, send};
use super::{Janitor, Tally};

/// Purges one batch of pending_delete images past `scrub_time`.
pub(super) async fn sweep(
    janitor: &Janitor,
    limit: i64,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    // The scrub time the repository decides with, so what is read as due is accepted.
    let scrub_time = janitor.repository.config().scrub_time;
    let due = read(janitor, "reading images to purge", async |conn| {
        sweep::scrubbable_images(conn, sweep::now(), scrub_time, limit).await
    })
    .await?;
    for image in due {
        if shutdown.is_cancelled() {
            break;
        }
        let name = format!("purge/{}/{}", image.id, image.version);
        let command = Command::PurgeImage(ImageRef {
            image_id: image.id,
            expected_version: None,
        });
        let sent = send(janitor, &name, command).await?;
        tally.count(sent, |t| &mut t.images_purged);
    }
    Ok(())
}
