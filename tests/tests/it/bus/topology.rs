//! The RabbitMQ topology: declared idempotently, with quorum queues and their
//! dead-letter and retry queues.

use bus::WorkQueue;
use bus::connection::connect;
use imagefleet_tests::TestBus;
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

#[tokio::test(flavor = "multi_thread")]
async fn declaring_twice_is_harmless_and_every_queue_exists() {
    let bus = TestBus::new().await.expect("test bus");
    let connection = connect(bus.url(), "topology-test")
        .await
        .expect("connection");
    let channel = connection.create_channel().await.expect("channel");
    bus.topology()
        .declare(&connection)
        .await
        .expect("a second declaration is accepted");
    for queue in bus.topology().all_queues() {
        // A passive declare fails (and closes the channel) if the queue is missing.
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let state = channel
            .queue_declare(queue.clone().into(), passive, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("queue {queue} exists: {e}"));
        assert_eq!(state.message_count(), 0);
    }
    assert_eq!(
        bus.topology().queue(WorkQueue::Jobs),
        format!("{}.jobs", bus.topology().prefix())
    );
}
