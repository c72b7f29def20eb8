//! OTLP trace export (the `otlp` feature): `tracing` spans become OpenTelemetry spans,
//! batched on a background thread and sent over HTTP/protobuf to a collector. It is on
//! when the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `..._TRACES_ENDPOINT`) is set;
//! the exporter then reads the other standard variables (headers, timeout) itself.
//! Spans carry the service name `OTEL_SERVICE_NAME`, or the binary's.

use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::registry::LookupSpan;

use wire::TraceContext;
use wire::trace_context;

/// The collector's base URL; the exporter posts to `<it>/v1/traces`.
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// The full URL for traces, which wins over [`ENDPOINT_VAR`].
pub const TRACES_ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// The service name spans are filed under.
pub const SERVICE_NAME_VAR: &str = "OTEL_SERVICE_NAME";

/// How long shutting down may take to send what is buffered.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Where spans go and under which service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The full URL to post spans to (ending in `/v1/traces`); None leaves it to the
    /// standard variables.
    pub traces_endpoint: Option<String>,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

/// Why the export could not be set up (an unusable endpoint, typically).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP span exporter: {0}")]
pub struct OtlpError(#[from] opentelemetry_otlp::ExporterBuildError);

/// A running export: the tracer provider with its batch processor.
#[derive(Debug)]
pub struct OtlpExport {
    provider: SdkTracerProvider,
}

impl OtlpConfig {
    /// The configuration the standard variables ask for, or None when no endpoint is
    /// set (no export). `default_service` names the service without `OTEL_SERVICE_NAME`.
    pub fn from_env(default_service: &str) -> Option<Self> {
        let var = |name| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        var(ENDPOINT_VAR).or_else(|| var(TRACES_ENDPOINT_VAR))?;
        Some(Self {
            traces_endpoint: None,
            service_name: var(SERVICE_NAME_VAR).unwrap_or_else(|| default_service.to_owned()),
        })
    }
}

impl OtlpExport {
    /// Starts the batch processor and its HTTP exporter. Nothing is sent until spans
    /// close; an unreachable collector costs dropped spans, never the service.
    pub fn start(config: &OtlpConfig) -> Result<Self, OtlpError> {
        let mut exporter = SpanExporter::builder().with_http();
        if let Some(endpoint) = &config.traces_endpoint {
            exporter = exporter.with_endpoint(endpoint.clone());
        }
        let resource = Resource::builder()
            .with_service_name(config.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter.build()?)
            .with_resource(resource)
            .build();
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans of this export.
    pub fn layer<S>(&self) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("imagefleet"))
    }

    /// Sends what is buffered (bounded by a timeout) and stops the processor.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!(%error, "flushing the OTLP export failed");
        }
    }
}

/// Sets `incoming` (or nothing: a new trace) as the parent of `span`'s OpenTelemetry
/// span and returns that span's own context. None when no OpenTelemetry layer is
/// installed, or the span was entered already and its parent can no longer change.
pub(super) fn join(span: &tracing::Span, incoming: Option<TraceContext>) -> Option<TraceContext> {
    // An empty parent makes a root: without it a span opened inside another (a
    // consumer's long-lived span, say) would join that span's trace instead.
    let parent = incoming.map_or_else(opentelemetry::Context::new, |incoming| {
        opentelemetry::Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_bytes(incoming.trace_id().to_bytes()),
            SpanId::from_bytes(incoming.parent_id().to_bytes()),
            TraceFlags::new(incoming.flags()),
            true,
            TraceState::default(),
        ))
    });
    span.set_parent(parent).ok()?;
    let context = span.context();
    let own = context.span().span_context().clone();
    own.is_valid().then(|| {
        let trace_id = trace_context::TraceId::from_bytes(own.trace_id().to_bytes());
        let span_id = trace_context::SpanId::from_bytes(own.span_id().to_bytes());
        let flags = own.trace_flags().to_u8();
        trace_id
            .zip(span_id)
            .map(|(trace_id, span_id)| TraceContext::new(trace_id, span_id, flags))
    })?
}
