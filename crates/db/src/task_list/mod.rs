//! `GET /v2/tasks` and `GET /v2/images/{id}/tasks`: [`TaskListQuery`] (filters `type` and
//! `status`, one sort key, `limit`, `marker`; the gateway parses it), [`list_tasks`]
//! (admins and the service see every task that is not purged, others their project's)
//! and [`image_tasks`], each one SQL statement.

use diesel::QueryableByName;
use diesel::sql_types::{Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::DbError;
use super::document::decode;
use crate::list::{
    BindValue, ListReadError, PageLimits, PageRow, SortDir, SqlBuilder, push_page_row, spelled,
};
use domain::status::{TaskStatus, TaskType};
use domain::{Actor, ImageId, Task, TaskId};

#[cfg(test)]
mod tests;

spelled!(
    /// A column tasks may be sorted by, by its API spelling.
    TaskSortKey, "sort_key" {
        /// `id`.
        Id => "id",
        /// `type` (column `task_type`).
        Type => "type",
        /// `status`.
        Status => "status",
        /// `created_at` (the default).
        CreatedAt => "created_at",
        /// `updated_at`.
        UpdatedAt => "updated_at",
    }
);

impl TaskSortKey {
    /// The column (none is nullable).
    pub const fn column(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Type => "task_type",
            Self::Status => "status",
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
        }
    }
}

/// A validated `GET /v2/tasks` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskListQuery {
    /// Only tasks of this type.
    pub task_type: Option<TaskType>,
    /// Only tasks in this status.
    pub status: Option<TaskStatus>,
    /// The order; `created_at` and `id` follow as tie-breakers in the same direction.
    pub sort_key: TaskSortKey,
    /// The direction (desc by default).
    pub sort_dir: SortDir,
    /// Page size, already capped; 0 gives an empty page.
    pub limit: u32,
    /// Start after this task.
    pub marker: Option<TaskId>,
}

impl Default for TaskListQuery {
    /// Newest first, 25 per page.
    fn default() -> Self {
        Self {
            task_type: None,
            status: None,
            sort_key: TaskSortKey::CreatedAt,
            sort_dir: SortDir::Desc,
            limit: PageLimits::default().default_limit,
            marker: None,
        }
    }
}

impl TaskListQuery {
    /// The sort key followed by the tie-breakers `created_at` and `id`.
    fn order(&self) -> Vec<&'static str> {
        let mut order = vec![self.sort_key.column()];
        for tie in ["created_at", "id"] {
            if !order.contains(&tie) {
                order.push(tie);
            }
        }
        order
    }
}

/// One page of a task list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskPage {
    /// The tasks, in the requested order, at most `limit` of them.
    pub tasks: Vec<Task>,
    /// More tasks follow the last one.
    pub has_more: bool,
}

impl TaskPage {
    /// The marker of the next page, while more may follow.
    pub fn next_marker(&self) -> Option<TaskId> {
        if self.has_more {
            self.tasks.last().map(|task| task.id)
        } else {
            None
        }
    }
}

fn task_list_sql(actor: &Actor, query: &TaskListQuery) -> SqlBuilder {
    let mut sql = SqlBuilder::default();
    // Same rule as `policy::can_see_task`: admins and the service see every task.
    let visible = if actor.is_admin() || actor.is_service() {
        "TRUE".to_owned()
    } else {
        let project = sql.bind(BindValue::Text(actor.project_id.clone()));
        let reader = sql.bind(BindValue::Bool(actor.is_reader()));
        format!("(t.owner = {project} AND {reader})")
    };
    let order = query.order();
    let (dir, op) = match query.sort_dir {
        SortDir::Asc => ("ASC", ">"),
        SortDir::Desc => ("DESC", "<"),
    };
    let order_by: Vec<String> = order.iter().map(|c| format!("t.{c} {dir}")).collect();
    let order_by = order_by.join(", ");
    sql.push("WITH ");
    if let Some(marker) = query.marker {
        let id = sql.bind(BindValue::Uuid(marker.as_uuid()));
        sql.push(&format!(
            "marker AS (SELECT t.* FROM tasks t WHERE t.id = {id} AND NOT t.deleted AND {visible}), "
        ));
    }
    sql.push("page AS (SELECT t.* FROM tasks t");
    if query.marker.is_some() {
        sql.push(", marker m");
    }
    sql.push(" WHERE NOT t.deleted AND ").push(&visible);
    if let Some(task_type) = query.task_type {
        sql.push(" AND t.task_type = ");
        sql.push_bind(BindValue::Text(task_type.as_str().to_owned()));
    }
    if let Some(status) = query.status {
        sql.push(" AND t.status = ");
        sql.push_bind(BindValue::Text(status.as_str().to_owned()));
    }
    if query.marker.is_some() {
        // Every sort column is NOT NULL, so a row-value comparison is the keyset.
        let columns = |alias: &str| {
            let cols: Vec<String> = order.iter().map(|c| format!("{alias}.{c}")).collect();
            cols.join(", ")
        };
        sql.push(&format!(" AND ({}) {op} ({})", columns("t"), columns("m")));
    }
    sql.push(&format!(" ORDER BY {order_by} LIMIT "));
    push_page_row(
        &mut sql,
        query.limit,
        query.marker.is_some(),
        "to_jsonb(t)",
        "t",
        &order_by,
    );
    sql
}

/// The page of tasks `actor` may see, in one query. A marker that is not the id of a
/// task the caller may see is [`ListReadError::MarkerNotFound`].
pub async fn list_tasks(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    query: &TaskListQuery,
) -> Result<TaskPage, ListReadError> {
    let row: PageRow = task_list_sql(actor, query)
        .into_query()
        .get_result(conn)
        .await?;
    if let (false, Some(marker)) = (row.marker_found, query.marker) {
        return Err(ListReadError::MarkerNotFound {
            what: "task",
            marker: marker.as_uuid(),
        });
    }
    let mut tasks: Vec<Task> = decode("task", Some(row.documents))?.unwrap_or_default();
    let limit = usize::try_from(query.limit).unwrap_or(usize::MAX);
    let has_more = tasks.len() > limit;
    tasks.truncate(limit);
    Ok(TaskPage { tasks, has_more })
}

#[derive(QueryableByName)]
struct TasksRow {
    #[diesel(sql_type = Jsonb)]
    documents: Value,
}

/// The tasks of one image that are not purged, newest first, in one query. The caller
/// has checked that the image is visible to whoever asks.
pub async fn image_tasks(
    conn: &mut AsyncPgConnection,
    image_id: ImageId,
) -> Result<Vec<Task>, DbError> {
    let row: TasksRow = diesel::sql_query(
        "SELECT COALESCE(jsonb_agg(to_jsonb(t) ORDER BY t.created_at DESC, t.id DESC), \
         '[]'::jsonb) AS documents FROM tasks t WHERE t.image_id = $1 AND NOT t.deleted",
    )
    .bind::<SqlUuid, _>(image_id.as_uuid())
    .get_result(conn)
    .await?;
    Ok(decode("task", Some(row.documents))?.unwrap_or_default())
}
