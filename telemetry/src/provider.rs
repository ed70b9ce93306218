//! The tracer provider: where spans go, which ones are kept, and who made them.
//!
//! One process has one provider, hence one `service.name`. The provider owns
//! a batch span processor: finished spans are queued (bounded by
//! `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048) and exported from the
//! processor's own thread, so a slow or dead collector never slows a request.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

use crate::export::{CountingExporter, ExportStats};
use crate::settings::{Protocol, Settings, SettingsError};

/// The running telemetry of one service. Keep it alive for the whole
/// process and call [`Telemetry::shutdown`] at the end.
#[derive(Clone, Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    /// Export counters (spans delivered / lost).
    pub stats: Arc<ExportStats>,
}

impl Telemetry {
    /// Builds the provider described by `settings`: an OTLP exporter, or
    /// nothing at all when `OTEL_SDK_DISABLED=true`.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let stats = Arc::new(ExportStats::default());
        let builder = SdkTracerProvider::builder().with_resource(resource(settings));
        let provider = if settings.sdk_disabled {
            // No exporter and a sampler that records nothing. We still keep a
            // provider because it is what generates trace ids: responses keep
            // their `trace_id` and downstream calls keep one trace context.
            builder.with_sampler(Sampler::AlwaysOff).build()
        } else {
            let exporter = CountingExporter::new(otlp_exporter(settings.protocol)?, stats.clone());
            // `BatchSpanProcessor::builder` reads the standard `OTEL_BSP_*`
            // variables (queue size, delay, batch size, timeout).
            let processor = BatchSpanProcessor::builder(exporter).build();
            builder
                .with_sampler(crate::sampler::from_env()?)
                .with_span_processor(processor)
                .build()
        };
        Ok(Self::from_provider(provider, stats))
    }

    /// Wraps a provider built elsewhere (tests build one with an in-memory
    /// exporter).
    pub fn from_provider(provider: SdkTracerProvider, stats: Arc<ExportStats>) -> Self {
        let tracer = provider.tracer("tracing-workshop");
        Telemetry {
            provider,
            tracer,
            stats,
        }
    }

    /// The tracer the `tracing` → OpenTelemetry bridge writes into.
    pub fn tracer(&self) -> SdkTracer {
        self.tracer.clone()
    }

    /// The provider itself (tests use it to flush).
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    pub(crate) fn log_startup(&self, settings: &Settings) {
        if settings.sdk_disabled {
            tracing::info!(
                service.name = %settings.service_name,
                "OTEL_SDK_DISABLED=true: spans are not recorded or exported"
            );
        } else {
            let sampler = std::env::var("OTEL_TRACES_SAMPLER")
                .unwrap_or_else(|_| "parentbased_always_on".to_string());
            let sampler_arg = std::env::var("OTEL_TRACES_SAMPLER_ARG").unwrap_or_default();
            tracing::info!(
                service.name = %settings.service_name,
                protocol = ?settings.protocol,
                endpoint = settings.endpoint.as_deref().unwrap_or("(default localhost)"),
                sampler,
                sampler_arg,
                baggage_span_keys = %settings.baggage_span_keys.join(","),
                "exporting spans over OTLP"
            );
        }
    }

    /// Flushes every queued span and stops the exporter.
    ///
    /// Call it after the server has stopped. The batch processor runs on its
    /// own thread and `shutdown` blocks until it has exported, so it runs on
    /// a blocking thread instead of stalling the async runtime.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let result =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
                .await;
        match result {
            Ok(Ok(())) => tracing::info!("telemetry flushed and shut down"),
            Ok(Err(error)) => tracing::warn!(%error, "telemetry shutdown was not clean"),
            Err(error) => tracing::warn!(%error, "telemetry shutdown task failed"),
        }
    }
}

/// How long the last flush may take: twice the SDK's default, because on a
/// busy machine the final export can be slow, and keeping the last
/// requests' spans is what the flush is for. Compose gives a stopping
/// container 15 s; with nothing in flight the drain takes well under one.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// `service.name` and friends. `Resource::builder` also reads the other
/// `OTEL_RESOURCE_ATTRIBUTES`; the service name is settled in `Settings`.
fn resource(settings: &Settings) -> Resource {
    Resource::builder()
        .with_service_name(settings.service_name.clone())
        .build()
}

/// The OTLP exporter for the chosen protocol. Endpoint, headers and timeout
/// come from the standard `OTEL_EXPORTER_OTLP_*` variables.
fn otlp_exporter(protocol: Protocol) -> Result<opentelemetry_otlp::SpanExporter, SettingsError> {
    let timeout = Duration::from_secs(5);
    let built = match protocol {
        Protocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_timeout(timeout)
            .build(),
        // tonic needs a Tokio runtime: build this inside `#[tokio::main]`.
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .with_timeout(timeout)
            .build(),
    };
    built.map_err(|e| SettingsError::Exporter(e.to_string()))
}
