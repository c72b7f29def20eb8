//! The writes of an accepted command, each one statement: the image row and whichever
//! child collections changed (data-modifying CTEs gated on the versioned UPDATE, so a
//! lost race writes nothing), the task row, and the events together with the
//! `processed_commands` row (or, for a refused command, that row alone with its
//! refusal).

use db::cached_sql::cached_sql;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use db::DbError;
use domain::{Image, Task};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct RecordedRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Bool)]
    late: bool,
}

/// How recording a command went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Its row (and events) are written: commit.
    Written,
    /// Its id was recorded meanwhile by a concurrent delivery: roll back and answer
    /// from that record instead.
    Taken,
    /// Written, but the command's deadline has passed by the database's clock: roll
    /// back (the command must not be applied) and record it as expired instead.
    Late,
}

/// Where a record may replace an existing one: only over an `expired` record, which
/// applied nothing, and only for a delivery still within its own deadline (a producer
/// that retried under the same command id with a new deadline).
const OVER_EXPIRED: &str = "ON CONFLICT (command_id) DO UPDATE SET
                 aggregate_id = EXCLUDED.aggregate_id, command_type = EXCLUDED.command_type,
                 result = EXCLUDED.result, rejection = EXCLUDED.rejection, created_at = now()
             WHERE processed_commands.rejection->>'kind' = 'expired'";

/// The collections of `after` that differ from `before`, as JSON (null when unchanged),
/// so the statement touches only the child tables that changed.
fn changed<T: serde::Serialize + PartialEq>(
    before: Option<&T>,
    after: &T,
) -> Result<Option<Value>, DbError> {
    if before == Some(after) {
        return Ok(None);
    }
    serde_json::to_value(after)
        .map(Some)
        .map_err(|source| DbError::Corrupt {
            what: "image",
            source,
        })
}

/// Child-table statements shared by the insert and the update: each runs only when its
/// collection changed, and only for the row `written` returned.
const CHILDREN: &str = r#"
tags_gone AS (
    DELETE FROM image_tags t USING written w
    WHERE $3::jsonb IS NOT NULL AND t.image_id = w.id AND NOT ($3::jsonb ? t.tag)),
tags_new AS (
    INSERT INTO image_tags (image_id, tag)
    SELECT w.id, x FROM written w, jsonb_array_elements_text($3::jsonb) AS x
    WHERE $3::jsonb IS NOT NULL
    ON CONFLICT DO NOTHING),
props_gone AS (
    DELETE FROM image_properties p USING written w
    WHERE $4::jsonb IS NOT NULL AND p.image_id = w.id AND NOT ($4::jsonb ? p.name)),
props_set AS (
    INSERT INTO image_properties (image_id, name, value)
    SELECT w.id, kv.key, kv.value FROM written w, jsonb_each_text($4::jsonb) AS kv
    WHERE $4::jsonb IS NOT NULL
    ON CONFLICT (image_id, name) DO UPDATE SET value = EXCLUDED.value
    WHERE image_properties.value IS DISTINCT FROM EXCLUDED.value),
members_gone AS (
    DELETE FROM image_members m USING written w
    WHERE $5::jsonb IS NOT NULL AND m.image_id = w.id
      AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements($5::jsonb) e WHERE e->>'member_id' = m.member)),
members_set AS (
    INSERT INTO image_members (image_id, member, status, created_at, updated_at)
    SELECT w.id, r.member_id, r.status, r.created_at, r.updated_at
    FROM written w, jsonb_to_recordset($5::jsonb)
         AS r(member_id text, status text, created_at timestamptz, updated_at timestamptz)
    WHERE $5::jsonb IS NOT NULL
    ON CONFLICT (image_id, member) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at
    WHERE (image_members.status, image_members.updated_at)
          IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.updated_at))
SELECT count(*) AS n FROM written"#;

