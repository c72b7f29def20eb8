//! The `api-gateway` binary: serves Glance's v2 Image API on `IMAGEFLEET_BIND` until
//! SIGTERM or Ctrl-C.

use anyhow::Context as _;
use api_gateway::config::GatewayArgs;
use clap::Parser;
use shared::config::TelemetryArgs;

/// imagefleet's HTTP gateway (OpenStack Glance v2 Image API).
#[derive(Debug, Parser)]
#[command(name = "api-gateway", version, about)]
struct Cli {
    #[command(flatten)]
    telemetry: TelemetryArgs,
    #[command(flatten)]
    gateway: GatewayArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Kept to the end of main: dropping it flushes the OTLP export (with that feature).
    let _telemetry = shared::telemetry::init(&cli.telemetry, "imagefleet-api-gateway");
    api_gateway::serve::serve(cli.gateway, shared::shutdown::on_signal())
        .await
        .context("running the gateway")
}
