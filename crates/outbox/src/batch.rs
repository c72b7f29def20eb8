//! The relay's statements on the `events` table: read the oldest unpublished rows that
//! may go out in `seq` order, turn a row into the [`EventEnvelope`] subscribers receive, and stamp a
//! confirmed batch as published in one statement. Also the reasoning for why reading in
//! `seq` order publishes each aggregate's events in version order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use lapin::BasicProperties;
use uuid::Uuid;

use bus::headers;
use db::schema::events;
use wire::{EVENT_SCHEMA_V1, EventEnvelope, TraceContext};

/// AMQP short strings (such as the correlation id property) hold at most this many bytes.
const MAX_SHORT_STRING: usize = 255;

/// One unpublished row of the outbox, as the relay reads it.
#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = events)]
#[diesel(check_for_backend(diesel::pg::Pg))]
pub struct OutboxRow {
    /// Insertion order.
    pub seq: i64,
    /// The event's id; the AMQP `message_id`.
    pub event_id: Uuid,
    /// `image` or `task`.
    pub aggregate_type: String,
    /// The image's or task's id.
    pub aggregate_id: Uuid,
    /// The aggregate's version after the change.
    pub version: i64,
    /// e.g. `image.updated`.
    pub event_type: String,
    /// Status before (none for a creation).
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// The topic routing key to publish with.
    pub routing_key: String,
    /// The command that caused the event.
    pub command_id: Uuid,
    /// The request that caused the command.
    pub correlation_id: Option<String>,
    /// Who sent the command, as stored.
    pub actor: serde_json::Value,
    /// The aggregate after the change.
    pub snapshot: serde_json::Value,
    /// When the change was committed.
    pub occurred_at: DateTime<Utc>,
    /// The W3C `traceparent` of the span that wrote the event, when it had one.
    pub traceparent: Option<String>,
}

impl OutboxRow {
    /// The envelope to publish. Fails only if the stored actor does not decode, which
    /// the repository never writes: such a row is a hand edit (or written by a newer
    /// release) and is quarantined rather than published.
    pub fn envelope(&self) -> Result<EventEnvelope, serde_json::Error> {
        Ok(EventEnvelope {
            schema: EVENT_SCHEMA_V1.to_owned(),
            event_id: self.event_id,
            occurred_at: self.occurred_at,
            aggregate: self.aggregate_type.clone(),
            id: self.aggregate_id,
            version: self.version,
            event_type: self.event_type.clone(),
            from_status: self.from_status.clone(),
            to_status: self.to_status.clone(),
            command_id: self.command_id,
            correlation_id: self.correlation_id.clone(),
            actor: serde_json::from_value(self.actor.clone())?,
            snapshot: self.snapshot.clone(),
        })
    }

    /// The message body: the envelope as JSON.
    pub fn body(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(&self.envelope()?)
    }

    /// The stored trace context; None when there is none or it does not parse (a
    /// hand-edited row is published without one rather than not at all).
    pub fn trace(&self) -> Option<TraceContext> {
        self.traceparent
            .as_deref()
            .and_then(|value| TraceContext::parse(value).ok())
    }

