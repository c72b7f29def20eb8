//! The outbox's failure bookkeeping: the relay records each row whose publish failed
//! (the broker nacked it, or it does not encode) and quarantines a row that keeps
//! failing; operators list quarantined rows and release them (`imagefleet outbox`);
//! the relay's gauges and `imagefleet status` read how many there are and how old the
//! oldest unpublished row is.
//!
//! A row with a failure on record (`last_attempt_at` set) holds back its aggregate:
//! the relay's read ([`super::batch::fetch_unpublished`]) skips every later row of that
//! aggregate until the row is published. A failed row is tried again after the retry
//! delay, doubled for each failure on record; once quarantined it waits for an operator. Every other aggregate flows.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use db::leader::OUTBOX_CHANNEL;

/// One failed publish of a row, as the relay records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The row.
    pub seq: i64,
    /// Why it failed, shown by `imagefleet outbox`.
    pub error: String,
    /// True when trying again cannot help (the row does not encode): it is quarantined
    /// at once instead of after the attempts run out.
    pub permanent: bool,
}

#[derive(QueryableByName)]
struct Recorded {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Bool)]
    quarantined: bool,
}

/// Records `failures` in one statement: one more attempt, the error, the time; a row
/// whose attempts reach `max_attempts` (or whose failure is permanent) is quarantined.
/// Returns the `seq` of the rows quarantined now. Rows stamped published meanwhile (a
/// racing former leader) are left alone.
pub async fn record_failures(
    conn: &mut AsyncPgConnection,
    failures: &[Failure],
    max_attempts: u32,
) -> diesel::QueryResult<Vec<i64>> {
    if failures.is_empty() {
        return Ok(Vec::new());
    }
    let seqs: Vec<i64> = failures.iter().map(|f| f.seq).collect();
    let errors: Vec<String> = failures.iter().map(|f| f.error.clone()).collect();
    let permanent: Vec<bool> = failures.iter().map(|f| f.permanent).collect();
    let recorded: Vec<Recorded> = diesel::sql_query(
        "UPDATE events SET publish_attempts = events.publish_attempts + 1, \
         last_error = f.error, last_attempt_at = now(), \
         quarantined_at = CASE WHEN f.permanent OR events.publish_attempts + 1 >= $4 \
                          THEN now() END \
         FROM unnest($1::bigint[], $2::text[], $3::bool[]) AS f(seq, error, permanent) \
         WHERE events.seq = f.seq AND events.published_at IS NULL \
         RETURNING events.seq, events.quarantined_at IS NOT NULL AS quarantined",
    )
    .bind::<Array<BigInt>, _>(seqs)
    .bind::<Array<Text>, _>(errors)
    .bind::<Array<Bool>, _>(permanent)
    .bind::<Integer, _>(i32::try_from(max_attempts).unwrap_or(i32::MAX))
    .load(conn)
    .await?;
    Ok(recorded
        .into_iter()
        .filter(|r| r.quarantined)
        .map(|r| r.seq)
        .collect())
}

/// A quarantined row, as `imagefleet outbox` lists it.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct QuarantinedRow {
    /// The row's insertion order (what `imagefleet outbox retry` takes).
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    /// `image` or `task`.
    #[diesel(sql_type = Text)]
    pub aggregate_type: String,
    /// The image's or task's id.
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub aggregate_id: Uuid,
    /// The aggregate's version the event records.
    #[diesel(sql_type = BigInt)]
    pub version: i64,
    /// e.g. `image.updated`.
    #[diesel(sql_type = Text)]
    pub event_type: String,
    /// Failed publishes so far.
    #[diesel(sql_type = Integer)]
    pub publish_attempts: i32,
    /// Why the latest one failed.
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    /// When the relay gave up on it.
    #[diesel(sql_type = Timestamptz)]
    pub quarantined_at: DateTime<Utc>,
    /// Later unpublished rows of the same aggregate, held back behind this one.
    #[diesel(sql_type = BigInt)]
    pub held_back: i64,
}

/// Up to `limit` quarantined rows, in `seq` order.
pub async fn list_quarantined(
    conn: &mut AsyncPgConnection,
    limit: i64,
) -> diesel::QueryResult<Vec<QuarantinedRow>> {
    diesel::sql_query(
        "SELECT e.seq, e.aggregate_type, e.aggregate_id, e.version, e.event_type, \
         e.publish_attempts, e.last_error, e.quarantined_at, \
         (SELECT count(*) FROM events l WHERE l.aggregate_id = e.aggregate_id \
          AND l.seq > e.seq AND l.published_at IS NULL) AS held_back \
         FROM events e \
         WHERE e.published_at IS NULL AND e.last_attempt_at IS NOT NULL \
         AND e.quarantined_at IS NOT NULL \
         ORDER BY e.seq LIMIT $1",
    )
    .bind::<BigInt, _>(limit)
    .load(conn)
    .await
}

