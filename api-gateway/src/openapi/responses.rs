//! The reusable error responses operations refer to (`#/components/responses/...`). An
//! error body is JSON when the caller's `Accept` prefers it and plain text otherwise
//! (`negotiate.rs`), so both media types are documented for every error.

use utoipa::ToResponse;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Type};

/// Any 4xx or 5xx: `{"code", "title", "message"}` or its plain-text form.
pub struct Error;

/// 503 with `Retry-After`: the database, the broker or the store did not answer in time.
pub struct Unavailable;

/// The two bodies of an error.
fn error_response(description: &str) -> ResponseBuilder {
    let json = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .build();
    let text = ContentBuilder::new()
        .schema(Some(Object::with_type(Type::String)))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", json)
        .content("text/plain", text)
}

impl<'r> ToResponse<'r> for Error {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = error_response(
            "A Glance-shaped error: JSON when `Accept` prefers application/json, else text",
        );
        ("Error", response.build().into())
    }
}

impl<'r> ToResponse<'r> for Unavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry = HeaderBuilder::new()
            .schema(Some(Object::with_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying"))
            .build();
        let response = error_response(
            "A dependency (database, message broker or image store) did not answer in time; \
             the request may be retried",
        )
        .header("Retry-After", retry);
        ("Unavailable", response.build().into())
    }
}
