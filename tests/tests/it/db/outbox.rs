//! The outbox relay against the real Postgres and RabbitMQ: every event the repository
//! writes reaches the events exchange with its routing key, envelope and AMQP
//! properties, in version order per image, and is stamped published; a follower takes
//! over when the leader dies; notifications wake the relay without the poll (here).
//! This file holds the sink and relay harness; [`ordering`] the publishing order,
//! [`leadership`] the leader's changes, and [`quarantine`] the rows that cannot be
//! published.

mod leadership;
mod ordering;
mod quarantine;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apply::Repository;
use bus::connection::connect;
use db::schema::events;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::{Command, DomainConfig, ImageId};
use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb};
use lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use outbox::{Relay, RelayConfig, RelayError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use wire::{CommandEnvelope, EVENT_SCHEMA_V1, EventEnvelope};

/// Generous: a failing test reports within this, a passing one never waits it out.
const DEADLINE: Duration = Duration::from_secs(30);

/// One message as the test's queue received it.
#[derive(Debug, Clone)]
struct Received {
    routing_key: String,
    message_id: Option<String>,
    correlation_id: Option<String>,
    content_type: Option<String>,
    delivery_mode: Option<u8>,
    envelope: EventEnvelope,
}

/// An exclusive queue bound with `#` to the test's events exchange, collecting every
/// message (or why it did not decode). Exclusive: the broker deletes it with the
/// connection, even if the test panics.
struct Sink {
    connection: lapin::Connection,
    received: Arc<Mutex<Vec<Result<Received, String>>>>,
    task: JoinHandle<()>,
}

impl Sink {
    async fn bind(bus: &TestBus) -> anyhow::Result<Self> {
        let connection = connect(bus.url(), "imagefleet-test-outbox-sink").await?;
        let channel = connection.create_channel().await?;
        let queue = format!("{}.outbox-sink", bus.topology().prefix());
        let exclusive = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), exclusive, FieldTable::default())
            .await?;
        channel
            .queue_bind(
                queue.as_str().into(),
                bus.topology().events_exchange().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
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
            .await?;
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        let task = tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let properties = &delivery.properties;
                let message = serde_json::from_slice::<EventEnvelope>(&delivery.data)
                    .map(|envelope| Received {
                        routing_key: delivery.routing_key.to_string(),
                        message_id: properties.message_id().as_ref().map(|s| s.to_string()),
                        correlation_id: properties.correlation_id().as_ref().map(|s| s.to_string()),
                        content_type: properties.content_type().as_ref().map(|s| s.to_string()),
                        delivery_mode: *properties.delivery_mode(),
                        envelope,
                    })
                    .map_err(|e| e.to_string());
                sink.lock().expect("sink lock").push(message);
            }
        });
        Ok(Self {
            connection,
            received,
            task,
        })
    }

    /// Everything received so far, in arrival order; fails the test on a bad message.
    fn received(&self) -> Vec<Received> {
        let all = self.received.lock().expect("sink lock").clone();
        all.into_iter()
            .map(|m| m.unwrap_or_else(|e| panic!("a message that is no event envelope: {e}")))
            .collect()
    }

    /// The distinct event ids received so far.
    fn event_ids(&self) -> HashSet<Uuid> {
        self.received()
            .iter()
            .map(|r| r.envelope.event_id)
            .collect()
    }

    async fn close(self) {
        self.connection
            .close(200, "test done".into())
            .await
            .expect("closing the sink");
        self.task.await.expect("sink task");
    }
}

/// A relay running in a task of its own.
struct Running {
    token: CancellationToken,
    leader: watch::Receiver<bool>,
    handle: JoinHandle<Result<(), RelayError>>,
}

impl Running {
    fn start(config: RelayConfig) -> Self {
        let relay = Relay::new(config).expect("a valid relay configuration");
        let leader = relay.leadership();
        let token = CancellationToken::new();
        let shutdown = token.clone();
        let handle = tokio::spawn(async move { relay.run(shutdown).await });
        Self {
            token,
            leader,
            handle,
        }
    }

    fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Graceful stop: the relay finishes its batch and returns Ok.
    async fn stop(self) {
        self.token.cancel();
        self.handle
            .await
            .expect("the relay task did not panic")
            .expect("the relay stops cleanly");
    }
}

fn config(db: &TestDb, bus: &TestBus) -> RelayConfig {
    let mut config = RelayConfig::new(db.url(), bus.url(), bus.topology().clone());
    config.notifications = Some(bus.notifications());
    config
}

/// What the repository says it recorded for one event.
#[derive(Debug, Clone)]
struct Expected {
    image: Uuid,
    version: i64,
    routing_key: String,
    command_id: Uuid,
    correlation_id: String,
}

/// Applies `command` as the owner under a fresh correlation id; returns its events.
async fn apply(repo: &Repository, command: Command) -> HashMap<Uuid, Expected> {
    let correlation_id = format!("req-{}", Uuid::new_v4().simple());
    let envelope = CommandEnvelope::new(owner(), command).with_correlation_id(&correlation_id);
    let applied = repo.apply(&envelope).await.expect("command accepted");
    applied
        .result
        .events
        .iter()
        .map(|e| {
            let expected = Expected {
                image: e.aggregate_id,
                version: e.version,
                routing_key: e.routing_key.clone(),
                command_id: envelope.command_id.as_uuid(),
                correlation_id: correlation_id.clone(),
            };
            (e.event_id, expected)
        })
        .collect()
}

/// `(event_id, published)` of every row, in seq order.
async fn stored(db: &TestDb) -> Vec<(Uuid, bool)> {
    let mut conn = db.conn().await.expect("connection");
    events::table
        .order(events::seq.asc())
        .select((events::event_id, events::published_at.is_not_null()))
        .load(&mut conn)
        .await
        .expect("events")
}

/// Waits until every stored row is stamped published and was received.
async fn wait_for_all(db: &TestDb, sink: &Sink) {
    wait_until(
        DEADLINE,
        "every event is published and received",
        async || {
            let rows = stored(db).await;
            let received = sink.event_ids();
            rows.iter()
                .all(|(id, published)| *published && received.contains(id))
        },
    )
    .await
    .expect("all events delivered");
}

/// Per image, the versions in the order they first arrived (duplicates dropped, as a
/// subscriber would by event id).
fn first_arrivals(received: &[Received]) -> HashMap<Uuid, Vec<i64>> {
    let mut seen = HashSet::new();
    let mut versions: HashMap<Uuid, Vec<i64>> = HashMap::new();
    for r in received {
        if seen.insert(r.envelope.event_id) {
            versions
                .entry(r.envelope.id)
                .or_default()
                .push(r.envelope.version);
        }
    }
    versions
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_wake_the_relay_without_the_poll() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let sink = Sink::bind(&bus).await.expect("sink");
    let repo = Repository::new(db.pool().clone(), DomainConfig::default());

    // With an hour between polls, only LISTEN/NOTIFY can explain a prompt delivery.
    let mut config = config(&db, &bus);
    config.poll_interval = Duration::from_secs(3600);
    let relay = Running::start(config);
    wait_until(DEADLINE, "the relay leads", async || relay.is_leader())
        .await
        .expect("leader");
    let id = ImageId::generate();
    apply(&repo, create(id, "notified")).await;
    wait_for_all(&db, &sink).await;
    // The first round may have been caught by the relay's first read; by now it has
    // stamped it and gone to sleep, so this one needs the notification.
    apply(&repo, set_property(id, "os_distro", "cirros")).await;
    apply(&repo, add_tag(id, "woken")).await;
    wait_for_all(&db, &sink).await;
    assert_eq!(sink.event_ids().len(), 3);
    relay.stop().await;
    sink.close().await;
}
