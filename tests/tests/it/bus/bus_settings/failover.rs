//! `IMAGEFLEET_AMQP_URL` as a list of nodes: every client connects to the first node
//! that answers, here past a first node that refuses connections; and the jobs queue's
//! prefetch is the jobs a worker runs at once.

use std::time::Duration;

use bus::WorkQueue;
use bus::client::CommandClient;
use bus::connection::connect;
use domain::ImageId;
use imagefleet_tests::fixtures::{create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{TestBus, TestDb, TestWorker};
use wire::CommandReply;

use super::DEADLINE;

/// A node list whose first node refuses connections (a port nobody listens on).
fn list_with_a_dead_first_node(bus: &TestBus) -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    format!("amqp://guest:guest@127.0.0.1:{port}/%2f, {}", bus.url())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_client_moves_past_a_node_that_refuses_connections() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let nodes = list_with_a_dead_first_node(&bus);
    let connection = connect(&nodes, "failover-test")
        .await
        .expect("the second node");
    assert!(connection.status().connected());
    let status =
        imagefleet_cli::status::probe::queues(&nodes, bus.topology(), Duration::from_secs(30))
            .await
            .expect("status reads the queues through the second node");
    assert_eq!(status.len(), bus.topology().all_queues().len());

    let worker = TestWorker::start_via(&db, &bus, "failover-worker", &nodes);
    let client = CommandClient::connect(&nodes, bus.topology().clone())
        .await
        .expect("the client connects through the second node");
    let image = ImageId::generate();
    let reply = client
        .send(&envelope(owner(), create(image, "failover")), DEADLINE)
        .await
        .expect("answered");
    assert!(
        matches!(
            reply,
            CommandReply::Accepted {
                replayed: false,
                ..
            }
        ),
        "{reply:?}"
    );
    client.close().await;
    worker.stop().await;
}

/// The prefetch of `queue`'s consumers, from `rabbitmqctl` (the shared broker's tools).
fn prefetch_counts(queue: &str) -> Vec<u32> {
    let output = std::process::Command::new("rabbitmqctl")
        .args([
            "list_consumers",
            "-q",
            "--no-table-headers",
            "queue_name",
            "prefetch_count",
        ])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            (fields.next()? == queue).then(|| fields.next()?.trim().parse().ok())?
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_jobs_queue_prefetch_is_the_job_concurrency() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    // Test workers run 4 jobs at once (`TestWorker`).
    let worker = TestWorker::start(&db, &bus, "prefetch-worker");
    let jobs = bus.topology().queue(WorkQueue::Jobs);
    let mut found = Vec::new();
    wait_until(DEADLINE, "the jobs consumer is listed", async || {
        found = prefetch_counts(&jobs);
        !found.is_empty()
    })
    .await
    .expect("listed");
    assert_eq!(found, [4]);
    worker.stop().await;
}
