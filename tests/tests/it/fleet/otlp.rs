//! OTLP export (the `otlp` feature only): a request with a `traceparent` produces a
//! gateway span that reaches a collector over HTTP/protobuf in the caller's trace, under
//! the caller's span. The collector is a tiny local server that decodes `/v1/traces`.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Method, Request, StatusCode};
use imagefleet_tests::TestApp;
use imagefleet_tests::fixtures::owner;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use shared::telemetry::otlp::{OtlpConfig, OtlpExport};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt as _;
use wire::TraceContext;

const INCOMING: &str = "00-5b8aa5a2d2c872e8321cf37308d69df2-051581bf3cb55c13-01";

/// Serves `POST /v1/traces` on a free port and hands every decoded span to the test.
async fn collector() -> (String, mpsc::UnboundedReceiver<Span>) {
    let (spans, received) = mpsc::unbounded_channel();
    let route = axum::routing::post(move |body: Bytes| async move {
        let Ok(request) = ExportTraceServiceRequest::decode(body) else {
            return StatusCode::BAD_REQUEST;
        };
        let all = request
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans);
        for span in all.flat_map(|s| s.spans) {
            let _ = spans.send(span);
        }
        StatusCode::OK
    });
    let app = axum::Router::new().route("/v1/traces", route);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free local port");
    let address = listener.local_addr().expect("a bound address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/v1/traces"), received)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_span_is_exported_in_the_callers_trace() {
    let app = TestApp::start().await;
    let (endpoint, mut received) = collector().await;
    let export = OtlpExport::start(&OtlpConfig {
        traces_endpoint: Some(endpoint),
        service_name: "imagefleet-test".to_owned(),
    })
    .expect("the exporter starts");
    // This thread's subscriber only: the router runs on the test's own thread.
    let subscriber = tracing_subscriber::registry().with(export.layer());
    let guard = tracing::subscriber::set_default(subscriber);
    let actor = owner();
    let request = Request::builder()
        .method(Method::GET)
        .uri("/v2/images")
        .header("x-project-id", &actor.project_id)
        .header("x-user-id", &actor.user_id)
        .header("x-roles", actor.roles.join(","))
        .header("traceparent", INCOMING)
        .body(Body::empty())
        .expect("request");
    let listed = app.send(request).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    drop(guard);
    // Shutting down flushes the batch; it blocks, so off the runtime's threads.
    tokio::task::spawn_blocking(move || export.shutdown())
        .await
        .expect("the export shuts down");

    let incoming = TraceContext::parse(INCOMING).expect("valid");
    let span = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let span = received.recv().await.expect("the collector is up");
            if span.name == "request" {
                return span;
            }
        }
    })
    .await
    .expect("the request span within 30 s");
    assert_eq!(span.trace_id, incoming.trace_id().to_bytes().to_vec());
    assert_eq!(
        span.parent_span_id,
        incoming.parent_id().to_bytes().to_vec()
    );
    app.stop().await;
}