    /// Persistent, JSON, `message_id` = event id, `type` = event type, `timestamp` =
    /// when it happened, the request's correlation id (when it fits an AMQP short
    /// string; the body carries it regardless), and `trace` as the `traceparent` header.
    pub fn properties(&self, trace: Option<&TraceContext>) -> BasicProperties {
        let mut properties = BasicProperties::default()
            .with_message_id(self.event_id.to_string().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_type(self.event_type.as_str().into())
            .with_timestamp(u64::try_from(self.occurred_at.timestamp()).unwrap_or(0));
        if let Some(correlation_id) = &self.correlation_id
            && correlation_id.len() <= MAX_SHORT_STRING
        {
            properties = properties.with_correlation_id(correlation_id.as_str().into());
        }
        match trace {
            Some(context) => headers::with_traceparent(properties, context),
            None => properties,
        }
    }
}

/// The oldest `limit` unpublished rows that may go out now, in `seq` order: a row is
/// left out while it is quarantined or waits after a failed publish (`retry_delay`,
/// doubled for each failure on record, at most `max_retry_delay`), and
/// so is every later row of an aggregate with an earlier row that has a failure on
/// record (see [`super::quarantine`]). One statement, filtered in SQL, so however many
/// failing rows sit at the head of the outbox the batch fills with rows that can move.
///
/// Why `seq` order is version order per aggregate, although `seq` is taken at insert
/// and transactions commit in any order (so a row with a lower `seq` can become
/// visible after a higher one was already published):
///
/// - Every change of an aggregate is a versioned write (`UPDATE .. WHERE version = n`,
///   or the insert of version 1) in the same transaction as its event. The writer of
///   version n+1 read version n, so version n had committed before that transaction
///   even began its insert: its `seq` is drawn later (the identity sequence has the
///   default cache of 1, so values are handed out in time order across sessions).
///   For one aggregate, `seq` order is version order and commit order.
/// - Hence whenever version n+1 is visible to this query, version n is visible too:
///   either it was published already, or it is unpublished with a lower `seq` and
///   sorts (and fits under the `LIMIT`) before n+1, or it has a failure on record
///   and n+1 is left out with it. Per aggregate the read returns a prefix of its
///   unpublished rows.
/// - A late-committing row of *another* aggregate with a lower `seq` is not skipped:
///   there is no high-water mark, every read starts again from the unpublished tail
///   (the partial index `events_unpublished_seq_idx` keeps that cheap; the held-back
///   probe uses `events_held_aggregate_seq_idx`, which holds only failing rows).
///
/// [`crate::publish`] then sends a batch in waves, an aggregate's next row
/// only once the broker confirmed the one before.
pub async fn fetch_unpublished(
    conn: &mut AsyncPgConnection,
    limit: u32,
    retry_delay: Duration,
    max_retry_delay: Duration,
) -> QueryResult<Vec<OutboxRow>> {
    diesel::sql_query(
        "SELECT e.seq, e.event_id, e.aggregate_type, e.aggregate_id, e.version, \
         e.event_type, e.from_status, e.to_status, e.routing_key, e.command_id, \
         e.correlation_id, e.actor, e.snapshot, e.occurred_at, e.traceparent \
         FROM events e \
         WHERE e.published_at IS NULL AND e.quarantined_at IS NULL \
         AND (e.last_attempt_at IS NULL \
              OR e.last_attempt_at <= now() - make_interval(secs => \
                 least($2 * power(2, least(greatest(e.publish_attempts - 1, 0), 30)), $3))) \
         AND NOT EXISTS (SELECT 1 FROM events h \
              WHERE h.aggregate_id = e.aggregate_id AND h.seq < e.seq \
              AND h.published_at IS NULL AND h.last_attempt_at IS NOT NULL) \
         ORDER BY e.seq LIMIT $1",
    )
    .bind::<BigInt, _>(i64::from(limit))
    .bind::<Double, _>(retry_delay.as_secs_f64())
    .bind::<Double, _>(max_retry_delay.as_secs_f64())
    .load(conn)
    .await
}

/// Stamps the rows `seqs` as published, in one statement (`seq = ANY($1)`). Rows
/// already stamped are left alone: `published_at` is set once (the table's trigger
/// refuses a second stamp), and a relay that lost its lock unknowingly may have raced
/// its successor. Returns how many rows were stamped.
pub async fn mark_published(conn: &mut AsyncPgConnection, seqs: &[i64]) -> QueryResult<usize> {
    if seqs.is_empty() {
        return Ok(0);
    }
    diesel::update(
        events::table
            .filter(events::seq.eq_any(seqs))
            .filter(events::published_at.is_null()),
    )
    .set(events::published_at.eq(diesel::dsl::now))
    .execute(conn)
    .await
}

/// The snapshot `aggregate_id` had at `version`, from its event (the outbox keeps
/// published rows). The relay reads it to tell which member a membership change
/// touched; None when that event is not there.
pub async fn fetch_snapshot(
    conn: &mut AsyncPgConnection,
    aggregate_id: Uuid,
    version: i64,
) -> QueryResult<Option<serde_json::Value>> {
    events::table
        .filter(events::aggregate_id.eq(aggregate_id))
        .filter(events::version.eq(version))
        .select(events::snapshot)
        .first(conn)
        .await
        .optional()
}
