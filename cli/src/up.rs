//! `imagefleet up`: the whole service in one process for development and small sites:
//! applies the migrations, starts N workers (consumers and an outbox relay candidate
//! each) and the gateway, and runs until SIGTERM or Ctrl-C. A request with no identity
//! acts as project `default` with roles member and reader, so `glance` and openstacksdk
//! work out of the box; set `IMAGEFLEET_DEFAULT_PROJECT` to choose another.

use std::process::ExitCode;

use anyhow::Context as _;
use api_gateway::config::GatewayArgs;
use bus::flow::PublishFlow;
use clap::Args;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use workers::progress::Progress;
use workers::{FleetArgs, FleetConfig, ServiceArgs, run_fleet};

/// The project anonymous requests act as under `up`.
pub const DEVELOPMENT_PROJECT: &str = "default";

/// Arguments of `imagefleet up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Workers to run in this process.
    #[arg(long, env = "IMAGEFLEET_WORKERS", default_value_t = 2)]
    workers: usize,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub async fn run(args: UpArgs) -> anyhow::Result<ExitCode> {
    run_until(args, shared::shutdown::on_signal()).await
}

/// Runs the service until `shutdown` is cancelled, then stops the gateway and the
/// workers gracefully (the client tests run it in-process this way).
pub async fn run_until(args: UpArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let UpArgs {
        mut gateway,
        fleet: fleet_args,
        workers,
    } = args;
    let applied = db::migrate::run_migrations(&gateway.database.database_url)
        .await
        .context("applying migrations")?;
    tracing::info!(count = applied.len(), "migrations applied");
    gateway
        .default_project
        .get_or_insert_with(|| DEVELOPMENT_PROJECT.to_owned());
    let mut fleet = JoinSet::new();
    let service = ServiceArgs {
        database: &gateway.database,
        amqp: &gateway.amqp,
        domain: &gateway.domain,
        store: &gateway.store,
        import: &gateway.import,
        notifications: &gateway.notifications,
    };
    // Opened once: the workers share the store and the fetcher, each counts its own
    // progress and publish flow.
    let template = fleet_args.config(service, String::new())?;
    for n in 0..workers {
        let config = FleetConfig {
            name: format!("imagefleet-up-worker-{n}"),
            progress: Progress::default(),
            flow: PublishFlow::default(),
            ..template.clone()
        };
        fleet.spawn(run_fleet(config, shutdown.clone()));
    }
    tracing::info!(workers, bind = %gateway.bind, "imagefleet is up");
    let served = api_gateway::serve::serve(gateway, shutdown.clone()).await;
    // The gateway stopped (shutdown or failure): stop the workers too, gracefully.
    shutdown.cancel();
    while let Some(stopped) = fleet.join_next().await {
        stopped.context("a worker task")?.context("a worker")?;
    }
    served.context("running the gateway")?;
    Ok(ExitCode::SUCCESS)
}
