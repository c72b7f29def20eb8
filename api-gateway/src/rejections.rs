//! axum's own 4xx answers in Glance's error shape: the method routers' empty 405 (with
//! its `Allow` header) and the extractors' plain-text rejections (a body over the size
//! limit, a query or path that does not parse). Every 4xx a client sees then carries
//! the same `{code, title, message}` body, negotiated like the handlers' errors.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::negotiate::ErrorBody;

/// The most of a rejection's text kept as the error message.
const MAX_MESSAGE: usize = 16 * 1024;

/// Reshapes a 4xx that did not come from [`ApiError`]; passes everything else on.
pub async fn glance_shaped(response: Response) -> Response {
    let status = response.status();
    if !status.is_client_error() || response.extensions().get::<ErrorBody>().is_some() {
        return response;
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        return ApiError::method_not_allowed(&allow).into_response();
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_MESSAGE)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("Bad request")
            .to_owned()
    } else {
        text
    };
    let error = ApiError::new(status, message);
    let mut response = error.into_response();
    // Keep what the rejection said besides its body (e.g. `Content-Range` on a 416),
    // every value of a repeated header included.
    let mut headers = parts.headers;
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
    response.headers_mut().extend(headers);
    response
}
