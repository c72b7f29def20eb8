//! Workers stopping mid-stream: one killed outright while it holds unacked deliveries,
//! one stopped gracefully. Another worker finishes their work; no command is lost and
//! none is applied twice.

use std::collections::{HashMap, HashSet};

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use domain::{CommandId, ImageId};
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use wire::{CommandEnvelope, CommandReply};

const IMAGES: usize = 20;
const COMMANDS: usize = 1000;

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
    let mut probe = BusProbe::new(&bus).await;
    let images: Vec<ImageId> = (0..IMAGES).map(|_| ImageId::generate()).collect();
    let creations: Vec<CommandEnvelope> = images
        .iter()
        .map(|id| envelope(owner(), create(*id, "restart")))
        .collect();
    // Property writes cycle over the images, after the creations they need have landed.
    let writes: Vec<CommandEnvelope> = (0..COMMANDS)
        .map(|n| {
            envelope(
                owner(),
                set_property(images[n % IMAGES], &format!("k{n}"), "v"),
            )
        })
        .collect();
    probe.publish_all(&creations).await;
    collect(&mut probe, &mut HashSet::new(), IMAGES).await;
    probe.publish_all(&writes).await;
    let mut answered = HashSet::new();
    collect(&mut probe, &mut answered, COMMANDS / 10).await;
    match stop {
        Stop::Kill => doomed.abort(),
        Stop::Graceful => doomed.stop().await,
    }
    collect(&mut probe, &mut answered, COMMANDS).await;

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
    probe.close().await;
    survivor.stop().await;
}

/// Collects replies until `until` distinct commands are answered (a redelivered
/// command is answered again, as replayed); every one must be accepted.
async fn collect(probe: &mut BusProbe, answered: &mut HashSet<CommandId>, until: usize) {
    while answered.len() < until {
        match probe.reply().await.reply {
            CommandReply::Accepted { command_id, .. } => answered.insert(command_id),
            CommandReply::Rejected {
                command_id,
                message,
                ..
            } => panic!("{command_id:?} rejected: {message}"),
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