/// Which quarantined rows [`release`] lets go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// Every quarantined row.
    All,
    /// These rows; each must be quarantined.
    Seqs(Vec<i64>),
}

/// Why [`release`] changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Some of the named rows are not quarantined (unknown, published, or never
    /// failed); none was released.
    #[error("not quarantined (unknown, already published, or not failing): {}", list(.0))]
    NotQuarantined(Vec<i64>),
    /// The statement failed.
    #[error("outbox query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

fn list(seqs: &[i64]) -> String {
    seqs.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(QueryableByName)]
struct Released {
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// Releases quarantined rows so the relay tries them again, each with a clean count
/// of attempts (the last error stays on record), in one transaction that also wakes
/// the relay. Their aggregates' later rows follow them, in order. All or nothing: a
/// named row that is not quarantined releases none. Returns the released `seq`s.
pub async fn release(
    conn: &mut AsyncPgConnection,
    which: &Release,
) -> Result<Vec<i64>, ReleaseError> {
    let (all, named) = match which {
        Release::All => (true, Vec::new()),
        Release::Seqs(seqs) => (false, seqs.clone()),
    };
    conn.transaction(async |conn| {
        let released: Vec<Released> = diesel::sql_query(
            "UPDATE events SET quarantined_at = NULL, publish_attempts = 0, \
             last_attempt_at = NULL \
             WHERE published_at IS NULL AND quarantined_at IS NOT NULL \
             AND ($1 OR seq = ANY($2)) RETURNING seq",
        )
        .bind::<Bool, _>(all)
        .bind::<Array<BigInt>, _>(&named)
        .load(conn)
        .await?;
        let mut released: Vec<i64> = released.into_iter().map(|r| r.seq).collect();
        released.sort_unstable();
        let missing: Vec<i64> = named
            .iter()
            .copied()
            .filter(|seq| released.binary_search(seq).is_err())
            .collect();
        if !missing.is_empty() {
            return Err(ReleaseError::NotQuarantined(missing));
        }
        if !released.is_empty() {
            diesel::sql_query(format!("NOTIFY {OUTBOX_CHANNEL}"))
                .execute(conn)
                .await?;
        }
        Ok(released)
    })
    .await
}

/// The outbox's health at a glance.
#[derive(Debug, Clone, Copy, PartialEq, QueryableByName)]
pub struct OutboxStats {
    /// Rows quarantined and not published.
    #[diesel(sql_type = BigInt)]
    pub quarantined: i64,
    /// Age in seconds, by the database's clock, of the first unpublished row in `seq`
    /// order (held back or not); None when every row is published.
    #[diesel(sql_type = Nullable<Double>)]
    pub oldest_unpublished_age: Option<f64>,
}

/// Reads [`OutboxStats`] in one statement over the two partial indexes (never a scan
/// of the unpublished tail).
pub async fn stats(conn: &mut AsyncPgConnection) -> diesel::QueryResult<OutboxStats> {
    diesel::sql_query(
        "SELECT (SELECT count(*) FROM events WHERE published_at IS NULL \
                 AND last_attempt_at IS NOT NULL AND quarantined_at IS NOT NULL) \
                AS quarantined, \
                (SELECT EXTRACT(EPOCH FROM (now() - occurred_at))::float8 FROM events \
                 WHERE published_at IS NULL ORDER BY seq LIMIT 1) AS oldest_unpublished_age",
    )
    .get_result(conn)
    .await
}

/// The unpublished tail as `imagefleet status` shows it.
#[derive(Debug, Clone, Copy, PartialEq, QueryableByName)]
pub struct OutboxTail {
    /// Rows not yet confirmed by the broker.
    #[diesel(sql_type = BigInt)]
    pub unpublished: i64,
    /// Age in seconds of the oldest of them, by the database's clock; None when there
    /// are none.
    #[diesel(sql_type = Nullable<Double>)]
    pub oldest_age: Option<f64>,
    /// How many of them are quarantined.
    #[diesel(sql_type = BigInt)]
    pub quarantined: i64,
}

/// Reads [`OutboxTail`] in one statement over the partial index of unpublished rows
/// (`events_unpublished_seq_idx`).
pub async fn tail(conn: &mut AsyncPgConnection) -> diesel::QueryResult<OutboxTail> {
    diesel::sql_query(
        "SELECT count(*) AS unpublished, \
         EXTRACT(EPOCH FROM (now() - min(occurred_at)))::float8 AS oldest_age, \
         count(*) FILTER (WHERE quarantined_at IS NOT NULL) AS quarantined \
         FROM events WHERE published_at IS NULL",
    )
    .get_result(conn)
    .await
}
