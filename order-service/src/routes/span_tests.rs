//! Unit tests of the spans `routes.rs` makes: they run the instrumented
//! code under a tracer provider of their own, with the SDK's in-memory
//! exporter, and read the finished spans back. No Postgres, no network,
//! no collector: a few milliseconds each.
//!
//! Parallel-safe: each test builds its own provider and subscriber and
//! makes it the default for its own thread only
//! (`tracing::dispatcher::with_default`). Nothing global is set, neither
//! a global subscriber nor a global tracer provider, so tests running on
//! other threads at the same time never see each other's spans.

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::Value;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

use super::calculate_total;

/// Runs `work` with a subscriber of its own and returns every span it
/// finished, as the exporter received them.
fn finished_spans(work: impl FnOnce()) -> Vec<SpanData> {
    let exporter = InMemorySpanExporter::default();
    // The simple processor exports each span the moment it ends, on the
    // calling thread: no batch, no background thread, no runtime needed.
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let telemetry = telemetry::Telemetry::from_provider(provider, Default::default());
    // The workshop's own subscriber (the OTel layer with the services'
    // settings, INFO and above), with the log lines thrown away: the test
    // sees what a running service would export.
    let dispatch =
        telemetry::logging::dispatch("order-service", "off", telemetry.tracer(), std::io::sink);
    tracing::dispatcher::with_default(&dispatch, work);
    // Read before any shutdown: shutting the provider down (or dropping
    // its last handle) empties the in-memory exporter.
    telemetry.provider().force_flush().expect("flush");
    exporter.get_finished_spans().expect("the exporter's spans")
}

/// The one span named `name`; fails with the names that were there.
fn the_span<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let mut found = spans.iter().filter(|span| span.name == name);
    let span = found.next().unwrap_or_else(|| {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        panic!("no span named {name}; the spans: {names:?}")
    });
    assert!(found.next().is_none(), "more than one span named {name}");
    span
}

// LESSON 17: prove `calculate_total`'s span: its name and kind, its typed
// attribute, its parent (and its status). A test that only finds a span by
// name passes whatever the code records on it.
#[test]
fn lesson17_calculate_total_span() {
    let spans = finished_spans(|| {
        // The request's span stands in for the SERVER span `POST /orders`:
        // in the service, `calculate_total` runs while that one is current.
        let request = tracing::info_span!("POST /orders");
        let total = request.in_scope(|| calculate_total(4450, 2));
        assert_eq!(total, 8900);
    });

    let request = the_span(&spans, "POST /orders");
    let price = the_span(&spans, "calculate_total");

    // A `tracing` span becomes an INTERNAL span unless it says otherwise.
    assert_eq!(price.span_kind, SpanKind::Internal);
    // The value *and* its type: `Value::I64`, not the text "8900". A
    // backend can sum, sort and compare an int64; a string it cannot.
    let total = price
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "order.total_cents")
        .map(|kv| &kv.value);
    assert_eq!(total, Some(&Value::I64(8900)), "order.total_cents");
    // The parent: the span that was current when the price step ran, in
    // the same trace. A span without it is the root of a trace of its own.
    assert_eq!(
        price.parent_span_id,
        request.span_context.span_id(),
        "calculate_total's parent"
    );
    assert_eq!(
        price.span_context.trace_id(),
        request.span_context.trace_id()
    );
    // Nothing failed: the status stays unset.
    assert_eq!(price.status, Status::Unset);
}
