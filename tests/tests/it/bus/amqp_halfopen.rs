//! A broker connection that hangs (blackholed through the fault proxy: packets vanish,
//! nothing closes) is noticed by the AMQP heartbeat. A worker's hung connection is
//! closed by the broker, which gives its unacknowledged deliveries to another worker:
//! every command is applied exactly once, and the hung worker serves again once the
//! network passes. The gateway's client answers 503 at the command's deadline, turns
//! `/readyz` not ready, and recovers. Each test prints the seconds it measured.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bus::WorkQueue;
use bus::client::CommandClient;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use domain::ImageId;
use fetch::{ImportFilter, SafeFetcher};
use imagefleet_tests::fixtures::{create, envelope, owner};
use imagefleet_tests::wait::wait_until;
use imagefleet_tests::{BusProbe, Fault, FaultProxy, TestBus, TestDb, TestResponse, TestWorker};
use serde_json::json;
use tower::ServiceExt;
use wire::{CommandEnvelope, CommandReply};

/// How long a hung connection may go unnoticed: a few heartbeats at the default, where
/// the broker's suggested 60 s took two minutes.
const NOTICE: Duration = Duration::from_secs(60);
/// Generous bound for everything else (reconnects with backoff on a loaded machine).
const DEADLINE: Duration = Duration::from_secs(120);
/// How long the test's client waits for a reply before it sends the command again
/// under the same id, as a client that timed out would.
const PATIENCE: Duration = Duration::from_secs(2);
/// Commands sent before the fault, and again into it.
const BATCH: usize = 10;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Images named `name` in the test's database.
async fn images_named(db: &TestDb, name: &str) -> i64 {
    let mut conn = db.conn().await.expect("connection");
    diesel::sql_query("SELECT count(*) AS n FROM images WHERE name = $1")
        .bind::<Text, _>(name)
        .get_result::<Count>(&mut conn)
        .await
        .expect("counted")
        .n
}

/// The broker's count of `queue`'s messages: (ready and unacknowledged, unacknowledged).
async fn queue_counts(queue: &str) -> (u64, u64) {
    let queue = queue.to_owned();
    tokio::task::spawn_blocking(move || {
        let listing = std::process::Command::new("rabbitmqctl")
            .args([
                "list_queues",
                "name",
                "messages",
                "messages_unacknowledged",
                "-q",
            ])
            .output()
            .expect("rabbitmqctl runs");
        let text = String::from_utf8_lossy(&listing.stdout);
        text.lines()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .find(|cells| <[&str]>::first(cells) == Some(&queue.as_str()))
            .and_then(|cells| Some((cells.get(1)?.parse().ok()?, cells.get(2)?.parse().ok()?)))
            .unwrap_or((u64::MAX, u64::MAX))
    })
    .await
    .expect("lister")
}

/// Sends `commands` until each has a reply, re-sending the unanswered ones under their
/// own ids after every [`PATIENCE`] without a reply.
async fn send_until_answered(probe: &mut BusProbe, commands: &[CommandEnvelope]) {
    let mut unanswered: BTreeSet<_> = commands.iter().map(|c| c.command_id).collect();
    probe.publish_all(commands).await;
    let deadline = Instant::now() + DEADLINE;
    while !unanswered.is_empty() {
        assert!(
            Instant::now() < deadline,
            "{} commands unanswered after {DEADLINE:?}",
            unanswered.len()
        );
        match tokio::time::timeout(PATIENCE, probe.reply()).await {
            Ok(reply) => match reply.reply {
                CommandReply::Accepted { command_id, .. } => {
                    unanswered.remove(&command_id);
                }
                CommandReply::Rejected { message, .. } => panic!("rejected: {message}"),
            },
            Err(_) => {
                let again: Vec<_> = commands
                    .iter()
                    .filter(|c| unanswered.contains(&c.command_id))
                    .cloned()
                    .collect();
                probe.publish_all(&again).await;
            }
        }
    }
}

