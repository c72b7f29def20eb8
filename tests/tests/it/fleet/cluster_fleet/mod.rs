//! The whole fleet on the private 3-node RabbitMQ cluster: two workers (consumers,
//! publishers, outbox relay) and the gateway's `CommandClient`, all given the cluster's
//! node list, with the command and job queues replicated on every node. Drivers send
//! commands all along; the node leading the commands queue is stopped mid-run. Nothing
//! answered is lost, nothing is applied twice, a tap (a quorum queue of its own, so it
//! outlives the node) receives every event in its image's version order, and the fleet
//! serves again: the time from the stop until a command sent afterwards is answered is
//! printed (issue 15 wants it within 10 s; tests assert no timings, only a deadline).

mod driver;
mod verdict;

use std::time::Duration;

use bus::client::CommandClient;
use bus::connection::connect;
use bus::{Topology, WorkQueue};
use futures::future::join_all;
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BrokerCluster, TestDb, TestWorker};
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use wire::EventEnvelope;

use driver::{Ledger, drive};

/// Generous: a loaded 2-core machine boots three nodes, elects, fails over.
const DEADLINE: Duration = Duration::from_secs(120);
/// Commands answered before the leader is stopped, and again after the fleet serves.
const PHASE: usize = 30;
/// Producers sending at once.
const DRIVERS: usize = 4;
/// The tap's queue: a quorum queue, so it keeps what it got when a node stops.
const TAP: &str = "cluster.tap";

