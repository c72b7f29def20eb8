//! imagefleet's HTTP gateway, speaking OpenStack Glance's v2 Image API. It validates and
//! authorises requests, reads straight from Postgres, and turns every state change into
//! a command answered by the workers; it never changes a status itself.

pub mod byte_count;
pub mod command;
pub mod config;
pub mod error;
pub mod identity;
pub mod list_query;
pub mod metrics_layer;
pub mod negotiate;
pub mod openapi;
pub mod origin;
pub mod quota;
pub mod rejections;
pub mod routes;
pub mod send_notice;
pub mod serve;
pub mod state;
pub mod trace;
pub mod undecodable_path;
pub mod version_negotiation;
pub mod view;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use state::{AppState, Settings};

/// The header Glance clients read the request id from.
pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";

/// Largest request body accepted outside image data (JSON documents).
pub const MAX_JSON_BODY: usize = 1 << 20;

/// Glance-style request ids: `req-<uuid>`.
#[derive(Clone, Copy, Default)]
struct GlanceRequestId;

impl MakeRequestId for GlanceRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&format!("req-{}", uuid::Uuid::new_v4()))
            .ok()
            .map(RequestId::new)
    }
}

/// The gateway's router with its middleware: request ids (accepted from the client or
/// made), the request span with its W3C trace, request metrics, Glance's version
/// negotiation and Glance-shaped 404s;
/// plus the operations endpoints (`/metrics`, `/healthz`, `/readyz`), which need no
/// identity. Installs the process's metrics recorder if nothing did yet.
pub fn app(state: AppState) -> Router {
    shared::metrics::install();
    let request_id = HeaderName::from_static(REQUEST_ID_HEADER);
    let remember_route = axum::middleware::from_fn(metrics_layer::remember_route);
    let ops = routes::ops::routes()
        .merge(openapi::routes())
        .route_layer(remember_route.clone())
        .with_state(state.clone());
    let api = routes::routes()
        .route_layer(remember_route)
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn(
            undecodable_path::not_found_unless_utf8,
        ))
        .with_state(state.clone());
    // Negotiation rewrites the path, so it runs before the Glance routes are matched.
    let api = Router::new()
        .fallback_service(api)
        .layer(axum::middleware::from_fn_with_state(
            state,
            version_negotiation::negotiate_version,
        ));
    // The reshaping of axum's own 4xx wraps the whole router, outside the method routers,
    // so it sees the `Allow` header they add after their fallback ran.
    Router::new()
        .merge(ops)
        .fallback_service(api)
        .layer(axum::middleware::map_response(rejections::glance_shaped))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY))
        .layer(axum::middleware::from_fn(negotiate::negotiate_errors))
        .layer(axum::middleware::from_fn(metrics_layer::track))
        // TraceLayer logs into the request span `trace::request_span` opened around it
        // (its own default span would lack the request id and the trace).
        .layer(TraceLayer::new_for_http().make_span_with(|_: &Request<_>| Span::current()))
        .layer(axum::middleware::from_fn(trace::request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, GlanceRequestId))
}
