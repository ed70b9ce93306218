//! What one span costs on the instrumentation path the services use.
//!
//!   cargo bench -p telemetry --bench span_cost
//!
//! Each benchmark makes what a handler makes for a request: a span with a
//! few attributes (a SERVER span's shape) and one event inside it.
//!
//! - `project/sampled`: `tracing` → the project's dispatcher
//!   (`telemetry::logging::dispatch`: the OpenTelemetry layer and the JSON
//!   log layer, filtered at `warn`, so the event is not formatted) → the SDK
//!   with a batch span processor, every span sampled.
//! - `project/sampled+log`: the same with the log layer at `info`, so the
//!   event is also formatted as a JSON line (written to nowhere).
//! - `project/unsampled`: the sampler says no (`parentbased_always_off`).
//! - `otel-api/sampled`: the same span and event through the OpenTelemetry
//!   API directly, no `tracing`: the bridge's share is the difference.
//! - `propagation/inject` and `/extract`: `traceparent` and `baggage` into
//!   and out of a `HeaderMap`, as every hop between services does.
//!
//! Measured with the services' allocator, mimalloc: with glibc's malloc a
//! sampled span costs about three times as much (the export thread frees
//! what the request thread allocated, and glibc locks for that).
//!
//! The exporter discards what it is given: export (encoding, the network)
//! runs on the batch processor's own thread, and `scripts/bench-overhead.sh`
//! measures it end to end.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};
use tracing_opentelemetry::OpenTelemetrySpanExt;

// The services' allocator (their main.rs says why): measured with it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Takes every batch and drops it.
#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A provider like the services' (batch processor), with a queue large
/// enough that no span is dropped however fast the loop makes them.
fn provider(sampler: Sampler) -> SdkTracerProvider {
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(1 << 16)
        .with_scheduled_delay(Duration::from_millis(20))
        .build();
    let processor = BatchSpanProcessor::builder(Discard)
        .with_batch_config(config)
        .build();
    SdkTracerProvider::builder()
        .with_sampler(sampler)
        .with_span_processor(processor)
        .build()
}

/// One request's worth of `tracing`: a SERVER-shaped span and an event.
fn handler_span() {
    let span = tracing::info_span!(
        "HTTP request",
        otel.name = "GET /orders/{id}",
        otel.kind = "server",
        http.request.method = "GET",
        http.route = "/orders/{id}",
        url.path = "/orders/42",
        http.response.status_code = 200i64,
    );
    let _entered = span.enter();
    tracing::info!(order.id = 42i64, "order found");
}

fn project(c: &mut Criterion) {
    let mut group = c.benchmark_group("project");
    for (name, sampler, log_filter) in [
        ("sampled", Sampler::AlwaysOn, "warn"),
        ("sampled+log", Sampler::AlwaysOn, "info"),
        (
            "unsampled",
            Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
            "warn",
        ),
    ] {
        let provider = provider(sampler);
        let dispatch = telemetry::logging::dispatch(
            "bench",
            log_filter,
            provider.tracer("bench"),
            std::io::sink,
        );
        tracing::dispatcher::with_default(&dispatch, || {
            group.bench_function(name, |b| b.iter(handler_span));
        });
        let _ = provider.shutdown();
    }
    group.finish();
}

fn otel_api(c: &mut Criterion) {
    let provider = provider(Sampler::AlwaysOn);
    let tracer = provider.tracer("bench");
    c.bench_function("otel-api/sampled", |b| {
        b.iter(|| {
            let mut span = tracer
                .span_builder("GET /orders/{id}")
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("http.request.method", "GET"),
                    KeyValue::new("http.route", "/orders/{id}"),
                    KeyValue::new("url.path", "/orders/42"),
                    KeyValue::new("http.response.status_code", 200i64),
                ])
                .start(&tracer);
            span.add_event("order found", vec![KeyValue::new("order.id", 42i64)]);
            span.end();
        })
    });
    let _ = provider.shutdown();
}

fn propagation(c: &mut Criterion) {
    telemetry::propagation::install_propagators();
    let provider = provider(Sampler::AlwaysOn);
    let tracer = provider.tracer("bench");
    let span = tracer.start("parent");
    let cx =
        Context::current_with_span(span).with_baggage([KeyValue::new("request.source", "mobile")]);
    let mut headers = http::HeaderMap::new();
    telemetry::propagation::inject(&cx, &mut headers);

    c.bench_function("propagation/inject", |b| {
        b.iter(|| {
            let mut out = http::HeaderMap::new();
            telemetry::propagation::inject(black_box(&cx), &mut out);
            out
        })
    });
    c.bench_function("propagation/extract", |b| {
        b.iter(|| {
            let parent = telemetry::propagation::extract(black_box(&headers));
            // What the SERVER span does with it (tracing-opentelemetry ≥ 0.32
            // wants the parent before the span is entered).
            let span = tracing::Span::none();
            let _ = span.set_parent(parent);
        })
    });
    let _ = provider.shutdown();
}

criterion_group!(benches, project, otel_api, propagation);
criterion_main!(benches);
