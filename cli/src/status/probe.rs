//! Reading the fleet's state for `imagefleet status`: every queue of the topology by a
//! passive declare (which answers depth and consumers and changes nothing), and from
//! Postgres the pending migrations, the outbox's unpublished tail (and quarantined
//! rows), the sessions
//! holding the leaders' advisory locks and the workers' sessions (which name their
//! operations ports). Each side is time-boxed and fails on its own,
//! so an unreachable broker still leaves the database's report, and the reverse.

use std::time::Duration;

use bus::connection::connect;
use bus::{Topology, WorkQueue};
use db::leader::holder;
use db::migrate::unapplied_migrations;
use db::{AsyncPgConnection, DbError};
use lapin::options::QueueDeclareOptions;
use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
use lapin::types::FieldTable;
use lapin::{Connection, ErrorKind};

use super::report::{
    DatabaseStatus, Leader, LeaderRole, OutboxStatus, QueueCounts, QueueKind, QueueStatus,
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
        let shards = topology.shards(queue);
        for &shard in &shards {
            names.push((topology.shard_queue(shard), QueueKind::Work, queue));
        }
        names.push((
            topology.dead_letter_queue(queue),
            QueueKind::DeadLetter,
            queue,
        ));
        for &shard in &shards {
            for step in 0..topology.retry_delays().len() {
                let name = topology.shard_retry_queue(shard, step);
                names.push((name, QueueKind::Retry, queue));
            }
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
        let mut conn = db::connect(database_url)
            .await
            .map_err(|e| format!("connecting to Postgres: {}", driver_error(e)))?;
        let pending_migrations = unapplied_migrations(&mut conn).await.map_err(|e| {
            format!(
                "{e} (a database never migrated has no bookkeeping table: run `imagefleet migrate`)"
            )
        });
        let outbox = outbox(&mut conn).await.map_err(driver_error);
        let leaders = leaders(&mut conn).await.map_err(driver_error);
        let workers = db::worker_sessions::workers(&mut conn)
            .await
            .map_err(driver_error);
        Ok(DatabaseStatus {
            pending_migrations,
            outbox,
            leaders,
            workers,
        })
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or_else(|_| Err(format!("Postgres gave no answer within {timeout:?}")))
}

/// The driver's own words, without the database layer's prefix: the report says
/// already which side failed.
fn driver_error(error: DbError) -> String {
    match error {
        DbError::Connection(inner) => inner.to_string(),
        DbError::Query(inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// The outbox's unpublished tail, its age by the database's clock (a worker's skewed
/// clock does not show as lag).
async fn outbox(conn: &mut AsyncPgConnection) -> Result<OutboxStatus, DbError> {
    let tail = outbox::quarantine::tail(conn).await?;
    Ok(OutboxStatus {
        unpublished: tail.unpublished,
        // An event stamped by a clock ahead of the database's has a negative age.
        oldest_age: tail
            .oldest_age
            .map(|secs| Duration::from_secs_f64(secs.max(0.0))),
        quarantined: tail.quarantined,
    })
}

/// The session holding each role's lock.
async fn leaders(conn: &mut AsyncPgConnection) -> Result<Vec<Leader>, DbError> {
    let mut leaders = Vec::new();
    for role in LeaderRole::ALL {
        let holder = holder(conn, role.lock_key()).await?;
        leaders.push(Leader { role, holder });
    }
    Ok(leaders)
}
