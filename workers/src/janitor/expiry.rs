//! Task expiry: a task that finished `task_time_to_live` ago (its `expires_at` has
//! passed) is expired, which marks it deleted; it then no longer shows in the tasks API
//! (SPEC 3: "expired tasks are purged"). Its row stays, as Glance's does.

use shared::db::DbError;
use shared::db::sweep;
use shared::domain::Command;
use shared::domain::command::TaskRef;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, send};
use super::{Janitor, Tally};

/// Expires one batch of tasks past `expires_at`.
pub(super) async fn sweep(
    janitor: &Janitor,
    limit: i64,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    let due = {
        let mut conn = janitor
            .repository
            .pool()
            .get()
            .await
            .map_err(DbError::from)?;
        sweep::expired_tasks(&mut conn, sweep::now(), limit).await?
    };
    for task in due {
        if shutdown.is_cancelled() {
            break;
        }
        let name = format!("expire/{}/{}", task.id, task.version);
        let command = Command::ExpireTask(TaskRef { task_id: task.id });
        let sent = send(janitor, &name, command).await?;
        tally.count(sent, |t| &mut t.tasks_expired);
    }
    Ok(())
}
