//! Identity, request ids, error negotiation, 503 and policy over HTTP (SPEC 2, 7, 11, 12):
//! trusted headers and the token file, the default identity, `X-Openstack-Request-Id` as
//! the command's correlation id, JSON or plain-text error bodies, a 503 with `Retry-After`
//! when no worker answers (and an idempotent retry once one does), and who may do what to
//! a private image. This file holds the helpers; each subject has a module.

mod errors;
mod headers;
mod policy;
mod request_ids;
mod tokens;
mod unavailable;

use std::sync::Arc;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use bus::client::CommandClient;
use imagefleet_tests::{TestApp, TestBus, TestDb, TestResponse, TestWorker};
use tower::ServiceExt;

/// A request with these headers and an optional JSON body, as a client would build it
/// (no `Accept` unless given).
pub fn build(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    match body {
        Some(body) => builder
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned())),
        None => builder.body(Body::empty()),
    }
    .expect("request")
}

/// A header as text.
pub fn header_of<'a>(response: &'a TestResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

/// A Glance-shaped JSON error with this status and its canonical title, typed
/// `application/json`, with a request id.
#[track_caller]
pub fn assert_json_error(response: &TestResponse, status: StatusCode) {
    assert_eq!(response.status, status, "{}", response.text);
    assert_eq!(
        header_of(response, header::CONTENT_TYPE.as_str()),
        Some("application/json"),
        "{:?}",
        response.headers
    );
    assert_eq!(response.json["code"], status.as_u16(), "{}", response.text);
    assert_eq!(
        response.json["title"].as_str(),
        status.canonical_reason(),
        "{}",
        response.text
    );
    let message = response.json["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{}", response.text);
    assert!(
        header_of(response, "x-openstack-request-id").is_some_and(|id| id.starts_with("req-")),
        "{:?}",
        response.headers
    );
}

/// The `owner` of an image answer.
pub fn owner_of(response: &TestResponse) -> &str {
    response.json["owner"].as_str().unwrap_or_default()
}

/// The images of a list answer.
pub fn listed(response: &TestResponse) -> usize {
    response.json["images"].as_array().map_or(0, Vec::len)
}

/// The history entries of an image, as `actor` sees them.
pub async fn history(app: &TestApp, id: &str, headers: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let path = format!("/v2/images/{id}/history");
    let response = app.send(build(Method::GET, &path, headers, None)).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.text);
    response.json["history"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The gateway's router over a database and topology of its own, built as `TestApp`
/// builds it but with no worker unless [`Stack::start_worker`] starts one, and called
/// without any header added (`TestApp::send` adds `Accept: application/json`).
pub struct Stack {
    db: TestDb,
    bus: TestBus,
    router: Router,
}

impl Stack {
    /// The router with header identity, these settings and no worker.
    pub async fn without_worker(settings: Settings) -> Self {
        let db = TestDb::new().await.expect("test database");
        let bus = TestBus::new().await.expect("test bus");
        let commands = CommandClient::connect(bus.url(), bus.topology().clone())
            .await
            .expect("command client");
        let state = AppState {
            reads: db.pool().clone(),
            commands,
            identity: Arc::new(Identity {
                mode: AuthMode::Headers,
                default_actor: None,
            }),
            settings: Arc::new(settings),
            stores: db.stores(),
            fetcher: fetch::SafeFetcher::new(
                fetch::ImportFilter::default(),
                1 << 40,
                std::time::Duration::from_secs(60),
                5,
            ),
            send_notices: None,
        };
        let router = api_gateway::app(state);
        Self { db, bus, router }
    }

    /// Starts a worker on the stack's database and topology; the caller stops it.
    /// The stack's database.
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    pub fn start_worker(&self) -> TestWorker {
        TestWorker::start(&self.db, &self.bus, "identity-late-worker")
    }

    /// Sends the request as it is.
    pub async fn call(&self, request: Request<Body>) -> TestResponse {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        TestResponse::read(response).await
    }
}
