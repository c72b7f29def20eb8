//! `TestApp`'s requests: sent in-process through the gateway's router
//! (`tower::ServiceExt::oneshot`) or over a real port, with identity headers and typed
//! helpers per method, and the response read to the end.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use domain::Actor;
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::TestApp;

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
}
