//! Reading the fleet's state for `imagefleet status`: every queue of the topology by a
//! passive declare (which answers depth and consumers and changes nothing), and from
//! Postgres the pending migrations, the outbox's unpublished tail and the sessions
//! holding the leaders' advisory locks. Each side is time-boxed and fails on its own,
//! so an unreachable broker still leaves the database's report, and the reverse.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use lapin::options::QueueDeclareOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{Connection, ErrorKind};
use shared::db::migrate::unapplied_migrations;
use shared::messaging::connection::connect;
use shared::messaging::{Topology, WorkQueue};

use super::report::{
    DatabaseStatus, Holder, Leader, LeaderRole, OutboxStatus, QueueCounts, QueueKind, QueueStatus,
};

/// Reads every queue of `topology`; Err when the broker cannot be reached in `timeout`.
pub async fn queues(
    amqp_url: &str,
    topology: &Topology,
    timeout: Duration,
) -> Result<Vec<QueueStatus>, String> {
    let read = async {
        let connection = connect(amqp_url, "imagefleet-cli-status")
            .await
            .map_err(|e| format!("connecting to RabbitMQ: {e}"))?;
        let found = read_queues(&connection, topology).await;
        // Closing is a courtesy; the answers are in.
        let _ = connection.close(200, "done".into()).await;
        found.map_err(|e| format!("reading queues: {e}"))
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(format!("RabbitMQ gave no answer within {timeout:?}")))
}

/// The queues of `topology` with their part and work queue, in `all_queues` order.
fn named_queues(topology: &Topology) -> Vec<(String, QueueKind, WorkQueue)> {
    let mut names = Vec::new();
    for queue in WorkQueue::ALL {
        names.push((topology.queue(queue), QueueKind::Work, queue));
        names.push((
            topology.dead_letter_queue(queue),
            QueueKind::DeadLetter,
            queue,
        ));
        for step in 0..topology.retry_delays().len() {
            names.push((topology.retry_queue(queue, step), QueueKind::Retry, queue));
        }
    }
    names
}

async fn read_queues(
    connection: &Connection,
    topology: &Topology,
) -> Result<Vec<QueueStatus>, lapin::Error> {
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let mut channel = connection.create_channel().await?;
    let mut found = Vec::new();
    for (name, kind, work_queue) in named_queues(topology) {
        let counts = match channel
            .queue_declare(name.as_str().into(), passive, FieldTable::default())
            .await
        {
            Ok(queue) => Some(QueueCounts {
                messages: queue.message_count(),
                consumers: queue.consumer_count(),
            }),
            Err(error) if is_not_found(&error) => {
                // The broker closes a channel on a failed passive declare.
                channel = connection.create_channel().await?;
                None
            }
            Err(error) => return Err(error),
        };
        let limit = (kind == QueueKind::DeadLetter).then(|| topology.dead_letter_limit());
        found.push(QueueStatus {
            name,
            kind,
            work_queue,
            counts,
            limit,
        });
    }
    // Closed before the connection, so lapin does not log the channel's close racing
    // the connection's as an error.
    channel.close(200, "done".into()).await?;
    Ok(found)
}

fn is_not_found(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::ProtocolError(amqp)
            if amqp.kind() == &AMQPErrorKind::Soft(AMQPSoftError::NOTFOUND)
    )
}

/// Reads the database side; Err when Postgres cannot be reached in `timeout`.
pub async fn database(database_url: &str, timeout: Duration) -> Result<DatabaseStatus, String> {
    let read = async {
        let mut conn = AsyncPgConnection::establish(database_url)
            .await
            .map_err(|e| format!("connecting to Postgres: {e}"))?;
        let pending_migrations = unapplied_migrations(&mut conn).await.map_err(|e| {
            format!(
                "{e} (a database never migrated has no bookkeeping table: run `imagefleet migrate`)"
            )
        });
        let outbox = outbox(&mut conn).await.map_err(|e| e.to_string());
        let leaders = leaders(&mut conn).await.map_err(|e| e.to_string());
        Ok(DatabaseStatus {
            pending_migrations,
            outbox,
            leaders,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(format!("Postgres gave no answer within {timeout:?}")))
}

#[derive(QueryableByName)]
struct Tail {
    #[diesel(sql_type = BigInt)]
    unpublished: i64,
    #[diesel(sql_type = Nullable<Double>)]
    oldest_age: Option<f64>,
}

/// The unpublished rows (the partial index `events_unpublished_seq_idx` covers them)
/// and the oldest one's age by the database's clock, so a worker's skewed clock does
/// not show as lag.
async fn outbox(conn: &mut AsyncPgConnection) -> Result<OutboxStatus, diesel::result::Error> {
    let tail: Tail = diesel::sql_query(
        "SELECT count(*) AS unpublished, \
         EXTRACT(EPOCH FROM (now() - min(occurred_at)))::float8 AS oldest_age \
         FROM events WHERE published_at IS NULL",
    )
    .get_result(conn)
    .await?;
    Ok(OutboxStatus {
        unpublished: tail.unpublished,
        // An event stamped by a clock ahead of the database's has a negative age.
        oldest_age: tail
            .oldest_age
            .map(|secs| Duration::from_secs_f64(secs.max(0.0))),
    })
}

#[derive(QueryableByName)]
struct HolderRow {
    #[diesel(sql_type = Integer)]
    pid: i32,
    #[diesel(sql_type = Text)]
    application_name: String,
    #[diesel(sql_type = Nullable<Text>)]
    client_addr: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    backend_start: Option<DateTime<Utc>>,
}

/// The session holding each role's lock. Advisory locks are per database, and
/// `pg_locks` lists every database's: only this database's count. A bigint key is
/// filed as `classid` (high half) and `objid` (low half), `objsubid` 1.
async fn leaders(conn: &mut AsyncPgConnection) -> Result<Vec<Leader>, diesel::result::Error> {
    let mut leaders = Vec::new();
    for role in LeaderRole::ALL {
        let rows: Vec<HolderRow> = diesel::sql_query(
            "SELECT a.pid, coalesce(a.application_name, '') AS application_name, \
             host(a.client_addr) AS client_addr, a.backend_start \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND ((l.classid::bigint << 32) | l.objid::bigint) = $1 \
             LIMIT 1",
        )
        .bind::<BigInt, _>(role.lock_key())
        .load(conn)
        .await?;
        let holder = rows.into_iter().next().map(|row| Holder {
            pid: row.pid,
            application_name: row.application_name,
            client_addr: row.client_addr,
            backend_start: row.backend_start,
        });
        leaders.push(Leader { role, holder });
    }
    Ok(leaders)
}