/// Declares the topology (short retry delays) and the tap, bound to every event.
async fn declare(
    connection: &Connection,
    channel: &Channel,
    topology: &Topology,
) -> anyhow::Result<()> {
    topology.declare(connection).await?;
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel.queue_declare(TAP.into(), durable, args).await?;
    channel
        .queue_bind(
            TAP.into(),
            topology.events_exchange().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

/// Every event in the tap, in the order it holds them.
async fn drain_tap(connection: &Connection) -> anyhow::Result<Vec<EventEnvelope>> {
    let channel = connection.create_channel().await?;
    let mut events = Vec::new();
    while let Some(message) = channel
        .basic_get(TAP.into(), BasicGetOptions { no_ack: true })
        .await?
    {
        events.push(serde_json::from_slice(&message.delivery.data)?);
    }
    Ok(events)
}

/// The outbox's unpublished rows, read from outside the runtime's async context (for a
/// failure message).
fn block_on_rows(db: &TestDb) -> anyhow::Result<Vec<String>> {
    tokio::task::block_in_place(|| {
        tokio::runtime::Handle::current().block_on(verdict::unpublished_rows(db))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_fleet_on_a_cluster_loses_nothing_when_the_commands_queues_leader_stops() {
    let mut cluster = tokio::task::spawn_blocking(|| BrokerCluster::start(3))
        .await
        .expect("join")
        .expect("three nodes form a cluster");
    let nodes = cluster.url_list();
    let db = TestDb::new().await.expect("test database");
    let topology = Topology::new("cluster")
        .with_retry_delays([100, 200, 300].map(Duration::from_millis).to_vec());
    let setup = connect(&nodes, "cluster-fleet-setup")
        .await
        .expect("connects");
    let channel = setup.create_channel().await.expect("channel");
    declare(&setup, &channel, &topology)
        .await
        .expect("topology and tap declared");
    channel.close(200, "declared".into()).await.expect("closed");
    setup.close(200, "declared".into()).await.expect("closed");
    for queue in WorkQueue::ALL
        .map(|q| topology.queue(q))
        .iter()
        .chain([&TAP.to_owned()])
    {
        let members =
            tokio::task::block_in_place(|| cluster.members_of("/", queue)).expect("members");
        assert_eq!(members.len(), 3, "{queue} on every node: {members:?}");
    }

    let workers = [
        TestWorker::start_on(&db, &nodes, &topology, "cluster-worker-a"),
        TestWorker::start_on(&db, &nodes, &topology, "cluster-worker-b"),
    ];
    let client = CommandClient::connect(&nodes, topology.clone())
        .await
        .expect("the gateway's client connects");
    let ledger = Ledger::default();
    let stop_driving = CancellationToken::new();
    let drivers: Vec<_> = (0..DRIVERS)
        .map(|n| {
            tokio::spawn(drive(
                client.clone(),
                ledger.clone(),
                n,
                stop_driving.clone(),
            ))
        })
        .collect();
    wait_until(DEADLINE, "commands are answered", async || {
        ledger.answered() >= PHASE
    })
    .await
    .expect("the fleet serves before the fault");

    let commands = topology.queue(WorkQueue::Commands);
    let leader = tokio::task::block_in_place(|| cluster.leader_of("/", &commands))
        .expect("the commands queue has a leader");
    let stop_began = Instant::now();
    tokio::task::block_in_place(|| cluster.stop_node(leader)).expect("the leader stops");
    let stopped = Instant::now();
    wait_until(
        DEADLINE,
        "a command sent after the stop is answered",
        async || ledger.first_answer_after(stopped).is_some(),
    )
    .await
    .unwrap_or_else(|error| {
        let node = &cluster.nodes()[(leader + 1) % 3];
        let ctl = |args: &[&str]| tokio::task::block_in_place(|| node.ctl(args));
        panic!(
            "{error} (node {leader} stopped)\nconsumers {:?}\nqueues {:?}\nconnections {:?}\nunanswered {:?}",
            ctl(&["list_consumers", "queue_name", "channel_pid", "prefetch_count"]),
            ctl(&["list_queues", "name", "leader", "messages_ready", "messages_unacknowledged", "consumers"]),
            ctl(&["list_connections", "name", "node", "state"]),
            ledger.sent().iter().filter(|s| s.answered.is_none()).map(|s| (s.command_id, s.sends)).collect::<Vec<_>>(),
        )
    });
    let served = ledger.first_answer_after(stopped).expect("answered");
    eprintln!(
        "node {leader} (leading {commands}) stopped in {:.1} s; the fleet served again \
         {:.2} s after it was down (issue 15 asks for 10 s)",
        (stopped - stop_began).as_secs_f64(),
        (served - stopped).as_secs_f64(),
    );
    wait_until(
        DEADLINE,
        "commands are answered after the stop",
        async || ledger.answered_after(stopped) >= PHASE,
    )
    .await
    .expect("the fleet keeps serving");
    stop_driving.cancel();
    for driver in join_all(drivers).await {
        driver.expect("a driver ends");
    }

    wait_until(DEADLINE, "the outbox is published", async || {
        verdict::unpublished(&db).await.is_ok_and(|n| n == 0)
    })
    .await
    .unwrap_or_else(|error| {
        panic!("{error}: {:?}", block_on_rows(&db));
    });
    let reader = connect(&nodes, "cluster-fleet-tap")
        .await
        .expect("connects");
    let received = drain_tap(&reader).await.expect("the tap is read");
    let sent = ledger.sent().clone();
    let findings = verdict::judge(&db, &sent, &received).await.expect("judged");
    eprintln!(
        "{} commands ({} sends), {} answered; {} events received; lost {}, applied twice \
         {}, events missing {}, order violations {}",
        sent.len(),
        sent.iter().map(|s| s.sends).sum::<u32>(),
        sent.iter().filter(|s| s.answered.is_some()).count(),
        received.len(),
        findings.lost.len(),
        findings.applied_twice.len(),
        findings.events_missing.len(),
        findings.order_violations.len(),
    );
    assert!(findings.failed.is_empty(), "failed: {:?}", findings.failed);
    assert!(findings.lost.is_empty(), "lost: {:?}", findings.lost);
    assert!(
        findings.applied_twice.is_empty(),
        "applied twice: {:?}",
        findings.applied_twice
    );
    assert!(
        findings.version_mismatches.is_empty(),
        "versions: {:?}",
        findings.version_mismatches
    );
    assert!(
        findings.events_missing.is_empty(),
        "events missing: {:?}",
        findings.events_missing
    );
    assert!(
        findings.order_violations.is_empty(),
        "out of order: {:?}",
        findings.order_violations
    );

    // Teardown, each step bounded and named: under the full suite's load a run once
    // stayed parked here for ten minutes after every assertion above had passed, and it
    // could not be reproduced on demand. A step that overruns is reported, not waited
    // for, so what this test promises stays what fails it; the report says where to look.
    let overran = |step: &str| {
        eprintln!("teardown: {step} did not finish within {TEARDOWN:?}; left to the runtime's end")
    };
    if tokio::time::timeout(TEARDOWN, client.close())
        .await
        .is_err()
    {
        overran("closing the command client");
    }
    for (n, worker) in workers.into_iter().enumerate() {
        if tokio::time::timeout(TEARDOWN, worker.stop()).await.is_err() {
            overran(&format!("stopping worker {n}"));
        }
    }
    drop(reader);
    tokio::task::block_in_place(|| drop(cluster));
}

/// How long each teardown step may take before it is reported and left.
const TEARDOWN: Duration = Duration::from_secs(60);
