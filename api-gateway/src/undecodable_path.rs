//! Paths whose percent-escapes do not decode to UTF-8 name no resource Glance could
//! hold: they get its 404 before any handler runs, instead of the plain-text 400 that
//! axum's `Path` extractor would answer with, outside Glance's error shape.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Answers 404 for a path that does not decode to UTF-8; passes everything else on.
pub async fn not_found_unless_utf8(request: Request, next: Next) -> Response {
    let decoded = percent_encoding::percent_decode_str(request.uri().path()).decode_utf8();
    if decoded.is_err() {
        return ApiError::not_found("The resource could not be found.").into_response();
    }
    next.run(request).await
}
