//! Broker settings that must not lose work, and how clients reach the broker: the
//! delivery limit is far above a few reconnects, the dead-letter queues have a length
//! limit that refuses rather than drops, a worker's retries and dead letters are
//! `mandatory` and unconfirmed ones are errors, the jobs queue's prefetch is what the
//! worker works on, and a list of node URLs is tried in order.

mod blocked_gateway;
mod failover;
mod memory_alarm;
mod publisher;

use std::time::Duration;

use bus::WorkQueue;
use bus::client::{ClientError, CommandClient};
use bus::connection::connect;
use domain::ImageId;
use imagefleet_tests::TestBus;
use imagefleet_tests::fixtures::{create, envelope, owner};
use lapin::options::{
    BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};

/// Deadline of every wait here.
const DEADLINE: Duration = Duration::from_secs(60);

/// Sends the command `name` through `client`, whose broker is under a memory alarm: the
/// broker tells a connection it is blocked once it publishes, so this one goes out (and
/// is never answered: it fails) before the client knows. Then waits, up to `deadline`,
/// until the client reports itself blocked.
async fn send_until_blocked(client: &CommandClient, name: &str, deadline: Duration) {
    let first = envelope(owner(), create(ImageId::generate(), name));
    let sent = client.send(&first, Duration::from_secs(3)).await;
    assert!(sent.is_err(), "{sent:?}");
    imagefleet_tests::wait::wait_until(
        deadline,
        "the gateway's client reports blocked",
        async || {
            matches!(
                client.check_connection(Duration::from_secs(2)).await,
                Err(ClientError::Blocked)
            )
        },
    )
    .await
    .expect("the client reports blocked");
}

/// Messages ready in `queue` now.
async fn depth(channel: &Channel, queue: &str) -> u32 {
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .expect("the queue exists")
        .message_count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_returned_more_than_five_times_is_still_delivered_not_dead_lettered() {
    let bus = TestBus::new().await.expect("test bus");
    let connection = connect(bus.url(), "delivery-limit-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let queue = bus.topology().queue(WorkQueue::Commands);
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.as_str().into(),
            BasicPublishOptions::default(),
            b"held by workers that keep losing their session",
            BasicProperties::default(),
        )
        .await
        .expect("published")
        .await
        .expect("confirmed");
    assert!(confirm.is_ack());
    // Ten sessions that end before settling it: each sends it back to the queue.
    for returned in 0..10 {
        let mut delivery = None;
        imagefleet_tests::wait::wait_until(DEADLINE, "the message is delivered", async || {
            delivery = channel
                .basic_get(queue.as_str().into(), BasicGetOptions::default())
                .await
                .expect("basic.get");
            delivery.is_some()
        })
        .await
        .unwrap_or_else(|e| panic!("after {returned} returns: {e}"));
        let requeue = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        delivery
            .expect("delivered")
            .nack(requeue)
            .await
            .expect("returned");
    }
    let dead_letters = bus.topology().dead_letter_queue(WorkQueue::Commands);
    assert_eq!(depth(&channel, &dead_letters).await, 0);
    imagefleet_tests::wait::wait_until(DEADLINE, "the message is still in its queue", async || {
        depth(&channel, &queue).await == 1
    })
    .await
    .expect("still there after ten returns");
}

#[tokio::test(flavor = "multi_thread")]
async fn publishes_whose_callers_gave_up_leave_no_confirm_behind() {
    let bus = TestBus::new().await.expect("test bus");
    let client = bus::client::CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("client");
    // Callers that go away at once, before or after their publish went out.
    let mut callers = Vec::new();
    for n in 0..50 {
        let (client, command) = (
            client.clone(),
            imagefleet_tests::fixtures::envelope(
                imagefleet_tests::fixtures::owner(),
                imagefleet_tests::fixtures::create(
                    domain::ImageId::generate(),
                    &format!("abandoned-{n}"),
                ),
            ),
        );
        callers.push(tokio::spawn(async move { client.publish(&command).await }));
    }
    tokio::task::yield_now().await;
    for caller in &callers {
        caller.abort();
    }
    imagefleet_tests::wait::wait_until(DEADLINE, "every confirm is settled", async || {
        client.pending_confirms().await == 0
    })
    .await
    .expect("no confirm is kept once the broker answered");
    let command = imagefleet_tests::fixtures::envelope(
        imagefleet_tests::fixtures::owner(),
        imagefleet_tests::fixtures::create(domain::ImageId::generate(), "after"),
    );
    client
        .publish(&command)
        .await
        .expect("the client still publishes");
    client.close().await;
}