/// Writes `after`: inserts it when `before` is none, else updates the row only if it is
/// still at `before.version`. Returns false when the row was not written (another
/// command won the race, or the id was taken meanwhile): the caller re-reads and decides
/// again.
pub async fn write_image(
    conn: &mut AsyncPgConnection,
    before: Option<&Image>,
    after: &Image,
) -> Result<bool, DbError> {
    let document = serde_json::to_value(after).map_err(|source| DbError::Corrupt {
        what: "image",
        source,
    })?;
    let written = match before {
        None => {
            "written AS (
            INSERT INTO images SELECT * FROM jsonb_populate_record(NULL::images, $1)
            ON CONFLICT (id) DO NOTHING RETURNING id)"
        }
        Some(_) => {
            "written AS (
            UPDATE images AS i SET
                version = i.version + 1, status = n.status, name = n.name,
                visibility = n.visibility, protected = n.protected, os_hidden = n.os_hidden,
                owner = n.owner, checksum = n.checksum, os_hash_algo = n.os_hash_algo,
                os_hash_value = n.os_hash_value, size = n.size, virtual_size = n.virtual_size,
                min_disk = n.min_disk, min_ram = n.min_ram, disk_format = n.disk_format,
                container_format = n.container_format, updated_at = n.updated_at,
                deleted_at = n.deleted_at, lease_expires_at = n.lease_expires_at,
                stores = n.stores
            FROM jsonb_populate_record(NULL::images, $1) AS n
            WHERE i.id = n.id AND i.version = $2
            RETURNING i.id)"
        }
    };
    let sql = format!("WITH {written},{CHILDREN}");
    let count: Count = cached_sql(sql)
        .bind::<Jsonb, _>(document)
        .bind::<BigInt, _>(before.map_or(0, |b| b.version))
        .bind::<Nullable<Jsonb>, _>(changed(before.map(|b| &b.tags), &after.tags)?)
        .bind::<Nullable<Jsonb>, _>(changed(before.map(|b| &b.properties), &after.properties)?)
        .bind::<Nullable<Jsonb>, _>(changed(before.map(|b| &b.members), &after.members)?)
        .get_result(conn)
        .await?;
    if count.n == 0 {
        return Ok(false);
    }
    // A new image without locations has none to rewrite: two round trips saved per create.
    let new_without_locations = before.is_none() && after.locations.is_empty();
    if !new_without_locations
        && let Some(locations) = changed(before.map(|b| &b.locations), &after.locations)?
    {
        // Locations move positions when one is removed, which a single statement of
        // sibling CTEs cannot do without tripping the (image_id, url) key: rewrite them
        // in a statement of their own. It is rare (location changes only).
        cached_sql("DELETE FROM image_locations WHERE image_id = $1")
            .bind::<SqlUuid, _>(after.id.as_uuid())
            .execute(conn)
            .await?;
        cached_sql(
            "INSERT INTO image_locations (image_id, position, url, metadata)
             SELECT $1, (e.ord - 1)::integer, e.loc->>'url', COALESCE(e.loc->'metadata', '{}'::jsonb)
             FROM jsonb_array_elements($2) WITH ORDINALITY AS e(loc, ord)",
        )
        .bind::<SqlUuid, _>(after.id.as_uuid())
        .bind::<Jsonb, _>(locations)
        .execute(conn)
        .await?;
    }
    Ok(true)
}

/// Writes a task like [`write_image`]: insert when new, else a versioned update.
pub async fn write_task(
    conn: &mut AsyncPgConnection,
    before: Option<&Task>,
    after: &Task,
) -> Result<bool, DbError> {
    let document = serde_json::to_value(after).map_err(|source| DbError::Corrupt {
        what: "task",
        source,
    })?;
    let sql = match before {
        None => {
            "INSERT INTO tasks SELECT * FROM jsonb_populate_record(NULL::tasks, $1)
                 ON CONFLICT (id) DO NOTHING"
        }
        Some(_) => {
            "UPDATE tasks AS t SET
                        version = t.version + 1, status = n.status, result = n.result,
                        message = n.message, image_id = n.image_id, expires_at = n.expires_at,
                        updated_at = n.updated_at, deleted = n.deleted, deleted_at = n.deleted_at
                    FROM jsonb_populate_record(NULL::tasks, $1) AS n
                    WHERE t.id = n.id AND t.version = $2"
        }
    };
    let rows = cached_sql(sql)
        .bind::<Jsonb, _>(document)
        .bind::<BigInt, _>(before.map_or(0, |b| b.version))
        .execute(conn)
        .await?;
    Ok(rows == 1)
}

