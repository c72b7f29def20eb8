//! Images and tasks as JSON documents built by Postgres, so that loading an aggregate
//! with all its child rows is one query, and its fields map onto the domain types by
//! name through serde. The repository's load and the gateway's reads share these, and
//! the answer recorded for a command id.

use super::cached_sql::cached_sql;
use chrono::{DateTime, Utc};
use diesel::sql_types::{Integer, Jsonb, Nullable, Timestamptz, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use uuid::Uuid;

use super::DbError;
use domain::{CommandId, Image, Rejection, State, Target, Task};
use wire::CommandResult;

/// A JSON object of image `i` with its tags, properties, members and locations, in the
/// shape of [`Image`]. Tags and members are in byte order (`COLLATE "C"`), as the domain
/// keeps them, so a loaded image compares equal to the one that was written.
pub const IMAGE_DOCUMENT: &str = r#"to_jsonb(i) || jsonb_build_object(
    'tags', COALESCE((SELECT jsonb_agg(t.tag ORDER BY t.tag COLLATE "C")
                      FROM image_tags t WHERE t.image_id = i.id), '[]'::jsonb),
    'properties', COALESCE((SELECT jsonb_object_agg(p.name, p.value)
                            FROM image_properties p WHERE p.image_id = i.id), '{}'::jsonb),
    'members', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                              'member_id', m.member, 'status', m.status,
                              'created_at', m.created_at, 'updated_at', m.updated_at)
                          ORDER BY m.member COLLATE "C")
                         FROM image_members m WHERE m.image_id = i.id), '[]'::jsonb),
    'locations', COALESCE((SELECT jsonb_agg(jsonb_build_object('url', l.url, 'metadata', l.metadata)
                                            ORDER BY l.position)
                           FROM image_locations l WHERE l.image_id = i.id), '[]'::jsonb))"#;

/// Decodes an optional JSON document into its domain type.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    value: Option<Value>,
) -> Result<Option<T>, DbError> {
    value
        .map(|v| serde_json::from_value(v).map_err(|source| DbError::Corrupt { what, source }))
        .transpose()
}

/// The answer recorded for a command id in `processed_commands`.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// It was applied, with this result.
    Applied(Box<CommandResult>),
    /// It was refused (by the domain, for lack of races, or its deadline passed).
    Refused(Rejection),
}

/// A `processed_commands` row's answer columns, as the queries below select them.
#[derive(serde::Deserialize)]
struct StoredAnswer {
    result: Option<CommandResult>,
    rejection: Option<Rejection>,
}

/// The answer columns of `processed_commands` as one JSON object.
const ANSWER: &str = "jsonb_build_object('result', result, 'rejection', rejection)";

fn answer(value: Option<Value>) -> Result<Option<Answer>, DbError> {
    let Some(stored) = decode::<StoredAnswer>("command record", value)? else {
        return Ok(None);
    };
    match (stored.result, stored.rejection) {
        (Some(result), _) => Ok(Some(Answer::Applied(Box::new(result)))),
        (None, Some(rejection)) => Ok(Some(Answer::Refused(rejection))),
        (None, None) => Err(DbError::Corrupt {
            what: "command record",
            source: <serde_json::Error as serde::de::Error>::custom(
                "neither a result nor a rejection",
            ),
        }),
    }
}

/// The answer recorded for `command_id`, if it was processed (within the retention
/// of `processed_commands`).
pub async fn recorded_answer(
    conn: &mut AsyncPgConnection,
    command_id: CommandId,
) -> Result<Option<Answer>, DbError> {
    let sql = format!("SELECT {ANSWER} AS document FROM processed_commands WHERE command_id = $1");
    let row: Option<DocumentRow> = cached_sql(sql)
        .bind::<SqlUuid, _>(command_id.as_uuid())
        .get_result(conn)
        .await
        .optional()?;
    answer(row.map(|r| r.document))
}

