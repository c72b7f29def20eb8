//! A worker whose database goes silent (blackholed through the fault proxy: the
//! connections stay open, nothing comes back) says so on `/readyz`, and applies again
//! once the database answers.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use db::document;
use domain::{ImageId, Target};
use fetch::{ImportFilter, SafeFetcher};
use imagefleet_tests::fixtures::{create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, Fault, FaultProxy, TestBus, TestDb, TestResponse, TestWorker};
use serde_json::json;
use tower::ServiceExt;
use workers::ops::OpsConfig;
use workers::ops_port::OpsBind;
use workers::progress::Progress;

/// Long enough for a group's bound on the database, a retry and a new connection.
const DEADLINE: Duration = Duration::from_secs(120);

async fn readyz(router: &Router) -> TestResponse {
    let request = Request::builder()
        .uri("/readyz")
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    TestResponse::read(response).await
}

async fn exists(db: &TestDb, image: ImageId) -> bool {
    let Ok(mut conn) = db.conn().await else {
        return false;
    };
    let probe = envelope(owner(), create(image, "probe"));
    document::load(&mut conn, probe.command_id, Target::Image(image))
        .await
        .is_ok_and(|loaded| loaded.state.image.is_some())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_database_is_blackholed_is_not_ready_and_recovers() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let proxy = FaultProxy::for_url(db.url()).await.expect("proxy");
    let url = proxy.url_through(db.url()).expect("url through the proxy");
    // A short bound, so the test waits on the outcome, not on the default 30 s.
    let progress = Progress::new(Duration::from_secs(1));
    let flow = bus::flow::PublishFlow::default();
    let config = workers::FleetConfig {
        database_url: url.clone(),
        pool_size: 4,
        concurrency: 2,
        commit_batch: 4,
        flow: flow.clone(),
        queues: vec![bus::WorkQueue::Commands],
        fetcher: SafeFetcher::new(ImportFilter::default(), 1 << 20, DEADLINE, 5),
        notifications: None,
        progress: progress.clone(),
        ..TestWorker::default_config(&db, &bus, "blackholed-worker")
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(workers::run_fleet(config, shutdown.clone()));
    let router = workers::ops::router(&OpsConfig {
        bind: OpsBind::FirstFree,
        database_url: url,
        amqp_url: bus.url().to_owned(),
        name: "blackholed-worker-probe".into(),
        flow,
        progress: Some(progress),
    })
    .expect("router");
    let probe = BusProbe::new(&bus).await;

    let before = ImageId::generate();
    probe
        .publish(&envelope(owner(), create(before, "before")))
        .await;
    wait_until(DEADLINE, "the worker applies and is ready", async || {
        exists(&db, before).await && readyz(&router).await.status == StatusCode::OK
    })
    .await
    .expect("ready before the fault");

    proxy.set(Fault::Blackhole);
    let during = ImageId::generate();
    probe
        .publish(&envelope(owner(), create(during, "during")))
        .await;
    wait_until(
        DEADLINE,
        "/readyz says the worker applies nothing",
        async || {
            let ready = readyz(&router).await;
            ready.status == StatusCode::SERVICE_UNAVAILABLE
                && ready.json["failed"]
                    .as_array()
                    .is_some_and(|failed| failed.contains(&json!("commands")))
        },
    )
    .await
    .expect("not ready while blackholed");

    proxy.set(Fault::Pass);
    wait_until(
        DEADLINE,
        "the worker applies again and is ready",
        async || exists(&db, during).await && readyz(&router).await.status == StatusCode::OK,
    )
    .await
    .expect("ready after the fault");
    shutdown.cancel();
    let _ = worker.await;
}
