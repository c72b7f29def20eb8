//! The retry and dead-letter counters of a worker whose Postgres is unreachable.

use super::*;
use imagefleet_tests::TestWorker;

#[tokio::test(flavor = "multi_thread")]
async fn retries_and_dead_letters_are_counted() {
    let bus = TestBus::new().await.expect("test bus");
    // Postgres on a closed port: every command fails as retryable until its retries run
    // out; an unreadable message is refused at once, without the database.
    let unreachable = TestDb::reserve().await.expect("reserved name");
    let config = workers::FleetConfig {
        database_url: unreachable.url().replace(":5432/", ":1/"),
        pool_size: 2,
        concurrency: 1,
        commit_batch: 1,
        queues: vec![bus::WorkQueue::Commands],
        notifications: None,
        ..TestWorker::default_config(&unreachable, &bus, "operability-retry-worker")
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(workers::run_fleet(config, shutdown.clone()));
    let probe = imagefleet_tests::BusProbe::new(&bus).await;
    probe.publish_bytes(b"{not json", "unreadable-1").await;
    let image = domain::ImageId::generate();
    let command = imagefleet_tests::fixtures::envelope(
        owner(),
        imagefleet_tests::fixtures::create(image, "retried"),
    );
    probe.publish(&command).await;

    let steps = bus.topology().retry_delays().len() as f64;
    let commands = [("queue", "commands")];
    let exhausted = [("queue", "commands"), ("reason", "retries_exhausted")];
    let permanent = [("queue", "commands"), ("reason", "unreadable")];
    let mut page = String::new();
    wait_until(DEADLINE, "both messages are dead-lettered", async || {
        page = shared::metrics::install().render();
        let dead = "imagefleet_dead_lettered_total";
        sample(&page, dead, &exhausted).is_some() && sample(&page, dead, &permanent).is_some()
    })
    .await
    .expect("dead letters counted");
    let dead = "imagefleet_dead_lettered_total";
    assert_count(
        sample(&page, dead, &permanent),
        1.0,
        "dead letters, unreadable",
    );
    assert_count(
        sample(&page, dead, &exhausted),
        1.0,
        "dead letters, retries",
    );
    assert_count(
        sample(&page, "imagefleet_command_retries_total", &commands),
        steps,
        "retries",
    );
    let unreadable = [("type", "unreadable"), ("outcome", "dead_lettered")];
    assert_count(
        sample(&page, "imagefleet_commands_total", &unreadable),
        1.0,
        "unreadable commands",
    );
    // Every attempt, the last included, ends as `retry`; the last is then dead-lettered.
    let retried = [("type", "create_image"), ("outcome", "retry")];
    assert_count(
        sample(&page, "imagefleet_commands_total", &retried),
        steps + 1.0,
        "attempts of the retried command",
    );
    probe.close().await;
    shutdown.cancel();
    worker.await.expect("worker task").expect("worker");
}
