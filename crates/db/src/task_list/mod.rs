//! `GET /v2/tasks` and `GET /v2/images/{id}/tasks`: [`TaskListQuery`] (filters `type` and
//! `status`, one sort key, `limit`, `marker`, parsed with Glance's 400s), [`list_tasks`]
//! (admins and the service see every task that is not purged, others their project's)
//! and [`image_tasks`], each one SQL statement.

use diesel::QueryableByName;
use diesel::sql_types::{Jsonb, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use super::DbError;
use super::document::decode;
use super::image_list::{
    BindValue, ListError, ListReadError, PageLimits, SortDir, SqlBuilder, once, parse_limit,
    parse_marker,
};
use domain::status::{TaskStatus, TaskType};
use domain::{Actor, ImageId, Task, TaskId};

#[cfg(test)]
mod tests;

/// A column tasks may be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskSortKey {
    /// `id`.
    Id,
    /// `type` (column `task_type`).
    Type,
    /// `status`.
    Status,
    /// `created_at` (the default).
    CreatedAt,
    /// `updated_at`.
    UpdatedAt,
}

impl TaskSortKey {
    /// Parses an API spelling, or names the accepted ones in a 400.
    pub fn parse(value: &str) -> Result<Self, ListError> {
        match value {
            "id" => Ok(Self::Id),
            "type" => Ok(Self::Type),
            "status" => Ok(Self::Status),
            "created_at" => Ok(Self::CreatedAt),
            "updated_at" => Ok(Self::UpdatedAt),
            _ => Err(ListError::invalid(
                "sort_key",
                value,
                "expected one of id, type, status, created_at, updated_at",
            )),
        }
    }

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
    /// Parses query-string pairs with the default page limits.
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, ListError> {
        Self::from_pairs_with(pairs, PageLimits::default())
    }

    /// Parses query-string pairs. Unlike Glance, which ignores unknown parameters, an
    /// unknown one is a 400: silently ignoring a misspelt filter would list too much.
    pub fn from_pairs_with(
        pairs: &[(String, String)],
        limits: PageLimits,
    ) -> Result<Self, ListError> {
        let mut q = Self::default();
        let (mut task_type, mut status, mut sort_key, mut sort_dir) = (None, None, None, None);
        let (mut limit, mut marker) = (None, None);
        for (key, value) in pairs {
            let key = key.as_str();
            let refuse = |e: domain::status::UnknownValue| {
                ListError::invalid(
                    key,
                    value,
                    format!("expected one of {}", e.allowed.join(", ")),
                )
            };
            match key {
                "type" => once(&mut task_type, key, value.parse().map_err(refuse)?)?,
                "status" => once(&mut status, key, value.parse().map_err(refuse)?)?,
                "sort_key" => once(&mut sort_key, key, TaskSortKey::parse(value.trim())?)?,
                "sort_dir" => once(&mut sort_dir, key, SortDir::parse(key, value.trim())?)?,
                "limit" => once(&mut limit, key, parse_limit(value, limits)?)?,
                "marker" => once(&mut marker, key, TaskId::from_uuid(parse_marker(value)?))?,
                _ => {
                    return Err(ListError::Conflict(format!(
                        "Unknown parameter '{key}': tasks are listed with type, status, \
                         sort_key, sort_dir, limit and marker."
                    )));
                }
            }
        }
        q.task_type = task_type;
        q.status = status;
        q.sort_key = sort_key.unwrap_or(q.sort_key);
        q.sort_dir = sort_dir.unwrap_or(q.sort_dir);
        q.limit = limit.unwrap_or(limits.default_limit.min(limits.max_limit));
        q.marker = marker;
        Ok(q)
    }

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
    sql.push_bind(BindValue::BigInt(i64::from(query.limit) + 1));
    let marker_found = if query.marker.is_some() {
        "EXISTS (SELECT 1 FROM marker)"
    } else {
        "TRUE"
    };
    sql.push(&format!(
        ") SELECT {marker_found} AS marker_found, COALESCE((SELECT jsonb_agg(to_jsonb(t) \
         ORDER BY {order_by}) FROM page t), '[]'::jsonb) AS documents"
    ));
    sql
}

/// The page of tasks `actor` may see, in one query. A marker that is not the id of a
/// task the caller may see is [`ListError::MarkerNotFound`].
pub async fn list_tasks(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    query: &TaskListQuery,
) -> Result<TaskPage, ListReadError> {
    let row: super::image_list::PageRow = task_list_sql(actor, query)
        .into_query()
        .get_result(conn)
        .await?;
    if let (false, Some(marker)) = (row.marker_found, query.marker) {
        return Err(ListError::MarkerNotFound {
            what: "task",
            marker: marker.as_uuid(),
        }
        .into());
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
