//! The private 3-node cluster of the fault harness: a quorum queue declared on it has
//! a member on every node, and stopping the node that leads it while a producer
//! publishes loses no message the broker confirmed.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bus::connection::connect;
use imagefleet_tests::BrokerCluster;
use imagefleet_tests::wait::wait_until;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use lapin::{Confirmation, PublisherConfirm};
use tokio_util::sync::CancellationToken;

/// Generous: three nodes boot, elect and answer `rabbitmqctl` on a loaded machine.
const WITHIN: Duration = Duration::from_secs(120);
/// Unconfirmed publishes at once (the producer waits for the oldest beyond it).
const WINDOW: usize = 32;
/// Confirmed messages before the leader is stopped, and again after.
const PHASE: usize = 100;
const QUEUE: &str = "commands";

type Pending = VecDeque<(u64, PublisherConfirm)>;

/// Waits for the oldest unconfirmed publish; an ack counts, a nack or a failed
/// confirm does not.
async fn settle(pending: &mut Pending, confirmed: &mut BTreeSet<u64>, acked: &AtomicUsize) {
    if let Some((n, confirm)) = pending.pop_front()
        && let Ok(Ok(Confirmation::Ack(_))) = tokio::time::timeout(WITHIN, confirm).await
    {
        confirmed.insert(n);
        acked.fetch_add(1, Ordering::SeqCst);
    }
}

/// Publishes numbered messages until `stop`, at most [`WINDOW`] unconfirmed; returns
/// the numbers the broker acked.
async fn produce(
    channel: Channel,
    acked: Arc<AtomicUsize>,
    stop: CancellationToken,
) -> BTreeSet<u64> {
    let mut pending = Pending::new();
    let mut confirmed = BTreeSet::new();
    for n in 0u64.. {
        if stop.is_cancelled() {
            break;
        }
        let Ok(confirm) = channel
            .basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                n.to_string().as_bytes(),
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
        else {
            break;
        };
        pending.push_back((n, confirm));
        if pending.len() >= WINDOW {
            settle(&mut pending, &mut confirmed, &acked).await;
        }
    }
    while !pending.is_empty() {
        settle(&mut pending, &mut confirmed, &acked).await;
    }
    confirmed
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_a_quorum_queues_leader_loses_no_confirmed_message() {
    let mut cluster = tokio::task::spawn_blocking(|| BrokerCluster::start(3))
        .await
        .expect("join")
        .expect("three nodes form a cluster");
    let urls = cluster.urls();
    let declarer = connect(&urls[0], "cluster-test-declare")
        .await
        .expect("connects");
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    declarer
        .create_channel()
        .await
        .expect("channel")
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await
        .expect("quorum queue");
    let members = cluster.members_of("/", QUEUE).expect("members");
    assert_eq!(members.len(), 3, "a member on every node: {members:?}");
    let leader = cluster.leader_of("/", QUEUE).expect("leader");

    // The producer stays on a node that keeps running.
    let survivor = (leader + 1) % 3;
    let producer = connect(&urls[survivor], "cluster-test-produce")
        .await
        .expect("connects");
    let channel = producer.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = CancellationToken::new();
    let producing = tokio::spawn(produce(channel, acked.clone(), stop.clone()));
    wait_until(WITHIN, "messages are confirmed", async || {
        acked.load(Ordering::SeqCst) >= PHASE
    })
    .await
    .expect("publishing before the fault");
    drop(declarer);
    tokio::task::block_in_place(|| cluster.stop_node(leader)).expect("the leader stops");
    let before = acked.load(Ordering::SeqCst);
    wait_until(
        WITHIN,
        "messages are confirmed after the leader stopped",
        async || acked.load(Ordering::SeqCst) >= before + PHASE,
    )
    .await
    .expect("publishing after the fault");
    stop.cancel();
    let confirmed = producing.await.expect("producer");
    wait_until(WITHIN, "another node leads the queue", async || {
        tokio::task::block_in_place(|| cluster.leader_of("/", QUEUE)).is_ok_and(|l| l != leader)
    })
    .await
    .expect("a new leader");

    let mut received = BTreeSet::new();
    let reader = producer.create_channel().await.expect("channel");
    while let Some(message) = reader
        .basic_get(QUEUE.into(), BasicGetOptions { no_ack: true })
        .await
        .expect("basic.get")
    {
        let n = std::str::from_utf8(&message.delivery.data)
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .expect("a numbered message");
        received.insert(n);
    }
    let lost: Vec<&u64> = confirmed.difference(&received).collect();
    assert!(
        lost.is_empty(),
        "{} confirmed messages lost: {lost:?}",
        lost.len()
    );

    tokio::task::block_in_place(|| cluster.start_node(leader))
        .expect("the old leader starts again");
    let name = cluster.nodes()[leader].name().to_owned();
    let members = tokio::task::block_in_place(|| cluster.members_of("/", QUEUE)).expect("members");
    assert!(
        members.contains(&name),
        "{name} is no longer a member: {members:?}"
    );
}
