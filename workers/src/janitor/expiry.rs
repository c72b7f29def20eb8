//! Task expiry: a task that finished `task_time_to_live` ago (its `expires_at` has
//! passed) is expired, which marks it deleted; it then no longer shows in the tasks API
//! (SPEC 3: "expired tasks are purged"). Its row stays, as Glance's does.

use apply::sweep::{Due, expired_tasks, now};
use db::DbError;
use db::pool::PgPooled;
use domain::command::TaskRef;
use domain::{Command, TaskId};

use super::command::{JanitorError, Sent, send};
use super::sweep::Sweep;
use super::{Janitor, Tally};

/// Expires tasks past `expires_at`.
pub(super) struct Expiry;

impl Sweep for Expiry {
    type Row = Due<TaskId>;

    const READING: &'static str = "reading expired tasks";

    fn done(tally: &mut Tally) -> &mut usize {
        &mut tally.tasks_expired
    }

    async fn due(
        _: &Janitor,
        conn: &mut PgPooled,
        limit: i64,
    ) -> Result<Vec<Due<TaskId>>, DbError> {
        expired_tasks(conn, now(), limit).await
    }

    async fn act(janitor: &Janitor, task: &Due<TaskId>) -> Result<Option<Sent>, JanitorError> {
        let name = format!("expire/{}/{}", task.id, task.version);
        let command = Command::ExpireTask(TaskRef { task_id: task.id });
        send(janitor, &name, command).await.map(Some)
    }
}
