//! The reusable error responses operations refer to (`#/components/responses/...`), and
//! the sets of them a handler names in `#[utoipa::path(responses(...))]` instead of
//! listing each status. An error body is JSON when the caller's `Accept` prefers it and
//! plain text otherwise (`negotiate.rs`), so both media types are documented for every
//! error.

use std::collections::BTreeMap;

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::{ContentBuilder, Object, Ref, RefOr, Type};
use utoipa::{IntoResponses, ToResponse};

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

/// The reference an error status documents: 503 carries `Retry-After`, every other
/// error is the plain [`Error`].
fn error_reference(status: u16) -> (String, RefOr<Response>) {
    let name = if status == 503 {
        Unavailable::response().0
    } else {
        Error::response().0
    };
    (status.to_string(), Ref::from_response_name(name).into())
}

/// Defines a set of error statuses as a type `#[utoipa::path]` accepts in `responses(...)`.
macro_rules! error_set {
    ($($(#[$doc:meta])* $name:ident: $($status:literal),+;)+) => {$(
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                [$($status),+].into_iter().map(error_reference).collect()
            }
        }
    )+};
}

error_set! {
    /// Reading one resource at a path: no identity, not visible (or not a UUID), a
    /// failure.
    ReadErrors: 401, 404, 500, 503;
    /// Reading a page of a list: a bad query, no identity, a failure.
    ListErrors: 400, 401, 500, 503;
    /// A command about an image in the path: a bad request, no identity, not allowed,
    /// not visible, a conflict with the image's state, a failure.
    CommandErrors: 400, 401, 403, 404, 409, 500, 503;
    /// A command that creates a resource from a JSON body: as [`CommandErrors`], with
    /// 413 for a body over the limit and without the 404 (nothing is in the path).
    CreateErrors: 400, 401, 403, 409, 413, 500, 503;
    /// Any request that needs the database or the broker fails with these.
    ServerErrors: 500, 503;
    /// No identity.
    Unauthorized: 401;
    /// The caller sees the resource but may not do this with it.
    Forbidden: 403;
    /// Nothing there.
    NotFound: 404;
    /// The image went while its data was being written.
    Gone: 410;
    /// `If-Match` names a version the image has moved on from.
    PreconditionFailed: 412;
    /// The body is over the size limit.
    TooLarge: 413;
    /// The body's `Content-Type` is not one the operation reads.
    UnsupportedMediaType: 415;
    /// The `Range` cannot be served.
    RangeNotSatisfiable: 416;
    /// The server failed.
    Internal: 500;
}
