//! Logging set-up for the binaries: `tracing` with an `EnvFilter` from `RUST_LOG`
//! (default `info`), as text or JSON lines on standard error.

use crate::config::{LogFormat, TelemetryArgs};
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber. Calling it twice keeps the first (tests do).
pub fn init(args: &TelemetryArgs) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match args.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second initialisation in the same process is harmless: the first one stays.
    drop(installed);
}
