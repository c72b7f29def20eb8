//! A worker's publisher: a dead letter into a full dead-letter queue and a retry into a
//! missing retry queue are errors (the original is then not acked), while a reply to a
//! producer that went away is not.

use std::sync::Arc;

use bus::connection::{connect, login_of};
use bus::intake::IntakePolicy;
use bus::{Topology, WorkQueue};
use imagefleet_tests::TestBus;
use lapin::message::Delivery;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::{BasicProperties, Channel};
use workers::publisher::{DEFAULT_CONFIRM_TIMEOUT, Publisher, PublisherSettings};

use super::depth;

async fn publisher(bus_url: &str, topology: &Topology) -> Publisher {
    let connection = connect(bus_url, "publisher-test")
        .await
        .expect("connection");
    let settings = PublisherSettings {
        topology: topology.clone(),
        intake: Arc::new(IntakePolicy::default().resolve(&login_of(bus_url))),
        confirm_timeout: DEFAULT_CONFIRM_TIMEOUT,
        flow: Default::default(),
        name: "publisher-test-publish".into(),
    };
    Publisher::open(connection, settings)
        .await
        .expect("publisher")
}

/// Puts `body` in the commands queue and takes it out again, unacked.
async fn delivery(channel: &Channel, topology: &Topology, body: &[u8]) -> Delivery {
    let queue = topology.queue(WorkQueue::Commands);
    channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default(),
        )
        .await
        .expect("published");
    let mut got = None;
    imagefleet_tests::wait::wait_until(super::DEADLINE, "the message is delivered", async || {
        got = channel
            .basic_get(queue.as_str().into(), BasicGetOptions::default())
            .await
            .expect("basic.get");
        got.is_some()
    })
    .await
    .expect("delivered");
    got.expect("delivered").delivery
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_into_a_full_dead_letter_queue_is_refused() {
    let bus = TestBus::new().await.expect("test bus");
    // A topology of this test's own whose dead-letter queues hold two messages.
    let topology =
        Topology::new(format!("{}_small", bus.topology().prefix())).with_dead_letter_limit(2);
    let connection = connect(bus.url(), "dlq-limit-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    topology.declare(&connection).await.expect("declared");
    let publisher = publisher(bus.url(), &topology).await;
    // A quorum queue learns it is over its limit just after the message that took it
    // there, and tells publishers asynchronously: a letter or two past the limit may
    // still be taken, then the queue refuses.
    let (mut accepted, mut refused) = (0, false);
    for n in 0..6 {
        let letter = delivery(&channel, &topology, format!("poison {n}").as_bytes()).await;
        match publisher
            .dead_letter(&letter, WorkQueue::Commands.into(), "permanent", "test", 0)
            .await
        {
            Ok(()) => accepted += 1,
            Err(_) => {
                refused = true;
                break;
            }
        }
    }
    assert!(
        refused,
        "a full dead-letter queue refuses ({accepted} taken)"
    );
    let dead_letters = topology.dead_letter_queue(WorkQueue::Commands);
    assert_eq!(
        depth(&channel, &dead_letters).await,
        accepted,
        "nothing dropped"
    );
    topology.delete(&channel).await.expect("cleaned up");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_into_a_missing_retry_queue_is_returned_as_an_error() {
    let bus = TestBus::new().await.expect("test bus");
    let topology = bus.topology();
    let connection = connect(bus.url(), "mandatory-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_delete(
            topology
                .shard_retry_queue(WorkQueue::Commands.into(), 0)
                .into(),
            QueueDeleteOptions::default(),
        )
        .await
        .expect("retry queue deleted");
    let publisher = publisher(bus.url(), topology).await;
    let failed = delivery(&channel, topology, b"failed for a retryable reason").await;
    let retried = publisher
        .retry_or_dead_letter(&failed, WorkQueue::Commands.into(), "database unavailable")
        .await;
    assert!(retried.is_err(), "an unroutable retry is not confirmed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_to_a_producer_that_went_away_is_not_an_error() {
    let bus = TestBus::new().await.expect("test bus");
    let publisher = publisher(bus.url(), bus.topology()).await;
    let request = BasicProperties::default().with_reply_to("no-such-reply-queue".into());
    let reply = wire::CommandReply::Rejected {
        command_id: None,
        kind: domain::RejectionKind::NotFound,
        message: "gone".into(),
    };
    publisher
        .reply(&request, &reply)
        .await
        .expect("a reply nobody waits for is fine");
}
