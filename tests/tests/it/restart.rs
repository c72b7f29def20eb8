//! Workers stopping mid-stream: one killed outright while it holds unacked deliveries,
//! one stopped gracefully. Another worker finishes their work; no command is lost and
//! none is applied twice.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use lapin::BasicProperties;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use shared::domain::ImageId;
use shared::messaging::connection::connect;
use shared::messaging::{CommandEnvelope, CommandReply, WorkQueue};

const IMAGES: usize = 20;
const COMMANDS: usize = 1000;
const DEADLINE: Duration = Duration::from_secs(300);

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = SqlUuid)]
    aggregate_id: uuid::Uuid,
    #[diesel(sql_type = BigInt)]
    version: i64,
    #[diesel(sql_type = SqlUuid)]
    command_id: uuid::Uuid,
}

enum Stop {
    Kill,
    Graceful,
}

async fn survives(stop: Stop) {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let doomed = TestWorker::start(&db, &bus, "doomed");
    let survivor = TestWorker::start(&db, &bus, "survivor");
    let connection = connect(bus.url(), "restart-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let replies = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("reply queue");
    let mut reply_stream = channel
        .basic_consume(
            replies.name().clone(),
            "replies".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let images: Vec<ImageId> = (0..IMAGES).map(|_| ImageId::generate()).collect();
    let mut messages: Vec<CommandEnvelope> = images
        .iter()
        .map(|id| envelope(owner(), create(*id, "restart")))
        .collect();
    // Creations go first in the queue; property writes follow, cycling over the images.
    messages.extend((0..COMMANDS).map(|n| {
        envelope(
            owner(),
            set_property(images[n % IMAGES], &format!("k{n}"), "v"),
        )
    }));
    let (exchange, key) = (
        bus.topology().commands_exchange(),
        bus.topology().queue(WorkQueue::Commands),
    );
    for (i, message) in messages.iter().enumerate() {
        if i == IMAGES {
            // Let the creations land before the writes that need them.
            collect(&mut reply_stream, &mut HashMap::new(), IMAGES).await;
        }
        let properties = BasicProperties::default()
            .with_reply_to(replies.name().clone())
            .with_delivery_mode(2);
        channel
            .basic_publish(
                exchange.clone().into(),
                key.clone().into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(message).expect("json"),
                properties,
            )
            .await
            .expect("publish");
    }
    let mut answered = HashMap::new();
    collect(&mut reply_stream, &mut answered, COMMANDS / 10).await;
    match stop {
        Stop::Kill => doomed.abort(),
        Stop::Graceful => doomed.stop().await,
    }
    collect(&mut reply_stream, &mut answered, COMMANDS).await;
    assert!(
        answered.values().all(|accepted| *accepted),
        "every write was accepted"
    );

    let mut conn = db.conn().await.expect("connection");
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT aggregate_id, version, command_id FROM events ORDER BY aggregate_id, version",
    )
    .load(&mut conn)
    .await
    .expect("events");
    let commands: HashSet<uuid::Uuid> = rows.iter().map(|r| r.command_id).collect();
    assert_eq!(
        rows.len(),
        IMAGES + COMMANDS,
        "every command applied: none lost"
    );
    assert_eq!(commands.len(), rows.len(), "none applied twice");
    let mut last: HashMap<uuid::Uuid, i64> = HashMap::new();
    for row in &rows {
        let previous = last.insert(row.aggregate_id, row.version).unwrap_or(0);
        assert_eq!(row.version, previous + 1, "gapless versions");
    }
    connection.close(0, "done".into()).await.expect("close");
    survivor.stop().await;
}

/// Collects replies by command id until `until` distinct commands are answered
/// (a redelivered command is answered again, as replayed).
async fn collect(
    replies: &mut lapin::Consumer,
    answered: &mut HashMap<uuid::Uuid, bool>,
    until: usize,
) {
    while answered.len() < until {
        let delivery = tokio::time::timeout(DEADLINE, replies.next())
            .await
            .expect("a reply before the deadline")
            .expect("reply stream open")
            .expect("delivery");
        match serde_json::from_slice::<CommandReply>(&delivery.data).expect("reply") {
            CommandReply::Accepted { command_id, .. } => {
                answered.insert(command_id.as_uuid(), true)
            }
            CommandReply::Rejected {
                command_id,
                message,
                ..
            } => {
                panic!("{command_id:?} rejected: {message}")
            }
        };
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_workers_unacked_commands_are_finished_by_another_once() {
    survives(Stop::Kill).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gracefully_stopped_worker_loses_nothing() {
    survives(Stop::Graceful).await;
}
