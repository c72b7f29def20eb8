//! Logging and tracing set-up for the binaries: `tracing` with an `EnvFilter` from
//! `RUST_LOG` (default `info`), as text (coloured only when standard error is a terminal)
//! or JSON lines on standard error; with the `otlp`
//! feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over OTLP
//! (see the `otlp` module, built with the `otlp` feature). Also [`continue_trace`], which puts a span into the W3C trace an
//! incoming `traceparent` names and says what to send onward.

#[cfg(feature = "otlp")]
pub mod otlp;

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{LogFormat, TelemetryArgs};
use wire::TraceContext;

/// What [`init`] set up; keep it until the process ends. Dropping it exports the spans
/// still buffered and stops the export.
#[must_use = "dropping it stops the OTLP export"]
#[derive(Default)]
pub struct Telemetry {
    #[cfg(feature = "otlp")]
    export: Option<otlp::OtlpExport>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Telemetry");
        #[cfg(feature = "otlp")]
        out.field("otlp", &self.export.is_some());
        out.finish()
    }
}

#[cfg(feature = "otlp")]
impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(export) = self.export.take() {
            export.shutdown();
        }
    }
}

/// Installs the global subscriber for the binary `service_name` (the OTLP service name
/// unless `OTEL_SERVICE_NAME` says otherwise). Calling it twice keeps the first
/// subscriber (tests do), and the second call exports nothing.
pub fn init(args: &TelemetryArgs, service_name: &str) -> Telemetry {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: a file or a pipe gets plain text, no escape codes.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let fmt = match args.log_format {
        LogFormat::Text => fmt.boxed(),
        LogFormat::Json => fmt.json().boxed(),
    };
    let registry = tracing_subscriber::registry().with(filter).with(fmt);
    #[cfg(feature = "otlp")]
    {
        let (export, problem) = match otlp::OtlpConfig::from_env(service_name) {
            None => (None, None),
            Some(config) => match otlp::OtlpExport::start(&config) {
                Ok(export) => (Some(export), None),
                Err(error) => (None, Some(error)),
            },
        };
        let layer = export.as_ref().map(otlp::OtlpExport::layer);
        if registry.with(layer).try_init().is_err() {
            return Telemetry::default();
        }
        // Logged once the subscriber is there to show it; the service runs on without.
        if let Some(error) = problem {
            tracing::warn!(%error, "spans are not exported");
        }
        Telemetry { export }
    }
    #[cfg(not(feature = "otlp"))]
    {
        // Only the OTLP export needs the service's name.
        let _ = service_name;
        // A second initialisation in the same process is harmless: the first one stays.
        drop(registry.try_init());
        Telemetry::default()
    }
}

/// Makes `span` part of the trace `incoming` names (a new trace when there is none),
/// records its `trace.id` field (the span must declare it, as `tracing::field::Empty`),
/// and returns the context to send onward: the same trace, with this span as the
/// parent. Call it before the span is first entered, so that an exported span gets
/// the right parent.
pub fn continue_trace(span: &tracing::Span, incoming: Option<TraceContext>) -> TraceContext {
    // Without an exporter the span has no id of its own: make one up for the header.
    let context = exported_context(span, incoming).unwrap_or_else(|| match incoming {
        Some(parent) => parent.child(),
        None => TraceContext::new_root(),
    });
    span.record("trace.id", tracing::field::display(context.trace_id()));
    context
}

/// The context of `span`'s exported span, joined to `incoming`.
#[cfg(feature = "otlp")]
fn exported_context(span: &tracing::Span, incoming: Option<TraceContext>) -> Option<TraceContext> {
    otlp::join(span, incoming)
}

/// Nothing is exported without the `otlp` feature.
#[cfg(not(feature = "otlp"))]
fn exported_context(_: &tracing::Span, _: Option<TraceContext>) -> Option<TraceContext> {
    None
}
