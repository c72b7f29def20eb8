//! The request span: one per request, carrying the request id and the W3C trace, opened
//! before anything else runs so that every log line of the request (tower-http's
//! `TraceLayer` included, which logs into it) shows both. A valid incoming
//! `traceparent` header is continued; a missing or invalid one (ignored, as the W3C
//! specification asks) starts a new trace. The gateway's own context (same trace, this
//! span as parent) is left in the request's extensions for the command it sends.

use axum::extract::Request;
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::RequestId;
use tracing::Instrument;
use wire::TraceContext;
use wire::trace_context::TRACEPARENT;

/// Opens the request span, continues the caller's trace, and runs the request in it.
/// Must run inside the request-id layer, which sets the id it reads.
pub async fn request_span(mut request: Request, next: Next) -> Response {
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
        .unwrap_or_default();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        uri = %request.uri(),
        version = ?request.version(),
        request.id = request_id,
        trace.id = tracing::field::Empty,
    );
    // Before the span is first entered: an exported span's parent is fixed then.
    let context = shared::telemetry::continue_trace(&span, incoming(request.headers()));
    request.extensions_mut().insert(context);
    next.run(request).instrument(span).await
}

/// The caller's trace context: exactly one `traceparent` header that parses. Two
/// headers are as good as none (the W3C specification allows only one).
fn incoming(headers: &HeaderMap) -> Option<TraceContext> {
    let mut values = headers.get_all(TRACEPARENT).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    TraceContext::parse(value.to_str().ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(TRACEPARENT, value.parse().expect("a header value"));
        }
        headers
    }

    #[test]
    fn one_valid_header_is_continued() {
        let context = incoming(&headers(&[VALUE])).expect("continued");
        assert_eq!(context.to_string(), VALUE);
    }

    #[test]
    fn invalid_missing_or_repeated_headers_are_ignored() {
        assert_eq!(incoming(&headers(&[])), None);
        assert_eq!(incoming(&headers(&["00-nonsense"])), None);
        assert_eq!(incoming(&headers(&[VALUE, VALUE])), None);
    }
}
