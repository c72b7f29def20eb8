//! The private broker of the fault harness: a node of the test's own whose memory
//! alarm blocks publishers, and lets them go on once cleared. On the shared broker
//! this would block everybody's tests.

use std::time::Duration;

use bus::connection::connect;
use imagefleet_tests::PrivateBroker;
use imagefleet_tests::wait::wait_until;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use tokio::task::JoinHandle;

/// Generous: the node boots and answers `rabbitmqctl` on a loaded machine.
const WITHIN: Duration = Duration::from_secs(60);
const QUEUE: &str = "alarm";

/// The lines `rabbitmqctl <args>` prints, fields split on tabs (asked with
/// `rabbitmqctl`, not over AMQP: a blocked connection sends nothing).
fn listed(broker: &PrivateBroker, args: &[&str]) -> Vec<Vec<String>> {
    let mut args = args.to_vec();
    args.extend(["-q", "--no-table-headers"]);
    let listing = tokio::task::block_in_place(|| broker.node().ctl(&args)).unwrap_or_default();
    listing
        .lines()
        .map(|line| line.split('\t').map(|f| f.trim().to_owned()).collect())
        .collect()
}

fn ready_messages(broker: &PrivateBroker) -> Option<u64> {
    listed(broker, &["list_queues", "name", "messages_ready"])
        .into_iter()
        .find(|fields| fields.first().is_some_and(|name| name == QUEUE))?
        .get(1)?
        .parse()
        .ok()
}

/// Publishes `body` and waits for its confirm, in a task of its own: while the
/// connection is blocked even the publish does not return.
fn publish(channel: &Channel, body: &'static [u8]) -> JoinHandle<lapin::Result<Confirmation>> {
    let channel = channel.clone();
    tokio::spawn(async move {
        channel
            .basic_publish(
                "".into(),
                QUEUE.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default(),
            )
            .await?
            .await
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_alarm_on_a_private_broker_blocks_publishing_until_it_clears() {
    let broker = tokio::task::spawn_blocking(PrivateBroker::start)
        .await
        .expect("join")
        .expect("private broker starts");
    let connection = connect(&broker.url(), "alarm-test")
        .await
        .expect("connects");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("queue");

    tokio::task::block_in_place(|| broker.memory_alarm(true)).expect("alarm raised");
    // The broker blocks a connection when it publishes under the alarm: this first
    // message may still be routed, nothing after it is.
    let first = publish(&channel, b"first");
    wait_until(WITHIN, "the broker sends connection.blocked", async || {
        connection.status().blocked()
    })
    .await
    .expect("connection.blocked");
    let second = publish(&channel, b"second");
    wait_until(
        WITHIN,
        "the broker lists the connection as blocked",
        async || {
            // The test's is the node's only connection.
            listed(&broker, &["list_connections", "state"]) == [vec!["blocked".to_owned()]]
        },
    )
    .await
    .expect("blocked on the broker");
    assert!(!second.is_finished(), "a publish returned while blocked");
    assert!(
        ready_messages(&broker).is_some_and(|n| n < 2),
        "both messages went through while blocked"
    );

    tokio::task::block_in_place(|| broker.memory_alarm(false)).expect("alarm cleared");
    for (name, handle) in [("first", first), ("second", second)] {
        let confirmation = tokio::time::timeout(WITHIN, handle)
            .await
            .unwrap_or_else(|_| panic!("{name} confirmed once the alarm cleared"))
            .expect("join")
            .expect("confirm");
        assert!(
            matches!(confirmation, Confirmation::Ack(_)),
            "{name}: {confirmation:?}"
        );
    }
    assert!(!connection.status().blocked(), "still blocked");
    wait_until(WITHIN, "both messages are in their queue", async || {
        ready_messages(&broker) == Some(2)
    })
    .await
    .expect("delivered after the alarm");
}
