//! A gateway whose broker blocks publishers (a memory alarm on a private node) sends
//! nothing, so it answers 503 at once (README, operating: "503 at once, unsent"), not
//! after the command's deadline. The command timeout here is ten minutes: a gateway
//! that waited for the deadline could not answer within the test's wait.

use std::sync::Arc;
use std::time::Duration;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use bus::Topology;
use bus::client::CommandClient;
use bus::connection::connect;
use imagefleet_tests::{TestDb, TestResponse};
use tower::ServiceExt;

use super::{DEADLINE, send_until_blocked};
use imagefleet_tests::PrivateBroker;

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_whose_broker_blocks_publishing_answers_503_at_once() {
    let node = tokio::task::spawn_blocking(PrivateBroker::start)
        .await
        .expect("starter")
        .expect("a private RabbitMQ node");
    let url = node.url();
    let db = TestDb::new().await.expect("test database");
    let topology = Topology::new("blocked-gateway");
    let connection = connect(&url, "blocked-gateway-test")
        .await
        .expect("connection");
    topology.declare(&connection).await.expect("declared");
    let commands = CommandClient::connect(&url, topology.clone())
        .await
        .expect("command client");
    node.memory_alarm(true).expect("alarm raised");
    send_until_blocked(&commands, "blocked-first", DEADLINE).await;

    let state = AppState {
        reads: db.pool().clone(),
        commands,
        identity: Arc::new(Identity {
            mode: AuthMode::Headers,
            default_actor: None,
        }),
        settings: Arc::new(Settings {
            command_timeout: Duration::from_secs(600),
            ..Settings::default()
        }),
        stores: db.stores(),
        fetcher: fetch::SafeFetcher::new(
            fetch::ImportFilter::default(),
            1 << 40,
            Duration::from_secs(60),
            5,
        ),
        send_notices: None,
    };
    let request = Request::post("/v2/images")
        .header("x-project-id", "p1")
        .header("x-user-id", "u1")
        .header("x-roles", "member,reader")
        .header("content-type", "application/json")
        .body(Body::from(r#"{"name": "blocked", "disk_format": "raw"}"#))
        .expect("request");
    let answered = tokio::time::timeout(DEADLINE, api_gateway::app(state).oneshot(request))
        .await
        .expect("answered before the command's deadline")
        .expect("infallible router");
    let response = TestResponse::read(answered).await;
    assert_eq!(
        response.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        response.text
    );
    node.memory_alarm(false).expect("alarm cleared");
}
