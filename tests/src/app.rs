//! `TestApp`: the whole stack for one test — its own database and topology, workers,
//! and the gateway's router called in-process through `tower::ServiceExt::oneshot`, with
//! typed request helpers.

use std::sync::Arc;

use api_gateway::identity::{AuthMode, Identity};
use api_gateway::{AppState, Settings};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use bus::client::CommandClient;
use domain::{Actor, DomainConfig};
use fetch::{ImportFilter, SafeFetcher};
use http_body_util::BodyExt;
use std::time::Duration;
use tower::ServiceExt;
use workers::jobs::ImportPlugins;

use crate::{TestBus, TestDb, TestWorker};

mod stores;

use stores::StoreChoice;

/// A response, with its body read (JSON when it parses, else `Value::Null` and `text`).
#[derive(Debug)]
pub struct TestResponse {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON, or null.
    pub json: serde_json::Value,
    /// The body as text.
    pub text: String,
    /// The body's bytes (image data).
    pub bytes: axum::body::Bytes,
}

/// The stack of one test.
pub struct TestApp {
    /// The test's database.
    pub db: TestDb,
    /// The test's topology.
    pub bus: TestBus,
    workers: Vec<TestWorker>,
    router: Router,
    /// What [`TestApp::start_worker`] starts another worker with.
    worker_setup: WorkerSetup,
}

/// The stores, import filter and multipart grace of an app started on stores of its
/// own, for workers started later.
#[derive(Clone)]
struct WorkerSetup {
    on_store: Option<(store::Stores, Duration)>,
    filter: ImportFilter,
}

impl TestApp {
    /// One worker, header identity, default settings.
    pub async fn start() -> Self {
        Self::start_with(
            DomainConfig::default(),
            Settings::default(),
            AuthMode::Headers,
            None,
        )
        .await
    }

    /// A stack with these settings.
    pub async fn start_with(
        domain: DomainConfig,
        settings: Settings,
        mode: AuthMode,
        default_actor: Option<Actor>,
    ) -> Self {
        Self::start_full(
            domain,
            settings,
            mode,
            default_actor,
            ImportFilter::default(),
            None,
            None,
        )
        .await
    }

    /// A stack whose web-downloads and locations are checked by `filter` (tests allow
    /// their own HTTP server on 127.0.0.1 through it).
    pub async fn start_importing(
        domain: DomainConfig,
        settings: Settings,
        filter: ImportFilter,
    ) -> Self {
        Self::start_full(
            domain,
            settings,
            AuthMode::Headers,
            None,
            filter,
            None,
            None,
        )
        .await
    }

    /// A stack like [`TestApp::start_importing`] whose imports run `plugins`.
    pub async fn start_with_plugins(
        domain: DomainConfig,
        filter: ImportFilter,
        plugins: ImportPlugins,
    ) -> Self {
        let mode = AuthMode::Headers;
        let settings = Settings::default();
        Self::start_full(domain, settings, mode, None, filter, Some(plugins), None).await
    }

    async fn start_full(
        domain: DomainConfig,
        settings: Settings,
        mode: AuthMode,
        default_actor: Option<Actor>,
        filter: ImportFilter,
        plugins: Option<ImportPlugins>,
        on_store: Option<StoreChoice>,
    ) -> Self {
        let db = TestDb::new().await.expect("test database");
        let bus = TestBus::new().await.expect("test bus");
        let plugins = plugins.unwrap_or_default();
        let on_store = on_store.map(|choose| choose(&db));
        let worker_setup = WorkerSetup {
            on_store: on_store.clone(),
            filter: filter.clone(),
        };
        let (stores, worker) = match on_store {
            None => (
                db.stores(),
                TestWorker::start_with_plugins(
                    &db,
                    &bus,
                    "app-worker",
                    domain,
                    filter.clone(),
                    plugins,
                ),
            ),
            Some((stores, grace)) => (
                stores.clone(),
                TestWorker::start_on_stores_importing(
                    &db,
                    &bus,
                    "app-worker",
                    stores,
                    grace,
                    filter.clone(),
                ),
            ),
        };

        let workers = vec![worker];
        let commands = CommandClient::connect(bus.url(), bus.topology().clone())
            .await
            .expect("command client");
        let state = AppState {
            reads: db.pool().clone(),
            commands,
            identity: Arc::new(Identity {
                mode,
                default_actor,
            }),
            settings: Arc::new(settings),
            stores,
            fetcher: SafeFetcher::new(filter, 1 << 40, Duration::from_secs(60), 5),
            send_notices: Some(Arc::new(api_gateway::send_notice::SendNotifier::new(
                bus.url(),
                bus.notifications(),
            ))),
        };
        let router = api_gateway::app(state);
        Self {
            db,
            bus,
            workers,
            router,
            worker_setup,
        }
    }

