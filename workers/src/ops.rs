//! A lone worker's operations port (`IMAGEFLEET_METRICS_BIND`, or the first free port
//! from 9464: see [`crate::ops_port`]): `/metrics` (the
//! process's Prometheus page), `/healthz` (alive) and `/readyz` (Postgres answers,
//! migrations are current, RabbitMQ is reachable and does not block the worker's
//! publishing, the worker applies the commands it is given; 503 with a JSON body
//! naming the failed checks otherwise). Started by the `workers` binary, not by
//! [`crate::run_fleet`]: `imagefleet up` serves the same page on the gateway's port, and
//! tests that start many workers in one process bind nothing.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bus::flow::PublishFlow;
use db::{PgPool, PoolOptions, build_pool};
use shared::health::{BrokerProbe, COMMANDS, Check, Readiness, database_checks};
use tokio_util::sync::CancellationToken;

use crate::ops_port::{self, BindError, OpsBind};
use crate::progress::Progress;

/// What the readiness checks use: a pool of its own (two connections, so a busy
/// worker's pool cannot make the probe wait) and a broker probe.
#[derive(Clone)]
struct OpsState {
    pool: PgPool,
    broker: Arc<BrokerProbe>,
    progress: Option<Progress>,
    flow: PublishFlow,
}

/// Settings of the operations port.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    /// Where to listen.
    pub bind: OpsBind,
    /// Postgres URL (the worker's).
    pub database_url: String,
    /// RabbitMQ URL (the worker's).
    pub amqp_url: String,
    /// Name of the probe's broker connection.
    pub name: String,
    /// The worker's [`crate::FleetConfig::progress`], for the [`COMMANDS`] check; None
    /// leaves the check out.
    pub progress: Option<Progress>,
    /// The worker's publishing connections' blocked state (the fleet's
    /// [`crate::FleetConfig::flow`]).
    pub flow: PublishFlow,
}

/// Why the operations port could not run.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// The probe's pool could not be built.
    #[error(transparent)]
    Database(#[from] db::DbError),
    /// No address could be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// Serving failed.
    #[error("serving the metrics port: {0}")]
    Io(#[from] std::io::Error),
}

/// The operations router for the worker's Postgres and RabbitMQ (`config.bind` is not
/// used here; tests call the router without a port). Installs the process's metrics
/// recorder if nothing did yet.
pub fn router(config: &OpsConfig) -> Result<Router, OpsError> {
    shared::metrics::install();
    let pool = build_pool(
        &config.database_url,
        PoolOptions {
            max_size: 2,
            ..PoolOptions::default()
        },
    )?;
    let state = OpsState {
        pool,
        broker: Arc::new(BrokerProbe::new(&config.amqp_url, &config.name)),
        progress: config.progress.clone(),
        flow: config.flow.clone(),
    };
    Ok(Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state))
}

/// The operations port, bound and not yet served.
pub struct OpsPort {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl OpsPort {
    /// Binds the port `config.bind` names (an address that cannot be bound fails at
    /// once) and logs where it listens and how that was chosen.
    pub async fn bind(config: &OpsConfig) -> Result<Self, OpsError> {
        let router = router(config)?;
        let listener = ops_port::bind(config.bind).await?;
        let address = listener.local_addr()?;
        tracing::info!(%address, chosen = %config.bind.describe(), "metrics and health endpoints listening");
        Ok(Self { listener, router })
    }

    /// The address it listens on.
    pub fn address(&self) -> Result<SocketAddr, OpsError> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves [`router`] until `shutdown` is cancelled.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), OpsError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await?;
        Ok(())
    }
}

async fn metrics() -> Response {
    let page = shared::metrics::install().render();
    (
        [(header::CONTENT_TYPE, shared::metrics::CONTENT_TYPE)],
        page,
    )
        .into_response()
}

async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "ok").into_response()
}

/// Every check side by side, each bounded by [`shared::health::CHECK_TIMEOUT`].
async fn readyz(State(state): State<OpsState>) -> Response {
    let (database, broker) = tokio::join!(database_checks(&state.pool), state.broker.check());
    let mut checks = database.to_vec();
    checks.push(broker);
    if let Some(progress) = &state.progress {
        checks.push(Check::run(COMMANDS, async { progress.check() }).await);
    }
    checks.push(Check {
        name: bus::flow::PUBLISHING,
        result: state.flow.publishing(),
    });
    let report = Readiness { checks };
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report.body())).into_response()
}
