//! Stale leases: an image in saving, uploading or importing whose lease ran out was held
//! by a gateway or worker that died (or took far longer than it may). The janitor gives
//! it back: saving -> queued (AbortUpload), uploading -> queued (AbortStage), importing
//! -> queued with its task in failure (FailImport), and removes the partial data
//! (saving: the image area; uploading: staging; importing: both). An active (or since
//! deactivated) image holds a lease only while copy-image copies it: its task fails, the image keeps its status
//! and stores, and no data is removed.
//!
//! The command goes first and the data second, on purpose. A holder that is slow rather
//! than dead may still finish: were the data removed first, its completion could land
//! between the removal and the command (the command is then refused) and leave an
//! active image without data. Command first, the late completion is refused instead,
//! and the gateway or import job removes what it wrote (both do on a refused finish).
//! Hence `data_removed` is true: the janitor removes the data right after, and a store
//! that fails then leaves a blob under a queued image's key, which the next write
//! replaces and a delete removes (logged as an error).

use apply::sweep::{StaleLease, now, stale_leases};
use db::DbError;
use db::pool::PgPooled;
use domain::command::{Abort, FailImport};
use domain::{Command, ImageStatus};
use store::Area;

use super::command::{JanitorError, Sent, send};
use super::sweep::Sweep;
use super::{Janitor, Tally};

/// Why an upload or stage was given back (the image event and the log say it).
pub const LEASE_EXPIRED: &str = "the upload's lease expired";

/// The import task's failure message.
pub const IMPORT_LEASE_EXPIRED: &str = "the import did not finish before its lease expired";

/// Gives back images whose lease ran out.
pub(super) struct Leases;

impl Sweep for Leases {
    type Row = StaleLease;

    const READING: &'static str = "reading stale leases";

    fn done(tally: &mut Tally) -> &mut usize {
        &mut tally.leases_reclaimed
    }

    async fn due(_: &Janitor, conn: &mut PgPooled, limit: i64) -> Result<Vec<StaleLease>, DbError> {
        stale_leases(conn, now(), limit).await
    }

    async fn act(janitor: &Janitor, image: &StaleLease) -> Result<Option<Sent>, JanitorError> {
        give_back(janitor, image).await
    }
}

/// The command for one stale image and the areas its partial data may be in; None for
/// an image this sweep cannot act on.
fn plan(image: &StaleLease) -> Option<(Command, &'static [Area])> {
    let abort = || Abort {
        image_id: image.image_id,
        reason: LEASE_EXPIRED.to_owned(),
        data_removed: true,
    };
    match image.status {
        ImageStatus::Saving => Some((Command::AbortUpload(abort()), &[Area::Images])),
        ImageStatus::Uploading => Some((Command::AbortStage(abort()), &[Area::Staging])),
        ImageStatus::Importing => {
            let task_id = image.import_task?;
            let fail = FailImport {
                image_id: image.image_id,
                task_id,
                message: IMPORT_LEASE_EXPIRED.to_owned(),
            };
            Some((Command::FailImport(fail), &[Area::Images, Area::Staging]))
        }
        // A copy-image whose job stopped: the task fails and the image stays active
        // with its stores. Nothing is removed: its data stays where it is listed, and a
        // copy that reached a target store unrecorded is replaced by the next copy
        // there or removed with the image.
        ImageStatus::Active | ImageStatus::Deactivated => {
            let task_id = image.import_task?;
            let fail = FailImport {
                image_id: image.image_id,
                task_id,
                message: IMPORT_LEASE_EXPIRED.to_owned(),
            };
            Some((Command::FailImport(fail), &[]))
        }
        // The query selects only leased statuses; anything else is not ours to touch.
        _ => None,
    }
}

/// Sends the image's command, then removes its data. None when it was not acted on.
async fn give_back(janitor: &Janitor, image: &StaleLease) -> Result<Option<Sent>, JanitorError> {
    let Some((command, areas)) = plan(image) else {
        tracing::warn!(
            image.id = %image.image_id,
            status = %image.status,
            "stale lease without a running import task to fail; left alone"
        );
        return Ok(None);
    };
    let name = format!(
        "lease/{}/{}/{}",
        image.image_id,
        image.version,
        command.type_name()
    );
    let sent = send(janitor, &name, command).await?;
    if sent == Sent::Applied {
        for &area in areas {
            if let Err(error) = janitor.stores.delete_everywhere(area, image.image_id).await {
                tracing::error!(
                    image.id = %image.image_id,
                    ?area,
                    %error,
                    "could not remove the data of an expired lease; it stays until the image's next write or delete"
                );
                return Err(error.into());
            }
        }
        tracing::info!(image.id = %image.image_id, from = %image.status, "stale lease given back");
    }
    Ok(Some(sent))
}
