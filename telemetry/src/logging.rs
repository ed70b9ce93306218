//! Log lines that point at their trace.
//!
//! Every log line is one JSON object on stdout. A line written while serving
//! a request carries that request's `trace_id` and `span_id`, so a learner can
//! jump from a log line to the trace in Jaeger and back:
//!
//! ```json
//! {"timestamp":"…","level":"INFO","service":"order-service","message":"order saved",
//!  "order.id":42,"span":"save_order","trace_id":"4bf9…4736","span_id":"00f0…02b7"}
//! ```
//!
//! Two layers sit on one `tracing` registry:
//! - the OpenTelemetry layer turns `tracing` spans into OTel spans, and
//!   events inside them into span events;
//! - the fmt layer prints events as JSON with [`JsonWithTraceIds`].
//!
//! `RUST_LOG` filters only the fmt layer. Filtering the OTel layer with it
//! would drop spans, and a dropped parent leaves its children orphaned in a
//! separate trace; the OTel layer always sees every INFO span. And a log
//! line finds its request's ids even when `RUST_LOG` hides the span itself.

use std::fmt;
use std::sync::{Arc, OnceLock};

use opentelemetry::trace::{SpanContext, TraceContextExt};
use opentelemetry_sdk::trace::SdkTracer;
use serde_json::{Map, Value};
use tracing::dispatcher::WeakDispatch;
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::settings::Settings;
use crate::Telemetry;

/// Installs the subscriber for the whole process (stdout, `RUST_LOG`).
/// A second call (as in tests) leaves the first one in place, and says so
/// on stderr: when the first one is someone else's (a plain
/// `tracing_subscriber::fmt().init()` left in `main`), no span reaches
/// OpenTelemetry and no log line gets its ids, and nothing else would tell.
pub fn install(settings: &Settings, telemetry: &Telemetry) {
    let dispatch = dispatch(
        &settings.service_name,
        &settings.log_filter,
        telemetry.tracer(),
        std::io::stdout,
    );
    if tracing::dispatcher::set_global_default(dispatch).is_err() {
        eprintln!(
            "{}: telemetry: a global tracing subscriber was already installed, so this one \
             (spans to OpenTelemetry, log lines with trace ids) is not; install only one",
            settings.service_name
        );
    }
}

/// Builds a complete subscriber: OTel layer + JSON log layer writing to
/// `writer`. Tests call it to give each in-process service its own.
pub fn dispatch<W>(service_name: &str, log_filter: &str, tracer: SdkTracer, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    build(service_name, log_filter, Some(tracer), writer)
}

/// Log lines only, no spans: for the start-up code that runs before the
/// tracer provider exists (reading the sampler settings logs what it found).
///
/// The SDK's own log lines are off here whatever `RUST_LOG` says: building
/// a provider makes the SDK read `OTEL_TRACES_SAMPLER` too, and it would
/// report our `rules` and `ratelimit` as unknown, "using ParentBased(AlwaysOn)"
/// (not true: [`crate::sampler`] chose the sampler).
pub fn startup_dispatch(settings: &Settings) -> Dispatch {
    let filter = format!("{},opentelemetry_sdk=off", settings.log_filter);
    build(&settings.service_name, &filter, None, std::io::stdout)
}

fn build<W>(service_name: &str, log_filter: &str, tracer: Option<SdkTracer>, writer: W) -> Dispatch
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let env_filter = EnvFilter::try_new(log_filter).unwrap_or_else(|error| {
        eprintln!("RUST_LOG={log_filter:?} is not a valid filter ({error}); using \"info\"");
        EnvFilter::new("info")
    });
    let format = JsonWithTraceIds::new(service_name);
    let this_dispatch = format.dispatch.clone();

    let otel_layer = tracer.map(|tracer| {
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            // Most errors are recorded by `crate::errors` (status ERROR and an
            // `exception` event with `exception.type`). `#[instrument(err)]`
            // emits an event with only an `error` field and no message: the
            // bridge turns that one into the conventions' `exception` event
            // (`exception.message`) and the span's status with its message.
            // (Any ERROR-level event inside a span also marks it failed.)
            .with_error_events_to_status(true)
            .with_error_events_to_exceptions(true)
            .with_filter(LevelFilter::INFO)
    });
    let fmt_layer = tracing_subscriber::fmt::layer()
        .event_format(format)
        .with_writer(writer)
        .with_filter(env_filter);

    let dispatch = Dispatch::new(Registry::default().with(otel_layer).with(fmt_layer));
    // The formatter needs the dispatcher to ask the OTel layer for the ids
    // (see `trace_ids`); it can only learn it after the dispatcher exists.
    let _ = this_dispatch.set(dispatch.downgrade());
    dispatch
}

/// Formats one event as a JSON line with `trace_id` and `span_id`.
pub struct JsonWithTraceIds {
    service: String,
    /// The dispatcher this formatter belongs to. Weak, because the
    /// dispatcher owns the formatter: a strong reference would be a cycle.
    dispatch: Arc<OnceLock<WeakDispatch>>,
}

impl JsonWithTraceIds {
    fn new(service: &str) -> Self {
        JsonWithTraceIds {
            service: service.to_string(),
            dispatch: Arc::new(OnceLock::new()),
        }
    }

    /// The current span's name and its OpenTelemetry span context (the
    /// ids the span has in its trace; an invalid, all-zero context when it
    /// has none, e.g. a span the OTel layer never saw).
    ///
    /// Asked of the whole dispatcher, not of the fmt layer's context: that
    /// context hides spans that `RUST_LOG` filters out for logging, and a
    /// WARN line inside an INFO span must still say which request it is.
    /// (Nor of `tracing::Span::current()`: inside the subscriber's own
    /// callback it sees only a global dispatcher, not one set for a thread,
    /// as the in-process tests give each service.)
    fn current_span(&self) -> Option<(&'static str, SpanContext)> {
        let dispatch = self.dispatch.get()?.upgrade()?;
        let current = dispatch.current_span();
        let (id, metadata) = (current.id()?, current.metadata()?);
        let span_context = tracing_opentelemetry::get_otel_context(id, &dispatch)
            .map(|cx| cx.span().span_context().clone())
            .unwrap_or_else(SpanContext::empty_context);
        Some((metadata.name(), span_context))
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;

        let mut line = Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), event.metadata().level().as_str().into());
        line.insert("service".into(), self.service.clone().into());
        line.insert("target".into(), event.metadata().target().into());
        event.record(&mut JsonVisitor(&mut line));

        if let Some((name, span_context)) = self.current_span() {
            line.insert("span".into(), name.into());
            // LESSON 13: the ids of the span this line was written in, so the
            // line can be found from its trace and the trace from the line.
            // Only valid ones: a span the OTel layer never saw (below INFO)
            // has an all-zero context.
            if span_context.is_valid() {
                let trace_id = span_context.trace_id().to_string();
                let span_id = span_context.span_id().to_string();
                line.insert("trace_id".into(), trace_id.into());
                line.insert("span_id".into(), span_id.into());
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}

/// Copies an event's fields into the JSON object, keeping their types.
struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
