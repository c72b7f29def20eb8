//! A worker whose broker connections are closed under it (as a RabbitMQ restart or a
//! network cut would) reconnects with backoff, re-declares the topology and consumes
//! again. The connections are closed with `rabbitmqctl close_connection`.

use std::process::Command as Process;
use std::time::Duration;

use futures::StreamExt;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use lapin::BasicProperties;
use lapin::options::{BasicConsumeOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use shared::domain::ImageId;
use shared::messaging::connection::connect;
use shared::messaging::{CommandReply, WorkQueue};

const DEADLINE: Duration = Duration::from_secs(60);

/// Closes every broker connection whose name contains `needle`; returns how many.
fn close_connections(needle: &str) -> usize {
    let listing = Process::new("rabbitmqctl")
        .args(["list_connections", "pid", "client_properties", "-q"])
        .output()
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&listing.stdout);
    let pids: Vec<&str> = text
        .lines()
        .filter(|line| line.contains(needle))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    for pid in &pids {
        let closed = Process::new("rabbitmqctl")
            .args(["close_connection", pid, "reconnect test"])
            .output()
            .expect("rabbitmqctl runs");
        assert!(
            closed.status.success(),
            "closing {pid}: {}",
            String::from_utf8_lossy(&closed.stderr)
        );
    }
    pids.len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_reconnects_after_its_connections_are_closed() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "reconnect-worker");
    let connection = connect(bus.url(), "reconnect-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
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
    let send = async |name: &str| {
        let command = envelope(owner(), create(ImageId::generate(), name));
        channel
            .basic_publish(
                bus.topology().commands_exchange().into(),
                bus.topology().queue(WorkQueue::Commands).into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(&command).expect("json"),
                BasicProperties::default()
                    .with_reply_to(replies.name().clone())
                    .with_delivery_mode(2),
            )
            .await
            .expect("publish");
        command.command_id
    };
    let mut answer = async || {
        let delivery = tokio::time::timeout(DEADLINE, reply_stream.next())
            .await
            .expect("a reply before the deadline")
            .expect("stream open")
            .expect("delivery");
        match serde_json::from_slice::<CommandReply>(&delivery.data).expect("reply") {
            CommandReply::Accepted { command_id, .. } => command_id,
            CommandReply::Rejected { message, .. } => panic!("rejected: {message}"),
        }
    };
    let first = send("before").await;
    assert_eq!(answer().await, first);

    let needle = format!("reconnect-worker-{}", bus.topology().prefix());
    let closed = tokio::task::spawn_blocking(move || close_connections(&needle))
        .await
        .expect("closer");
    assert_eq!(
        closed, 2,
        "the worker's two consumer connections were closed"
    );

    let second = send("after").await;
    assert_eq!(
        answer().await,
        second,
        "the reconnected worker applied the next command"
    );
    connection.close(0, "done".into()).await.expect("close");
    worker.stop().await;
}
