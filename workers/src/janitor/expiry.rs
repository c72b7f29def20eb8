//! Task expiry: a task that finished `task_time_to_live` ago (its `expires_at` has
//! passed) is expired, which marks it deleted; it then no longer shows in the tasks API
//! (SPEC 3: "expired tasks are purged"). Its row stays, as Glance's does.

use apply::sweep;
use domain::Command;
use domain::command::TaskRef;
use tokio_util::sync::CancellationToken;

use super::command::{JanitorError, read, send};
use super::{Janitor, Tally};

/// Expires one batch of tasks past `expires_at`.
pub(super) async fn sweep(
    janitor: &Janitor,
    limit: i64,
    shutdown: &CancellationToken,
    tally: &mut Tally,
) -> Result<(), JanitorError> {
    let due = read(janitor, "reading expired tasks", async |conn| {
        sweep::expired_tasks(conn, sweep::now(), limit).await
    })
    .await?;
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
