//! `ApiError`: every failure the gateway answers with, as Glance-shaped JSON
//! (`{"code", "title", "message"}`, `Content-Type: application/json`; `negotiate.rs`
//! turns it into plain text for clients that prefer it). 5xx are logged here, once, at
//! the boundary.

use crate::list_query::ListError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use db::list::ListReadError;
use domain::Rejection;

/// Seconds a client is told to wait when the command path is unavailable.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// A failed request.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// Headers the status needs (`Allow` on 405, `Retry-After` on 503).
    pub headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            headers: Vec::new(),
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 401, with the challenge HTTP requires (the scheme names the header to send).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::UNAUTHORIZED, message);
        error.headers.push((
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("X-Auth-Token realm=\"imagefleet\""),
        ));
        error
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 415.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
    }

    /// 503 with `Retry-After`: the command's outcome is unknown and safe to retry.
    pub fn unavailable(message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::SERVICE_UNAVAILABLE, message);
        error
            .headers
            .push((header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS)));
        error
    }

    /// 500: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The server failed to answer the request; it was logged.",
        )
    }

    /// 405 with the methods the path allows.
    pub fn method_not_allowed(allow: &str) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "The method is not allowed for this resource.",
        );
        if let Ok(value) = HeaderValue::from_str(allow) {
            error.headers.push((header::ALLOW, value));
        }
        error
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> Self {
        let status =
            StatusCode::from_u16(rejection.kind.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        Self::new(status, rejection.message)
    }
}

impl From<ListError> for ApiError {
    fn from(error: ListError) -> Self {
        Self::bad_request(error.to_string())
    }
}

impl From<ListReadError> for ApiError {
    fn from(error: ListReadError) -> Self {
        match error {
            ListReadError::MarkerNotFound { what, marker } => {
                ListError::MarkerNotFound { what, marker }.into()
            }
            ListReadError::Db(e) => Self::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = serde_json::json!({
            "code": self.status.as_u16(),
            "title": title,
            "message": &self.message,
        });
        let mut response = (self.status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(crate::negotiate::ErrorBody {
                status_line: format!("{} {title}", self.status.as_u16()),
                message: self.message,
            });
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}
