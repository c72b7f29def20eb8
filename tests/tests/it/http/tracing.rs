//! W3C trace context end to end: a request's `traceparent` and request id reach the
//! command on the bus (AMQP `traceparent` header, `correlation_id`) and the event the
//! worker's change publishes; a request or command without a valid trace starts a new
//! one. The test's own queues, bound beside the workers', see copies of both messages.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use bus::WorkQueue;
use bus::connection::connect;
use bus::headers::traceparent;
use domain::ImageId;
use futures::StreamExt;
use imagefleet_tests::fixtures::{create, envelope, owner};
use imagefleet_tests::{BusProbe, PROBE_DEADLINE, TestApp, TestBus, tap};
use lapin::message::Delivery;
use lapin::{Connection, Consumer};
use wire::{CommandEnvelope, CommandReply, EventEnvelope, TraceContext};

const INCOMING: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

/// Copies of the commands and events that cross one test's topology.
struct Tap {
    connection: Connection,
    commands: Consumer,
    events: Consumer,
}

impl Tap {
    async fn open(bus: &TestBus) -> Self {
        let connection = connect(bus.url(), "tracing-tap").await.expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        let topology = bus.topology();
        // The commands exchange is direct: a second queue under the commands queue's
        // routing key gets a copy of every command.
        let commands_key = topology.queue(WorkQueue::Commands);
        let commands = tap(
            &channel,
            &topology.commands_exchange(),
            &commands_key,
            "tap-commands",
        )
        .await;
        let events = tap(&channel, &topology.events_exchange(), "#", "tap-events").await;
        Self {
            connection,
            commands,
            events,
        }
    }

    async fn close(self) {
        self.connection
            .close(0, "test done".into())
            .await
            .expect("close the tap");
    }
}

async fn next(consumer: &mut Consumer) -> Delivery {
    tokio::time::timeout(PROBE_DEADLINE, consumer.next())
        .await
        .expect("a message within the deadline")
        .expect("the tap is open")
        .expect("a delivery")
}

/// The next event (with its trace header) caused by `correlation_id`, skipping others.
async fn event_of(consumer: &mut Consumer, correlation_id: &str) -> (EventEnvelope, TraceContext) {
    loop {
        let delivery = next(consumer).await;
        let event: EventEnvelope = serde_json::from_slice(&delivery.data).expect("an event");
        if event.correlation_id.as_deref() == Some(correlation_id) {
            let trace = traceparent(&delivery.properties).expect("the event's traceparent");
            return (event, trace);
        }
    }
}

fn create_request(request_id: &str, trace: &str) -> Request<Body> {
    let actor = owner();
    Request::builder()
        .method(Method::POST)
        .uri("/v2/images")
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .header("content-type", "application/json")
        .header("x-openstack-request-id", request_id)
        .header("traceparent", trace)
        .body(Body::from(r#"{"name": "traced"}"#))
        .expect("request")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_trace_reaches_the_command_and_its_event() {
    let app = TestApp::start().await;
    let mut tap = Tap::open(&app.bus).await;
    let incoming = TraceContext::parse(INCOMING).expect("a valid traceparent");
    let request_id = format!("req-{}", uuid::Uuid::new_v4());

    let created = app.send(create_request(&request_id, INCOMING)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);

    let command = next(&mut tap.commands).await;
    let sent = traceparent(&command.properties).expect("the command's traceparent");
    assert_eq!(sent.trace_id(), incoming.trace_id(), "same trace");
    assert_ne!(
        sent.parent_id(),
        incoming.parent_id(),
        "the gateway's span is the parent"
    );
    let body: CommandEnvelope = serde_json::from_slice(&command.data).expect("a command");
    assert_eq!(body.correlation_id.as_deref(), Some(request_id.as_str()));

    let (event, published) = event_of(&mut tap.events, &request_id).await;
    assert_eq!(event.event_type, "image.created");
    assert_eq!(event.command_id, body.command_id.as_uuid());
    assert_eq!(published.trace_id(), incoming.trace_id(), "same trace");
    assert_ne!(
        published.parent_id(),
        sent.parent_id(),
        "a later span sent it"
    );
    tap.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_valid_traceparent_a_new_trace_starts() {
    let app = TestApp::start().await;
    let mut tap = Tap::open(&app.bus).await;

    // An invalid header is ignored (W3C): the gateway starts a trace of its own.
    let request_id = format!("req-{}", uuid::Uuid::new_v4());
    let invalid = INCOMING.replace("-01", "-0x");
    let created = app.send(create_request(&request_id, &invalid)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let command = next(&mut tap.commands).await;
    let sent = traceparent(&command.properties).expect("a new trace");
    let given = TraceContext::parse(INCOMING).expect("valid").trace_id();
    assert_ne!(sent.trace_id(), given);
    let (_, published) = event_of(&mut tap.events, &request_id).await;
    assert_eq!(published.trace_id(), sent.trace_id());

    // A producer that sends no header: the command works, and its event starts a trace.
    let mut probe = BusProbe::new(&app.bus).await;
    let mut command = envelope(owner(), create(ImageId::generate(), "untraced"));
    let correlation = format!("untraced-{}", uuid::Uuid::new_v4());
    command.correlation_id = Some(correlation.clone());
    match probe.send(&command).await {
        CommandReply::Accepted { .. } => {}
        CommandReply::Rejected { message, .. } => panic!("rejected: {message}"),
    }
    let delivered = next(&mut tap.commands).await;
    assert!(traceparent(&delivered.properties).is_none(), "sent without");
    let (_, published) = event_of(&mut tap.events, &correlation).await;
    assert_ne!(published.trace_id(), sent.trace_id(), "a trace of its own");
    probe.close().await;
    tap.close().await;
    app.stop().await;
}
