//! The request metrics middleware: counts every answer in
//! `imagefleet_http_requests_total{route,method,status}` and times it in
//! `imagefleet_http_request_duration_seconds{route,method}`. `route` is the matched
//! route template (`/v2/images/{id}`), never the raw path, so image ids do not become
//! label values; requests that match no route are counted under [`UNMATCHED`].
//!
//! Two parts because of where axum knows the route: [`remember_route`] runs as a route
//! layer inside the router (where `MatchedPath` exists) and hands the template out on
//! the response; [`track`] wraps the whole app, so it also sees 404s, the reshaped 405s
//! and every other layer's time.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use shared::metrics::{HTTP_REQUEST_DURATION, HTTP_REQUESTS};

/// The `route` label of a request no route matched (unknown paths).
pub const UNMATCHED: &str = "unmatched";

/// The matched route template, carried from the router to [`track`] on the response.
#[derive(Debug, Clone)]
struct RouteTemplate(String);

/// Route layer: copies the matched route template onto the response.
pub async fn remember_route(request: Request, next: Next) -> Response {
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| RouteTemplate(path.as_str().to_owned()));
    let mut response = next.run(request).await;
    if let Some(template) = template {
        response.extensions_mut().insert(template);
    }
    response
}

/// Outer layer: records the request once its response head is ready (a streamed body
/// may still be flowing; its bytes are counted by the data routes).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    let route = response
        .extensions()
        .get::<RouteTemplate>()
        .map_or(UNMATCHED.to_owned(), |t| t.0.clone());
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        HTTP_REQUESTS,
        "route" => route.clone(),
        "method" => method,
        "status" => status,
    )
    .increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION, "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

/// The `method` label: the standard methods by name, any other as `OTHER`, so a client
/// inventing methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
