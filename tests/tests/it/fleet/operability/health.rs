//! `/healthz` and `/readyz` on the gateway and on a lone worker's operations router:
//! ready with the real Postgres, not ready (503 naming postgres) with a read pool
//! pointing at a closed port.

use super::*;

/// A gateway router whose read pool points at `database_url`, with a real broker.
async fn gateway(db: &TestDb, bus: &TestBus, database_url: &str) -> Router {
    let reads = build_pool(
        database_url,
        PoolOptions {
            max_size: 2,
            ..PoolOptions::default()
        },
    )
    .expect("pool");
    let commands = CommandClient::connect(bus.url(), bus.topology().clone())
        .await
        .expect("command client");
    api_gateway::app(AppState {
        reads,
        commands,
        identity: Arc::new(Identity {
            mode: AuthMode::Headers,
            default_actor: None,
        }),
        settings: Arc::new(Settings::default()),
        stores: db.stores(),
        fetcher: SafeFetcher::new(ImportFilter::default(), 1 << 20, DEADLINE, 5),
        send_notices: None,
    })
}

async fn get(router: &Router, path: &str) -> TestResponse {
    let request = Request::builder()
        .uri(path)
        .body(Body::empty())
        .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    TestResponse::read(response).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_is_ready_only_while_postgres_answers() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");

    let unreachable = gateway(&db, &bus, "postgres://postgres@127.0.0.1:1/nothing").await;
    let health = get(&unreachable, "/healthz").await;
    assert_eq!(
        (health.status, health.text.as_str()),
        (StatusCode::OK, "ok")
    );
    let ready = get(&unreachable, "/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        ready.text
    );
    assert_eq!(ready.json["status"], "not ready");
    let failed = ready.json["failed"].as_array().expect("failed list");
    assert!(failed.contains(&json!("postgres")), "{}", ready.json);
    assert_ne!(ready.json["checks"]["postgres"], "ok");
    assert_eq!(ready.json["checks"]["rabbitmq"], "ok", "{}", ready.json);

    let real = gateway(&db, &bus, db.url()).await;
    assert_eq!(get(&real, "/healthz").await.status, StatusCode::OK);
    let ready = get(&real, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(
        ready.json,
        json!({
            "status": "ready",
            "failed": [],
            "checks": {"postgres": "ok", "migrations": "ok", "rabbitmq": "ok"},
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_serves_metrics_health_and_readiness() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let config = |database_url: &str| workers::ops::OpsConfig {
        bind: workers::ops_port::OpsBind::FirstFree,
        database_url: database_url.to_owned(),
        amqp_url: bus.url().to_owned(),
        name: "operability-probe".to_owned(),
        progress: None,
        flow: Default::default(),
    };
    let router = workers::ops::router(&config(db.url())).expect("router");
    let ready = get(&router, "/readyz").await;
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.text);
    assert_eq!(ready.json["failed"], json!([]));
    assert_eq!(get(&router, "/healthz").await.text, "ok");
    let metrics = get(&router, "/metrics").await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(metrics.text.contains("imagefleet_relay_leader"));

    let down =
        workers::ops::router(&config("postgres://postgres@127.0.0.1:1/nothing")).expect("router");
    let ready = get(&down, "/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        ready.json["failed"]
            .as_array()
            .is_some_and(|f| f.contains(&json!("postgres"))),
        "{}",
        ready.json
    );
    assert_eq!(get(&down, "/healthz").await.status, StatusCode::OK);
}
