//! Outbox order and liveness under rows that cannot be published: a row that does not
//! encode or that the broker nacks holds back its image's later events (a subscriber
//! never sees version n+1 before n, and n+1 is not sent again on every pass) and ends
//! quarantined; hundreds of such rows at the head do not stop other images; `imagefleet
//! outbox retry` releases a row, which then goes out before its image's later events;
//! `imagefleet status` and the relay's gauges report quarantined rows.
//!
//! The rows are written straight into `events` (the repository never writes one that
//! does not encode), as a hand edit or a newer release would. The broker nacks a row by
//! a subscriber queue with `x-max-length-bytes` and `x-overflow: reject-publish`, the
//! only queue bound for it on the test's own topology: the large row is refused, the
//! small ones pass.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::connection::connect;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text};
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb};
use lapin::options::{
    BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use outbox::RelayConfig;
use serde_json::{Value, json};
use uuid::Uuid;
use wire::EventEnvelope;

use super::{DEADLINE, Running};

mod nacked;
mod poisoned_head;
mod release;
mod undecodable;

/// A subscriber's queue refuses a message larger than this (with a nack to the relay).
const QUEUE_BYTES: i64 = 16 * 1024;

/// `(image, version)` of every event a subscriber received, in arrival order.
type Arrivals = Arc<Mutex<Vec<(Uuid, i64)>>>;

/// A subscriber: queues bound with `#` to the test's events exchange, all consumed
/// into one list. Exclusive queues: the broker deletes them with the connection.
struct Subscriber {
    connection: lapin::Connection,
    channel: lapin::Channel,
    prefix: String,
    exchange: String,
    arrivals: Arrivals,
}

impl Subscriber {
    async fn new(bus: &TestBus) -> Self {
        let connection = connect(bus.url(), "imagefleet-test-quarantine")
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        Self {
            connection,
            channel,
            prefix: bus.topology().prefix().to_owned(),
            exchange: bus.topology().events_exchange(),
            arrivals: Arrivals::default(),
        }
    }

    /// Adds queue `name` with `arguments`, bound to every event, consumed into the list.
    async fn queue(&self, name: &str, arguments: FieldTable) -> String {
        let queue = format!("{}.{name}", self.prefix);
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let channel = &self.channel;
        channel
            .queue_declare(queue.as_str().into(), exclusive, arguments)
            .await
            .expect("declare");
        let bind = QueueBindOptions::default();
        let (exchange, all) = (self.exchange.as_str().into(), "#".into());
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange,
                all,
                bind,
                FieldTable::default(),
            )
            .await
            .expect("bind");
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..Default::default()
        };
        let mut consumer = channel
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                no_ack,
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let arrivals = Arc::clone(&self.arrivals);
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let event: EventEnvelope =
                    serde_json::from_slice(&delivery.data).expect("an event envelope");
                arrivals
                    .lock()
                    .expect("lock")
                    .push((event.id, event.version));
            }
        });
        queue
    }

    /// A queue that refuses (nacks) any message larger than [`QUEUE_BYTES`].
    async fn limited(&self, name: &str) -> String {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-max-length-bytes".into(),
            AMQPValue::LongLongInt(QUEUE_BYTES),
        );
        arguments.insert(
            "x-overflow".into(),
            AMQPValue::LongString("reject-publish".into()),
        );
        self.queue(name, arguments).await
    }

    async fn delete(&self, queue: &str) {
        self.channel
            .queue_delete(queue.into(), QueueDeleteOptions::default())
            .await
            .expect("delete");
    }

    /// The versions of `image` received so far, in arrival order (duplicates kept).
    fn versions(&self, image: Uuid) -> Vec<i64> {
        let arrivals = self.arrivals.lock().expect("lock");
        arrivals
            .iter()
            .filter(|(id, _)| *id == image)
            .map(|(_, v)| *v)
            .collect()
    }

    async fn close(self) {
        self.connection
            .close(200, "test done".into())
            .await
            .expect("close");
    }
}

/// Versions in the order they first arrived (as a subscriber dropping duplicates sees).
fn first_arrivals(versions: &[i64]) -> Vec<i64> {
    let mut seen = Vec::new();
    for v in versions {
        if !seen.contains(v) {
            seen.push(*v);
        }
    }
    seen
}

fn decodable_actor() -> Value {
    json!({"project_id": "p1", "user_id": "u1", "roles": ["member"]})
}

/// Inserts one event row of `image` as the repository would, but with `actor` and
/// `snapshot` as given; returns its `seq`.
async fn insert(db: &TestDb, image: Uuid, version: i64, actor: Value, snapshot: Value) -> i64 {
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = BigInt)]
        seq: i64,
    }
    let mut conn = db.conn().await.expect("connection");
    let row: Seq = diesel::sql_query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, \
         from_status, to_status, routing_key, command_id, actor, snapshot, occurred_at) \
         VALUES (gen_random_uuid(), 'image', $1, $2, 'image.updated', 'queued', 'queued', \
         'image.updated', gen_random_uuid(), $3, $4, now()) RETURNING seq",
    )
    .bind::<diesel::sql_types::Uuid, _>(image)
    .bind::<BigInt, _>(version)
    .bind::<Jsonb, _>(actor)
    .bind::<Jsonb, _>(snapshot)
    .get_result(&mut conn)
    .await
    .expect("insert an event row");
    row.seq
}

/// A good row of `image` at `version`.
async fn good(db: &TestDb, image: Uuid, version: i64) -> i64 {
    let snapshot = json!({"id": image, "version": version});
    insert(db, image, version, decodable_actor(), snapshot).await
}

/// The publishing bookkeeping of one row.
#[derive(Debug, QueryableByName)]
struct Bookkeeping {
    #[diesel(sql_type = Bool)]
    published: bool,
    #[diesel(sql_type = Bool)]
    quarantined: bool,
    #[diesel(sql_type = Integer)]
    publish_attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
}

async fn bookkeeping(db: &TestDb, seq: i64) -> Bookkeeping {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query(
        "SELECT published_at IS NOT NULL AS published, \
         quarantined_at IS NOT NULL AS quarantined, publish_attempts, last_error \
         FROM events WHERE seq = $1",
    )
    .bind::<BigInt, _>(seq)
    .get_result(&mut conn)
    .await
    .expect("the row's bookkeeping")
}

/// A relay without Glance notifications (each row is one message), trying a nacked
/// row again soon so the test reaches the quarantine quickly.
fn relay_config(db: &TestDb, bus: &TestBus) -> RelayConfig {
    let mut config = RelayConfig::new(db.url(), bus.url(), bus.topology().clone());
    config.notifications = None;
    config.retry_delay = Duration::from_millis(100);
    config.max_publish_attempts = 3;
    config
}

/// Writes a row of `other` and waits until the subscriber has it: by then the relay
/// has read the outbox again after everything written before.
async fn another_pass(db: &TestDb, subscriber: &Subscriber, other: Uuid, version: i64) {
    good(db, other, version).await;
    wait_until(DEADLINE, "the relay passes again", async || {
        subscriber.versions(other).contains(&version)
    })
    .await
    .expect("other images keep flowing");
}

/// Versions 1 to 3 of `image`, version 2 too large for a limited queue; its `seq`.
async fn nacked_rows(db: &TestDb, image: Uuid) -> i64 {
    good(db, image, 1).await;
    let padding = "x".repeat(usize::try_from(QUEUE_BYTES).expect("size") * 2);
    let snapshot = json!({"id": image, "version": 2, "padding": padding});
    let seq = insert(db, image, 2, decodable_actor(), snapshot).await;
    good(db, image, 3).await;
    seq
}
