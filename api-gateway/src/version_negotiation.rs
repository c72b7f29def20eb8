//! Glance's version negotiation (`glance/api/middleware/version_negotiation.py`), in
//! front of the Glance routes: the version comes from an `Accept` of
//! `application/vnd.openstack.images-<version>` or else from the path's first segment;
//! a served one (`v2`, `v2.1`, ... see `routes::versions::is_served`) is routed as
//! `/v2/...`, anything else, `/v9/images` or `/images` alike, is answered 300 with the
//! versions document. `/versions` is answered as it is.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::origin::Origin;
use crate::routes::versions::{choices, is_served};
use crate::state::AppState;

/// The media type prefix that names a version in `Accept`.
const VND_MIME_TYPE: &str = "application/vnd.openstack.images-";

/// Routes a request under a served version as `/v2/...`; answers 300 otherwise.
pub async fn negotiate_version(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let proxy_headers = state.settings.proxy_headers;
    let multi_store = state.stores.is_multi();
    let path = request.uri().path();
    let trimmed = path.trim_start_matches('/');
    let (first, rest) = trimmed.split_at(trimmed.find('/').unwrap_or(trimmed.len()));
    if first == "versions" {
        return next.run(request).await;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .unwrap_or_default();
    // Glance compares the whole Accept header's text after the prefix.
    let (version, rest) = match accept.strip_prefix(VND_MIME_TYPE) {
        Some(version) => (version, path),
        None => (first, rest),
    };
    // `/` has no version: Glance answers it with the same 300.
    if !is_served(version, multi_store) {
        return choices(
            &Origin::of(request.headers(), request.uri(), proxy_headers),
            multi_store,
        );
    }
    let routed = format!("/v2{rest}");
    if routed != path {
        let query = request
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        match format!("{routed}{query}").parse::<Uri>() {
            Ok(uri) => *request.uri_mut() = uri,
            Err(_) => {
                return choices(
                    &Origin::of(request.headers(), request.uri(), proxy_headers),
                    multi_store,
                );
            }
        }
    }
    next.run(request).await
}
