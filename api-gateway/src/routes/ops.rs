//! Operations endpoints, outside the Glance API and its identity: `/metrics` (the
//! process's Prometheus page: under `imagefleet up` it covers the workers too, which
//! record into the same recorder), `/healthz` (alive) and `/readyz` (Postgres answers,
//! migrations are current, the command client's RabbitMQ connection is open; 503 with
//! a JSON body naming the failed checks otherwise).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use shared::health::{CHECK_TIMEOUT, Check, RABBITMQ, Readiness, database_checks};

use crate::state::AppState;

/// The operations routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /metrics`: Prometheus text format.
#[utoipa::path(
    get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String))
)]
pub async fn metrics() -> Response {
    let page = shared::metrics::install().render();
    (
        [(header::CONTENT_TYPE, shared::metrics::CONTENT_TYPE)],
        page,
    )
        .into_response()
}

/// `GET /healthz`: 200 `ok` while the process serves requests.
#[utoipa::path(
    get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "`ok`", content_type = "text/plain", body = String))
)]
pub async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// `GET /readyz`: 200 when every check passes, else 503; the JSON body lists each check.
/// The checks run side by side, each bounded by [`CHECK_TIMEOUT`].
#[utoipa::path(
    get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses(
        (status = 200, description = "Every check passed", body = ref("#/components/schemas/Readiness")),
        (status = 503, description = "A check failed", body = ref("#/components/schemas/Readiness")),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let broker = Check::run(RABBITMQ, async {
        state
            .commands
            .check_connection(CHECK_TIMEOUT)
            .await
            .map_err(|e| e.to_string())
    });
    let (database, broker) = tokio::join!(database_checks(&state.reads), broker);
    let mut checks = database.to_vec();
    checks.push(broker);
    readiness_response(&Readiness { checks })
}

/// 200 or 503 with the report as JSON.
pub fn readiness_response(report: &Readiness) -> Response {
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.body())).into_response()
}
