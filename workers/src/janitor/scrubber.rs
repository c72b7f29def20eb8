//! The scrubber (delayed delete): an image deleted with `delayed_delete` on waits in
//! pending_delete, restorable by an admin, for `scrub_time`; then it is purged
//! (pending_delete -> deleted). The data is not removed here: the purge's
//! `image.deleted` event starts the cleanup job, the one place data of deleted images
//! goes away, so a purge and an immediate delete end the same way.

use apply::sweep::{Due, now, scrubbable_images};
use db::DbError;
use db::pool::PgPooled;
use domain::command::ImageRef;
use domain::{Command, ImageId};

use super::command::{JanitorError, Sent, send};
use super::sweep::Sweep;
use super::{Janitor, Tally};

/// Purges pending_delete images past `scrub_time`.
pub(super) struct Scrubber;

impl Sweep for Scrubber {
    type Row = Due<ImageId>;

    const READING: &'static str = "reading images to purge";

    fn done(tally: &mut Tally) -> &mut usize {
        &mut tally.images_purged
    }

    async fn due(
        janitor: &Janitor,
        conn: &mut PgPooled,
        limit: i64,
    ) -> Result<Vec<Due<ImageId>>, DbError> {
        // The scrub time the repository decides with, so what is read as due is accepted.
        let scrub_time = janitor.repository.config().scrub_time;
        scrubbable_images(conn, now(), scrub_time, limit).await
    }

    async fn act(janitor: &Janitor, image: &Due<ImageId>) -> Result<Option<Sent>, JanitorError> {
        let name = format!("purge/{}/{}", image.id, image.version);
        let command = Command::PurgeImage(ImageRef {
            image_id: image.id,
            expected_version: None,
        });
        send(janitor, &name, command).await.map(Some)
    }
}