/// What one round trip reads before a command is decided.
#[derive(Debug)]
pub struct Loaded {
    /// The stored answer, if this command id was processed before.
    pub processed: Option<Answer>,
    /// The target aggregates as they are now.
    pub state: State,
    /// The database's clock (`clock_timestamp()`, not the transaction's start), which
    /// command deadlines are judged by: one clock for every worker.
    pub db_now: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct LoadedRow {
    #[diesel(sql_type = Nullable<Jsonb>)]
    processed: Option<Value>,
    #[diesel(sql_type = Timestamptz)]
    db_now: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    image: Option<Value>,
    #[diesel(sql_type = Nullable<Jsonb>)]
    task: Option<Value>,
}

/// Reads the stored answer of `command_id`, the aggregates of `target` and the
/// database's clock in one query, which first takes the command's fence key shared
/// (see [`super::fence`]): the first read of every transaction that applies or
/// records a command.
pub async fn load(
    conn: &mut AsyncPgConnection,
    command_id: CommandId,
    target: Target,
) -> Result<Loaded, DbError> {
    let fence = super::fence::shared_lock_item(4);
    let sql = format!(
        "SELECT (SELECT {ANSWER} FROM processed_commands WHERE command_id = $1) AS processed, \
                clock_timestamp() AS db_now, \
                (SELECT {IMAGE_DOCUMENT} FROM images i WHERE i.id = $2) AS image, \
                (SELECT to_jsonb(t) FROM tasks t WHERE t.id = $3) AS task \
         FROM {fence}"
    );
    let (first, second) = super::fence::lock_key(command_id);
    let row: LoadedRow = cached_sql(sql)
        .bind::<SqlUuid, _>(command_id.as_uuid())
        .bind::<Nullable<SqlUuid>, _>(target.image().map(|id| id.as_uuid()))
        .bind::<Nullable<SqlUuid>, _>(target.task().map(|id| id.as_uuid()))
        .bind::<Integer, _>(first)
        .bind::<Integer, _>(second)
        .get_result(conn)
        .await?;
    Ok(Loaded {
        processed: answer(row.processed)?,
        db_now: row.db_now,
        state: State {
            image: decode("image", row.image)?,
            task: decode("task", row.task)?,
        },
    })
}

/// Takes the row locks of `target`'s image and task (those that exist) until the
/// transaction ends, image first, in one statement. A writer that lost a race reads
/// after this, so the versions it reads cannot change before its own write: the
/// pessimistic fallback that bounds how often one command can lose.
pub async fn lock_target(conn: &mut AsyncPgConnection, target: Target) -> Result<(), DbError> {
    cached_sql(
        "SELECT (SELECT count(*) FROM (SELECT 1 FROM images WHERE id = $1 \
                 FOR NO KEY UPDATE) AS i) \
              + (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE id = $2 \
                 FOR NO KEY UPDATE) AS t) AS n",
    )
    .bind::<Nullable<SqlUuid>, _>(target.image().map(|id| id.as_uuid()))
    .bind::<Nullable<SqlUuid>, _>(target.task().map(|id| id.as_uuid()))
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(QueryableByName)]
struct DocumentRow {
    #[diesel(sql_type = Jsonb)]
    document: Value,
}

/// One image by id, whatever its status (callers apply visibility), in one query.
pub async fn image_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Image>, DbError> {
    let sql = format!("SELECT {IMAGE_DOCUMENT} AS document FROM images i WHERE i.id = $1");
    let row: Option<DocumentRow> = cached_sql(sql)
        .bind::<SqlUuid, _>(id)
        .get_result(conn)
        .await
        .optional()?;
    decode("image", row.map(|r| r.document))
}

/// One task by id, in one query.
pub async fn task_by_id(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Task>, DbError> {
    let row: Option<DocumentRow> =
        cached_sql("SELECT to_jsonb(t) AS document FROM tasks t WHERE t.id = $1")
            .bind::<SqlUuid, _>(id)
            .get_result(conn)
            .await
            .optional()?;
    decode("task", row.map(|r| r.document))
}
