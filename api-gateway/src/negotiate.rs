//! Error bodies in the form the client asked for, as Glance (through WebOb) answers:
//! among `text/plain`, `text/html` and `application/json`, the first the `Accept`
//! header rates highest. A client asking for JSON (openstacksdk, `curl -H 'Accept:
//! application/json'`) gets `{"code", "title", "message"}`; one sending `*/*` or no
//! `Accept` (python-glanceclient, plain curl) gets the plain-text form it parses.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// What an error response carries, so this layer can re-render it.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    /// e.g. `404 Not Found`.
    pub status_line: String,
    /// The explanation.
    pub message: String,
}

/// The quality the `Accept` header gives `offer` (`type/subtype`); a missing header
/// accepts everything.
fn quality(accept: Option<&str>, offer: &str) -> f32 {
    let Some(accept) = accept else {
        return 1.0;
    };
    let (offer_type, _) = offer.split_once('/').unwrap_or((offer, ""));
    accept
        .split(',')
        .filter_map(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next()?.to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let matches = media == offer || media == "*/*" || media == format!("{offer_type}/*");
            matches.then_some(q)
        })
        .fold(0.0, f32::max)
}

/// Whether the caller prefers JSON over plain text and HTML (ties go to the earlier
/// offer, text/plain, as in WebOb).
pub fn prefers_json(headers: &HeaderMap) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let json = quality(accept, "application/json");
    json > 0.0 && json > quality(accept, "text/plain") && json > quality(accept, "text/html")
}

/// Renders error responses as plain text unless the caller prefers JSON.
pub async fn negotiate_errors(request: Request, next: Next) -> Response {
    let json = prefers_json(request.headers());
    let mut response = next.run(request).await;
    if json {
        return response;
    }
    let Some(error) = response.extensions().get::<ErrorBody>().cloned() else {
        return response;
    };
    let text = format!("{}\n\n{}\n\n   ", error.status_line, error.message);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    response.headers_mut().remove(header::CONTENT_LENGTH);
    *response.body_mut() = axum::body::Body::from(text);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        headers
    }

    #[test]
    fn json_only_when_asked_for_above_text() {
        assert!(prefers_json(&accept(Some("application/json"))));
        assert!(prefers_json(&accept(Some(
            "application/json, text/plain;q=0.5"
        ))));
        assert!(!prefers_json(&accept(Some("*/*"))));
        assert!(!prefers_json(&accept(None)));
        assert!(!prefers_json(&accept(Some("application/json, */*"))));
        assert!(!prefers_json(&accept(Some("text/html"))));
    }
}
