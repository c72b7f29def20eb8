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
use serde_json::{Value, json};
use shared::messaging::EventEnvelope;
use shared::messaging::connection::connect;
use shared::outbox::RelayConfig;
use uuid::Uuid;

use super::{DEADLINE, Running};

mod release;

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

#[tokio::test(flavor = "multi_thread")]
async fn an_undecodable_row_holds_back_its_image_and_is_quarantined() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.queue("plain", FieldTable::default()).await;
    let (image, other) = (Uuid::new_v4(), Uuid::new_v4());
    good(&db, image, 1).await;
    let snapshot = json!({"id": image, "version": 2});
    let poisoned = insert(&db, image, 2, json!(42), snapshot).await;
    let behind = good(&db, image, 3).await;
    good(&db, other, 1).await;

    shared::metrics::install();
    let relay = Running::start(relay_config(&db, &bus));
    wait_until(
        DEADLINE,
        "version 1 and the other image arrive",
        async || subscriber.versions(image).contains(&1) && subscriber.versions(other).contains(&1),
    )
    .await
    .expect("the healthy rows are published");
    another_pass(&db, &subscriber, other, 2).await;
    another_pass(&db, &subscriber, other, 3).await;

    assert_eq!(
        subscriber.versions(image),
        [1],
        "version 3 must not go out while version 2 is unpublished, nor again on every pass"
    );
    let row = bookkeeping(&db, poisoned).await;
    assert!(row.quarantined && !row.published, "{row:?}");
    assert_eq!(
        row.publish_attempts, 1,
        "a row that does not decode never will"
    );
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("does not decode"), "{error}");
    let held = bookkeeping(&db, behind).await;
    assert!(!held.published && !held.quarantined && held.publish_attempts == 0);

    let gauge = "imagefleet_outbox_quarantined_rows 1";
    wait_until(
        DEADLINE,
        "the gauge shows the quarantined row",
        async || {
            shared::metrics::install()
                .render()
                .lines()
                .any(|l| l == gauge)
        },
    )
    .await
    .expect("imagefleet_outbox_quarantined_rows");
    let page = shared::metrics::install().render();
    assert!(
        page.lines()
            .any(|l| l.starts_with("imagefleet_outbox_oldest_unpublished_seconds ")),
        "the oldest unpublished row's age is a gauge"
    );
    relay.stop().await;
    subscriber.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_hundred_poisoned_rows_at_the_head_do_not_stop_other_images() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.queue("plain", FieldTable::default()).await;
    let mut conn = db.conn().await.expect("connection");
    // More than a batch (256), each of its own image, ahead of the healthy one.
    diesel::sql_query(
        "INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, \
         to_status, routing_key, command_id, actor, snapshot, occurred_at) \
         SELECT gen_random_uuid(), 'image', gen_random_uuid(), 1, 'image.created', \
         'queued', 'image.queued', gen_random_uuid(), '42', '{}', now() \
         FROM generate_series(1, 300)",
    )
    .execute(&mut conn)
    .await
    .expect("poisoned rows");
    let healthy = Uuid::new_v4();
    for version in 1..=3 {
        good(&db, healthy, version).await;
    }

    let relay = Running::start(relay_config(&db, &bus));
    wait_until(DEADLINE, "the healthy image's events arrive", async || {
        subscriber.versions(healthy).len() >= 3
    })
    .await
    .expect("poisoned rows at the head must not stop other images");
    assert_eq!(first_arrivals(&subscriber.versions(healthy)), [1, 2, 3]);
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    wait_until(DEADLINE, "every poisoned row is quarantined", async || {
        let count: Count =
            diesel::sql_query("SELECT count(*) AS n FROM events WHERE quarantined_at IS NOT NULL")
                .get_result(&mut conn)
                .await
                .expect("count");
        count.n == 300
    })
    .await
    .expect("quarantined");
    relay.stop().await;
    subscriber.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_nacked_publish_holds_back_its_image_in_order() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let subscriber = Subscriber::new(&bus).await;
    subscriber.limited("limited").await;
    let (image, other) = (Uuid::new_v4(), Uuid::new_v4());
    let nacked = nacked_rows(&db, image).await;
    good(&db, other, 1).await;

    let relay = Running::start(relay_config(&db, &bus));
    wait_until(
        DEADLINE,
        "version 1 and the other image arrive",
        async || subscriber.versions(image).contains(&1) && subscriber.versions(other).contains(&1),
    )
    .await
    .expect("the rows that fit are published");
    another_pass(&db, &subscriber, other, 2).await;
    assert_eq!(
        subscriber.versions(image),
        [1],
        "version 3 must not go out before the nacked version 2"
    );
    wait_until(DEADLINE, "the nacked row is quarantined", async || {
        bookkeeping(&db, nacked).await.quarantined
    })
    .await
    .expect("a row the broker keeps nacking is quarantined");
    another_pass(&db, &subscriber, other, 3).await;
    assert_eq!(subscriber.versions(image), [1], "nor after the quarantine");
    let row = bookkeeping(&db, nacked).await;
    assert_eq!(row.publish_attempts, 3);
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("nacked"), "{error}");
    relay.stop().await;
    subscriber.close().await;
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