/// One row of the outbox, as the repository prepared it.
#[derive(Debug, serde::Serialize)]
pub struct EventRow {
    /// UUIDv7, minted by the repository.
    pub event_id: uuid::Uuid,
    /// `image` or `task`.
    pub aggregate_type: &'static str,
    /// The changed aggregate.
    pub aggregate_id: uuid::Uuid,
    /// Its version after the change.
    pub version: i64,
    /// e.g. `image.deactivated`.
    pub event_type: String,
    /// Status before.
    pub from_status: Option<&'static str>,
    /// Status after.
    pub to_status: &'static str,
    /// Topic routing key.
    pub routing_key: String,
    /// The aggregate after the change.
    pub snapshot: Value,
    /// When the command was applied.
    pub occurred_at: chrono::DateTime<chrono::Utc>,
}

/// What identifies a command in `processed_commands` and on its events.
pub struct CommandRecord<'a> {
    /// The command id.
    pub command_id: uuid::Uuid,
    /// The aggregate it is filed under.
    pub aggregate_id: uuid::Uuid,
    /// Its `type`.
    pub command_type: &'static str,
    /// The request it came from.
    pub correlation_id: Option<&'a str>,
    /// The W3C `traceparent` of the span that applied it, stored with its events.
    pub traceparent: Option<String>,
    /// Who sent it.
    pub actor: Value,
}

/// Records the command as processed with `result`, and appends its events, in one
/// statement, the last before the commit: it also reads the database's clock against
/// `deadline`, so a command is never committed after its deadline however slow the
/// statements before were.
pub async fn record(
    conn: &mut AsyncPgConnection,
    command: &CommandRecord<'_>,
    result: &Value,
    events: &[EventRow],
    deadline: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Recorded, DbError> {
    let events = serde_json::to_value(events).map_err(|source| DbError::Corrupt {
        what: "event",
        source,
    })?;
    let sql = format!(
        "WITH processed AS (
             INSERT INTO processed_commands (command_id, aggregate_id, command_type, result)
             VALUES ($1, $2, $3, $4)
             {OVER_EXPIRED}
             RETURNING command_id),
         recorded AS (
             INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type,
                                 from_status, to_status, routing_key, command_id,
                                 correlation_id, actor, snapshot, occurred_at, traceparent)
             SELECT e.event_id, e.aggregate_type, e.aggregate_id, e.version, e.event_type,
                    e.from_status, e.to_status, e.routing_key, p.command_id,
                    $6, $7, e.snapshot, e.occurred_at, $8
             FROM processed p,
                  jsonb_to_recordset($5) AS e(event_id uuid, aggregate_type text, aggregate_id uuid,
                      version bigint, event_type text, from_status text, to_status text,
                      routing_key text, snapshot jsonb, occurred_at timestamptz))
         SELECT count(*) AS n, COALESCE(clock_timestamp() > $9, false) AS late FROM processed"
    );
    let row: RecordedRow = cached_sql(sql)
        .bind::<SqlUuid, _>(command.command_id)
        .bind::<SqlUuid, _>(command.aggregate_id)
        .bind::<Text, _>(command.command_type)
        .bind::<Jsonb, _>(result)
        .bind::<Jsonb, _>(events)
        .bind::<Nullable<Text>, _>(command.correlation_id)
        .bind::<Jsonb, _>(&command.actor)
        .bind::<Nullable<Text>, _>(command.traceparent.as_deref())
        .bind::<Nullable<Timestamptz>, _>(deadline)
        .get_result(conn)
        .await?;
    Ok(match (row.n, row.late) {
        (0, _) => Recorded::Taken,
        (_, true) => Recorded::Late,
        (_, false) => Recorded::Written,
    })
}

/// Records the command as refused with `rejection` (`{"kind", "message"}`): nothing
/// else is written, and the caller commits this row alone, so a redelivery or a
/// replay of the command is answered with the same refusal. Returns false when the
/// command id was recorded meanwhile (and not as expired): answer from that record.
pub async fn record_refusal(
    conn: &mut AsyncPgConnection,
    command: &CommandRecord<'_>,
    rejection: &Value,
) -> Result<bool, DbError> {
    let sql = format!(
        "INSERT INTO processed_commands (command_id, aggregate_id, command_type, rejection)
         VALUES ($1, $2, $3, $4)
         {OVER_EXPIRED}"
    );
    let rows = cached_sql(sql)
        .bind::<SqlUuid, _>(command.command_id)
        .bind::<SqlUuid, _>(command.aggregate_id)
        .bind::<Text, _>(command.command_type)
        .bind::<Jsonb, _>(rejection)
        .execute(conn)
        .await?;
    Ok(rows == 1)
}