fn creates(prefix: &str) -> Vec<CommandEnvelope> {
    (0..BATCH)
        .map(|n| {
            envelope(
                owner(),
                create(ImageId::generate(), &format!("{prefix}-{n}")),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_broker_connection_hangs_gives_back_its_deliveries_and_reconnects() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let queue = bus.topology().queue(WorkQueue::Commands);
    let proxy = FaultProxy::for_url(bus.url()).await.expect("proxy");
    let via = proxy.url_through(bus.url()).expect("url through the proxy");
    let hung = TestWorker::start_via(&db, &bus, "halfopen-worker", &via);
    let mut probe = BusProbe::new(&bus).await;
    let before = creates("before");
    send_until_answered(&mut probe, &before).await;

    // Mid-traffic: a batch goes out as the network goes silent; the next is pushed to
    // the hung worker (the broker still counts it alive) and vanishes.
    let racing = creates("racing");
    probe.publish_all(&racing).await;
    proxy.set(Fault::Blackhole);
    let silent = Instant::now();
    let held = creates("held");
    probe.publish_all(&held).await;
    wait_until(DEADLINE, "the hung worker holds deliveries", async || {
        queue_counts(&queue).await.1 > 0
    })
    .await
    .expect("deliveries held by the hung worker");

    let helper = TestWorker::start(&db, &bus, "halfopen-helper");
    let all: Vec<_> = racing.iter().chain(&held).cloned().collect();
    send_until_answered(&mut probe, &all).await;
    wait_until(
        NOTICE,
        "the broker closes the hung connection and its deliveries are settled",
        async || queue_counts(&queue).await == (0, 0),
    )
    .await
    .expect("the broker gives back the hung worker's deliveries");
    let noticed = silent.elapsed();

    proxy.set(Fault::Pass);
    let passing = Instant::now();
    helper.stop().await;
    let after = creates("after");
    send_until_answered(&mut probe, &after).await;
    let recovered = passing.elapsed();
    eprintln!(
        "hung worker: deliveries given back {:.1} s after the network went silent; \
         served again {:.1} s after it passed",
        noticed.as_secs_f64(),
        recovered.as_secs_f64()
    );

    for command in before.iter().chain(&all).chain(&after) {
        let name = match &command.command {
            domain::Command::CreateImage(create) => create.name.clone(),
            other => panic!("not a create: {other:?}"),
        }
        .expect("named");
        assert_eq!(images_named(&db, &name).await, 1, "{name} exactly once");
    }
    probe.close().await;
    hung.stop().await;
}

async fn call(
    router: &Router,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> TestResponse {
    let actor = owner();
    let builder = Request::builder()
        .method(method)
        .uri(path)
        .header("accept", "application/json")
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","));
    let request = match body {
        Some(body) => builder
            .header("content-type", "application/json")
            .body(Body::from(body.to_string())),
        None => builder.body(Body::empty()),
    }
    .expect("request");
    let response = router.clone().oneshot(request).await.expect("infallible");
    TestResponse::read(response).await
}

async fn create_image(router: &Router, name: &str) -> StatusCode {
    call(
        router,
        Method::POST,
        "/v2/images",
        Some(json!({"name": name})),
    )
    .await
    .status
}

async fn broker_ready(router: &Router) -> bool {
    let readyz = call(router, Method::GET, "/readyz", None).await;
    let failed = readyz.json["failed"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    readyz.status == StatusCode::OK && !failed.contains(&json!("rabbitmq"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_whose_broker_connection_hangs_answers_503_is_not_ready_and_recovers() {
    let db = TestDb::new().await.expect("test database");
    let bus = TestBus::new().await.expect("test bus");
    let worker = TestWorker::start(&db, &bus, "halfopen-gateway-worker");
    let proxy = FaultProxy::for_url(bus.url()).await.expect("proxy");
    let via = proxy.url_through(bus.url()).expect("url through the proxy");
    let commands = CommandClient::connect(&via, bus.topology().clone())
        .await
        .expect("command client");
    let router = api_gateway::app(AppState {
        reads: db.pool().clone(),
        commands: commands.clone(),
        identity: Arc::new(Identity {
            mode: AuthMode::Headers,
            default_actor: None,
        }),
        settings: Arc::new(Settings::default()),
        stores: db.stores(),
        fetcher: SafeFetcher::new(ImportFilter::default(), 1 << 20, DEADLINE, 5),
        send_notices: None,
    });
    assert_eq!(
        create_image(&router, "gw-before").await,
        StatusCode::CREATED
    );
    assert!(broker_ready(&router).await, "ready before the fault");

    proxy.set(Fault::Blackhole);
    let silent = Instant::now();
    let answered = tokio::time::timeout(DEADLINE, create_image(&router, "gw-during"))
        .await
        .expect("the request is answered, not left hanging");
    assert_eq!(answered, StatusCode::SERVICE_UNAVAILABLE);
    let refused = silent.elapsed();
    wait_until(NOTICE, "/readyz fails its rabbitmq check", async || {
        !broker_ready(&router).await
    })
    .await
    .expect("not ready while the connection hangs");
    let noticed = silent.elapsed();

    proxy.set(Fault::Pass);
    let passing = Instant::now();
    wait_until(DEADLINE, "/readyz passes again", async || {
        broker_ready(&router).await
    })
    .await
    .expect("ready after the fault");
    assert_eq!(create_image(&router, "gw-after").await, StatusCode::CREATED);
    let recovered = passing.elapsed();
    eprintln!(
        "hung gateway client: 503 after {:.1} s, not ready {:.1} s after the network went \
         silent; ready and serving {:.1} s after it passed",
        refused.as_secs_f64(),
        noticed.as_secs_f64(),
        recovered.as_secs_f64()
    );
    assert_eq!(
        images_named(&db, "gw-during").await,
        0,
        "a 503 was not applied"
    );
    assert_eq!(images_named(&db, "gw-after").await, 1);
    commands.close().await;
    worker.stop().await;
}
