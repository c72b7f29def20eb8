//! A small HTTP server on 127.0.0.1 that serves fixed bodies by path (404 for any other
//! path): the far end of web-download imports and of locations in tests. It stops when
//! dropped.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// A running source of image bytes.
pub struct HttpSource {
    address: SocketAddr,
    server: JoinHandle<()>,
}

impl HttpSource {
    /// Serves each `(path, body)` at `http://127.0.0.1:<port>/<path>`.
    pub async fn start(files: Vec<(&str, Vec<u8>)>) -> Self {
        let files: Arc<HashMap<String, Vec<u8>>> = Arc::new(
            files
                .into_iter()
                .map(|(path, body)| (path.to_owned(), body))
                .collect(),
        );
        let app = Router::new()
            .route("/{*path}", get(serve))
            .with_state(files);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port on 127.0.0.1");
        let address = listener.local_addr().expect("bound address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { address, server }
    }

    /// The port it listens on (tests allow it in their import filter).
    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The URL of a path.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.address.port())
    }
}

impl Drop for HttpSource {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn serve(
    State(files): State<Arc<HashMap<String, Vec<u8>>>>,
    Path(path): Path<String>,
) -> Response {
    match files.get(&path) {
        Some(body) => body.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
