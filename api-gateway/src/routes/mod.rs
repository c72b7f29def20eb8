//! The Glance v2 routes, registered in [`routes()`], one file per endpoint group:
//! `versions`, `images`, `tags`, `members`, `actions`, `history`, `image_data` (upload
//! and staging), `image_download`, `import`, `locations`, `stores` (removing one
//! store's copy), `tasks`, `schemas` and `info`;
//! `ops` holds the operations endpoints, which `crate::app` serves without identity.
//! Beside them, what the handlers share (`common`: path ids, query pairs, the image the
//! caller may see, JSON bodies, commands answered with 204) and the request bodies
//! parsed in files of their own: `image_create` (`POST /v2/images`), `image_patch` and
//! `location_patch` (`PATCH /v2/images/{id}`), `import_stores` (an import's target
//! stores and the import methods on offer).

pub mod actions;
pub mod common;
pub mod history;
pub mod image_create;
pub mod image_data;
pub mod image_download;
pub mod image_patch;
pub mod images;
pub mod import;
pub mod import_stores;
pub mod info;
pub mod location_patch;
pub mod locations;
pub mod members;
pub mod ops;
pub mod schemas;
pub mod stores;
pub mod tags;
pub mod tasks;
pub mod versions;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{any, delete, get, post, put};

use crate::error::ApiError;
use crate::state::AppState;

/// Every route of the Glance v2 API this gateway serves.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", any(versions::multiple_choices))
        .route("/versions", any(versions::list))
        .route("/v2", get(v2_redirect))
        .route("/v2/images", get(images::list).post(images::create))
        .route(
            "/v2/images/{id}",
            get(images::show)
                .patch(images::update)
                .delete(images::delete),
        )
        .route(
            "/v2/images/{id}/tags/{tag}",
            put(tags::add).delete(tags::remove),
        )
        .route(
            "/v2/images/{id}/members",
            get(members::list).post(members::create),
        )
        .route(
            "/v2/images/{id}/members/{member}",
            get(members::show)
                .put(members::update)
                .delete(members::remove),
        )
        .route("/v2/images/{id}/actions/{action}", post(actions::act))
        .route("/v2/images/{id}/history", get(history::show))
        .route(
            "/v2/images/{id}/file",
            put(image_data::upload).get(image_download::download),
        )
        .route("/v2/images/{id}/stage", put(image_data::stage))
        .route("/v2/images/{id}/import", post(import::import))
        .route(
            "/v2/images/{id}/locations",
            get(locations::list).post(locations::add),
        )
        .route("/v2/images/{id}/tasks", get(tasks::of_image))
        .route(
            "/v2/stores/{store_id}/{image_id}",
            delete(stores::delete_from_store),
        )
        .route("/v2/tasks", get(tasks::list).post(tasks::create))
        .route("/v2/tasks/{id}", get(tasks::show))
        .route("/v2/schemas/{name}", get(schemas::show))
        .route("/v2/info/import", get(info::import))
        .route("/v2/info/stores", get(info::stores))
        .route("/v2/info/stores/detail", get(info::stores_detail))
        .route("/v2/info/usage", get(info::usage))
}

/// `GET /v2` redirects to `/v2/` as Glance does.
#[utoipa::path(
    get, path = "/v2", operation_id = "redirectV2", tag = "versions",
    responses((status = 302, description = "To `/v2/`", headers(("Location" = String))))
)]
pub async fn v2_redirect() -> impl IntoResponse {
    (StatusCode::FOUND, [(axum::http::header::LOCATION, "/v2/")])
}

/// Unknown paths: Glance-shaped 404.
pub async fn not_found() -> ApiError {
    ApiError::not_found("The resource could not be found.")
}
