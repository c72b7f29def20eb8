//! The janitor's reads: the rows whose time has come. Images whose upload, stage or
//! import lease ran out (the gateway or worker holding them died), finished tasks past
//! `expires_at`, and pending_delete images past `scrub_time`. Each read is one query
//! of at most `limit` rows, oldest deadline first, so a backlog drains in order over
//! rounds. The rows only name what to look at: the janitor's commands are decided
//! again against the current state, so a row that moved on since is refused, not
//! overwritten. And the one delete the janitor makes itself: `processed_commands`
//! rows past their retention, in bounded batches.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use db::DbError;
use db::schema::{image_properties, images, tasks};
use domain::image::IMPORT_TASK_PROPERTY;
use domain::{ImageId, ImageStatus, TaskId};

/// The statuses that hold a lease (SPEC 2: saving, uploading, importing).
/// An active image (or one deactivated meanwhile) holds a lease only while copy-image
/// copies it to more stores.
const LEASED: [&str; 5] = ["saving", "uploading", "importing", "active", "deactivated"];

/// An image whose lease ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleLease {
    /// The image.
    pub image_id: ImageId,
    /// Its version when read: names the janitor's command (one per stale state).
    pub version: i64,
    /// saving, uploading or importing.
    pub status: ImageStatus,
    /// The running import's task (`os_glance_import_task`), for importing images.
    pub import_task: Option<TaskId>,
}

/// An image or task that is due, at the version it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due<Id> {
    /// The image or task.
    pub id: Id,
    /// Its version when read.
    pub version: i64,
}

/// The clock to read with: the repository's (UTC, to the microsecond), so a row this
/// side finds due is also due when the command about it is decided a moment later.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Images in saving, uploading or importing, or active (or deactivated) ones being
/// copied, whose
/// `lease_expires_at` is before `now`.
pub async fn stale_leases(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<StaleLease>, DbError> {
    // The import lock is one property row; the join brings it along in the same read.
    let lock = image_properties::table.on(image_properties::image_id
        .eq(images::id)
        .and(image_properties::name.eq(IMPORT_TASK_PROPERTY)));
    let rows: Vec<(Uuid, i64, String, Option<String>)> = images::table
        .left_join(lock)
        .filter(images::status.eq_any(LEASED))
        .filter(images::lease_expires_at.lt(now))
        .order((images::lease_expires_at.asc(), images::id.asc()))
        .limit(limit)
        .select((
            images::id,
            images::version,
            images::status,
            image_properties::value.nullable(),
        ))
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|(id, version, status, task)| {
            Ok(StaleLease {
                image_id: ImageId::from_uuid(id),
                version,
                status: status_of(status)?,
                // A lock that does not parse names no task to fail; the janitor skips
                // such an image (and says so) rather than guessing.
                import_task: task.and_then(|t| TaskId::parse(&t).ok()),
            })
        })
        .collect()
}

/// Tasks not yet deleted whose `expires_at` is before `now`.
pub async fn expired_tasks(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Due<TaskId>>, DbError> {
    let rows: Vec<(Uuid, i64)> = tasks::table
        .filter(tasks::deleted.eq(false))
        .filter(tasks::expires_at.lt(now))
        .order((tasks::expires_at.asc(), tasks::id.asc()))
        .limit(limit)
        .select((tasks::id, tasks::version))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, version)| Due {
            id: TaskId::from_uuid(id),
            version,
        })
        .collect())
}

/// Images in pending_delete deleted more than `scrub_time` before `now`.
pub async fn scrubbable_images(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    scrub_time: Duration,
    limit: i64,
) -> Result<Vec<Due<ImageId>>, DbError> {
    // deleted_at + scrub_time < now, written so the column stays bare for the planner.
    let cutoff = now - scrub_time;
    let rows: Vec<(Uuid, i64)> = images::table
        .filter(images::status.eq(ImageStatus::PendingDelete.as_str()))
        .filter(images::deleted_at.lt(cutoff))
        .order((images::deleted_at.asc(), images::id.asc()))
        .limit(limit)
        .select((images::id, images::version))
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(id, version)| Due {
            id: ImageId::from_uuid(id),
            version,
        })
        .collect())
}

/// A stored status; the table's CHECK constraint makes a failure a sign of drift.
fn status_of(text: String) -> Result<ImageStatus, DbError> {
    serde_json::from_value(serde_json::Value::String(text)).map_err(|source| DbError::Corrupt {
        what: "image status",
        source,
    })
}

/// Deletes at most `limit` rows of `processed_commands` recorded more than `retention`
/// ago by the database's clock, oldest first, in one statement (its own transaction);
/// returns how many went. A bounded batch keeps each statement short on a large table
/// (the `created_at` index finds the batch without a scan), so it never holds up the
/// commands being recorded.
pub async fn prune_processed(
    conn: &mut AsyncPgConnection,
    retention: std::time::Duration,
    limit: i64,
) -> Result<usize, DbError> {
    let seconds = retention.as_secs_f64();
    let deleted = db::cached_sql::cached_sql(
        "DELETE FROM processed_commands WHERE command_id IN (
             SELECT command_id FROM processed_commands
             WHERE created_at < now() - make_interval(secs => $1)
             ORDER BY created_at LIMIT $2)",
    )
    .bind::<diesel::sql_types::Double, _>(seconds)
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .execute(conn)
    .await?;
    Ok(deleted)
}
