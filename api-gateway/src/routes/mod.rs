//! The HTTP routes, one file per endpoint group, registered in [`router`].

pub mod common;
pub mod versions;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the Glance v2 API this gateway serves.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(versions::multiple_choices))
        .route("/versions", get(versions::list))
        .route("/v2", get(v2_redirect))
}

/// `GET /v2` redirects to `/v2/` as Glance does.
async fn v2_redirect() -> impl IntoResponse {
    (StatusCode::FOUND, [(axum::http::header::LOCATION, "/v2/")])
}

/// Unknown paths: Glance-shaped 404.
pub async fn not_found() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}
