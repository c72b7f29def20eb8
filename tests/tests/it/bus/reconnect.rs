//! A worker whose broker connections are closed under it (as a RabbitMQ restart or a
//! network cut would) reconnects with backoff, re-declares the topology and consumes
//! again. The connections are closed with `rabbitmqctl close_connection`.

use std::process::Command as Process;

use domain::ImageId;
use imagefleet_tests::fixtures::*;
use imagefleet_tests::{BusProbe, TestBus, TestDb, TestWorker};
use wire::CommandReply;

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
    let mut probe = BusProbe::new(&bus).await;
    let accepted = |reply: CommandReply| match reply {
        CommandReply::Accepted { command_id, .. } => command_id,
        CommandReply::Rejected { message, .. } => panic!("rejected: {message}"),
    };
    let first = envelope(owner(), create(ImageId::generate(), "before"));
    assert_eq!(accepted(probe.send(&first).await), first.command_id);

    let needle = format!("reconnect-worker-{}", bus.topology().prefix());
    let closed = tokio::task::spawn_blocking(move || close_connections(&needle))
        .await
        .expect("closer");
    assert_eq!(
        closed, 4,
        "the worker's two consumer connections and their publishing ones were closed"
    );

    let second = envelope(owner(), create(ImageId::generate(), "after"));
    let answered = accepted(probe.send(&second).await);
    assert_eq!(
        answered, second.command_id,
        "the reconnected worker applied the next command"
    );
    probe.close().await;
    worker.stop().await;
}