    /// Sends a request as `actor` (identity headers), with an optional JSON body.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        actor: Option<&Actor>,
        body: Option<(&str, Vec<u8>)>,
    ) -> TestResponse {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(actor) = actor {
            builder = builder
                .header("x-project-id", &actor.project_id)
                .header("x-user-id", &actor.user_id)
                .header("x-roles", actor.roles.join(","));
        }
        let request = match body {
            Some((content_type, bytes)) => builder
                .header("content-type", content_type)
                .body(Body::from(bytes)),
            None => builder.body(Body::empty()),
        }
        .expect("request");
        self.send(request).await
    }

    /// Serves the gateway on a free 127.0.0.1 port as `serve` does (plain `axum::serve`),
    /// for tests that need a real HTTP connection; it stops with the test's runtime.
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let address = listener.local_addr().expect("a bound address");
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        address
    }

    /// Sends a prepared request and hands back the response unread (for streaming
    /// bodies too large to hold).
    pub async fn call_raw(&self, request: Request<Body>) -> axum::response::Response {
        self.router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router")
    }

    /// Sends a prepared request.
    pub async fn send(&self, mut request: Request<Body>) -> TestResponse {
        // Like openstacksdk, ask for JSON unless the test chose: error bodies are then
        // JSON (see the gateway's negotiate.rs).
        let accept = axum::http::header::ACCEPT;
        if !request.headers().contains_key(&accept) {
            request.headers_mut().insert(
                accept,
                axum::http::HeaderValue::from_static("application/json"),
            );
        }
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("infallible router");
        TestResponse::read(response).await
    }
}

impl TestResponse {
    /// Reads a response to the end.
    pub async fn read(response: axum::response::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        TestResponse {
            status,
            headers,
            json,
            text,
            bytes,
        }
    }
}

impl TestApp {
    /// `GET`.
    pub async fn get(&self, path: &str, actor: &Actor) -> TestResponse {
        self.request(Method::GET, path, Some(actor), None).await
    }

    /// `POST` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        actor: &Actor,
        body: serde_json::Value,
    ) -> TestResponse {
        self.request(
            Method::POST,
            path,
            Some(actor),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// `PATCH` with a JSON-patch body of Glance's media type.
    pub async fn patch(
        &self,
        path: &str,
        actor: &Actor,
        operations: serde_json::Value,
    ) -> TestResponse {
        let media = "application/openstack-images-v2.1-json-patch";
        self.request(
            Method::PATCH,
            path,
            Some(actor),
            Some((media, operations.to_string().into_bytes())),
        )
        .await
    }

    /// `PUT` with a JSON body.
    pub async fn put_json(
        &self,
        path: &str,
        actor: &Actor,
        body: serde_json::Value,
    ) -> TestResponse {
        self.request(
            Method::PUT,
            path,
            Some(actor),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// `PUT` without a body.
    pub async fn put(&self, path: &str, actor: &Actor) -> TestResponse {
        self.request(Method::PUT, path, Some(actor), None).await
    }

    /// `DELETE`.
    pub async fn delete(&self, path: &str, actor: &Actor) -> TestResponse {
        self.request(Method::DELETE, path, Some(actor), None).await
    }

    /// `POST` without a body.
    pub async fn post(&self, path: &str, actor: &Actor) -> TestResponse {
        self.request(Method::POST, path, Some(actor), None).await
    }

    /// Stops the workers gracefully (their janitor's lock released), keeping the
    /// database, the topology and the router.
    pub async fn stop_workers(&mut self) {
        for worker in self.workers.drain(..) {
            worker.stop().await;
        }
    }

    /// Stops the workers gracefully.
    pub async fn stop(self) {
        for worker in self.workers {
            worker.stop().await;
        }
    }
}
