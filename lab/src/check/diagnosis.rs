//! For each kind of mismatch: its likely cause and the fix, in the words a
//! learner needs. The engine decides *which* [`Cause`] applies; this file
//! only explains it.

use crate::model::SpanKind;

/// Why a check failed, as far as the evidence tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The gateway did not answer at all.
    GatewayDown,
    /// The gateway answered with an unexpected status.
    BadStatus {
        status: u16,
    },
    /// The gateway answered with a trace id other than the one we sent.
    NotContinued,
    /// Not a single span of the trace reached the backend.
    NoSpans,
    /// A service's spans exist, but under another trace id: the span of
    /// `service` that began that trace (its `kind` tells which hop lost the
    /// context: a request, or a message across a queue).
    SplitTrace {
        service: String,
        kind: SpanKind,
    },
    /// No spans at all from this service.
    ServiceMissing {
        service: String,
    },
    SpanMissing,
    WrongKind,
    /// A span expected to be the root has a parent in the trace.
    NotRoot,
    WrongParent,
    AttributeMissing,
    /// An int64 attribute arrived as a string.
    IntAsString,
    WrongType,
    WrongValue,
    EventMissing,
    WrongStatus,
    /// Shorter than the lesson's minimum duration.
    TooShort,
    /// A span whose parent never arrived.
    Orphan,
    /// Sampling: a trace without its root span (a downstream service sampled on its own).
    Fragment,
    SampledEverything,
    SampledNothing,
    WrongRatio,
    /// A load phase kept more traces per second than the sampler's target.
    OverTarget,
    /// A load phase kept fewer traces per second than the sampler's target.
    UnderTarget,
    /// A service the scenario stopped lost its spans: no flush at shutdown.
    NotFlushed {
        service: String,
    },
    /// Sampling: the gateway kept the trace, a downstream service dropped
    /// its part (a sampler that does not follow its parent).
    ParentIgnored {
        service: String,
    },
    /// A request whose trace should not exist (unsampled parent, sampled out) has one.
    UnexpectedTrace,
    /// Too many or too few spans of a kind (an N+1).
    WrongCount,
    /// An attribute that must not be there is (e.g. a plain e-mail).
    AttributePresent,
    /// An attribute's value does not match the lesson's pattern.
    NoMatch,
    /// Too few log lines of the trace in a service's log (`service` may
    /// name several: "api-gateway, order-service and user-service").
    LogsMissing {
        service: String,
    },
    /// A service's log lines carry the trace id, but not the id of one of
    /// its spans in that trace (none, or e.g. `tracing`'s own span id).
    LogSpanId {
        service: String,
    },
    /// The collector config lacks what the lesson asks for.
    CollectorConfig,
    /// A wrong answer to one of the lesson's questions.
    WrongAnswer {
        key: String,
    },
    /// The code does not compile: nothing was checked.
    BuildFailed,
    /// The traces pass, the lesson's unit tests do not.
    UnitTests,
    /// A span of `service` (`span`, INTERNAL or CLIENT) began a trace of its
    /// own although `service`'s SERVER span `server` is in the request's
    /// trace: the context was lost inside the process (a spawned task, a
    /// thread), not on the wire.
    LostInProcess {
        service: String,
        span: String,
        server: String,
    },
    /// One request's spans in another request's trace (one holds `span`
    /// more often than it may, another less): a span stayed current on a
    /// thread while other requests' work ran there.
    MixedRequests {
        service: String,
        span: String,
    },
}

impl Cause {
    /// The stable name a check file uses for this cause (`expect_failure`,
    /// `diagnosis`), e.g. `not-flushed`.
    pub fn key(&self) -> &'static str {
        match self {
            Cause::GatewayDown => "gateway-down",
            Cause::BadStatus { .. } => "bad-status",
            Cause::NotContinued => "not-continued",
            Cause::NoSpans => "no-spans",
            Cause::SplitTrace { .. } => "split-trace",
            Cause::ServiceMissing { .. } => "service-missing",
            Cause::SpanMissing => "span-missing",
            Cause::WrongKind => "wrong-kind",
            Cause::NotRoot => "not-root",
            Cause::WrongParent => "wrong-parent",
            Cause::AttributeMissing => "attribute-missing",
            Cause::IntAsString => "int-as-string",
            Cause::WrongType => "wrong-type",
            Cause::WrongValue => "wrong-value",
            Cause::EventMissing => "event-missing",
            Cause::WrongStatus => "wrong-status",
            Cause::TooShort => "too-short",
            Cause::Orphan => "orphan",
            Cause::Fragment => "fragment",
            Cause::SampledEverything => "sampled-everything",
            Cause::SampledNothing => "sampled-nothing",
            Cause::WrongRatio => "wrong-ratio",
            Cause::OverTarget => "over-target",
            Cause::UnderTarget => "under-target",
            Cause::NotFlushed { .. } => "not-flushed",
            Cause::ParentIgnored { .. } => "parent-ignored",
            Cause::UnexpectedTrace => "unexpected-trace",
            Cause::WrongCount => "wrong-count",
            Cause::AttributePresent => "attribute-present",
            Cause::NoMatch => "no-match",
            Cause::LogsMissing { .. } => "logs-missing",
            Cause::LogSpanId { .. } => "log-span-id",
            Cause::CollectorConfig => "collector-config",
            Cause::WrongAnswer { .. } => "wrong-answer",
            Cause::BuildFailed => "build-failed",
            Cause::UnitTests => "unit-tests",
            Cause::LostInProcess { .. } => "lost-in-process",
            Cause::MixedRequests { .. } => "mixed-requests",
        }
    }
}

/// A likely cause and what to do about it.
pub struct Diagnosis {
    pub likely: String,
    pub fix: String,
}

fn diagnosis(likely: &str, fix: &str) -> Diagnosis {
    Diagnosis {
        likely: likely.to_string(),
        fix: fix.to_string(),
    }
}

pub fn explain(cause: &Cause) -> Diagnosis {
    match cause {
        Cause::GatewayDown => diagnosis(
            "the services are not running, or not at this address.",
            "start them (`docker compose up --build -d`, or `scripts/dev-up.sh` without Docker), \
             check `curl localhost:8080/health`, or pass --gateway.",
        ),
        Cause::BadStatus { status } if *status >= 500 => diagnosis(
            "a service failed or could not reach a dependency; the error sentence names it.",
            "read that service's log (`docker compose logs <service>` or `.lab/logs/<service>.log`) \
             and its ERROR span: `cargo lab trace <trace id> --events`.",
        ),
        Cause::BadStatus { .. } => diagnosis(
            "the request was rejected (validation, unknown user or product, stock).",
            "compare the request of this check with the API in the README; did seed data change?",
        ),
        Cause::NotContinued => diagnosis(
            "the gateway started a new trace instead of continuing the one in our `traceparent` \
             header: the incoming context is not extracted, or not made the parent of the server span.",
            "in the server layer, extract the context with the global propagator and call \
             `span.set_parent(cx)` before the span is first entered.",
        ),
        Cause::NoSpans => diagnosis(
            "nothing reached the trace backend. Usual suspects: (1) the exporter endpoint or \
             protocol is wrong (http/protobuf → port 4318, grpc → 4317; inside compose the host is \
             otel-collector, not localhost); (2) spans were still queued when the process exited \
             (no flush on shutdown); (3) the sampler drops everything (always_off, ratio 0); \
             (4) the collector's OTLP receiver listens on localhost inside its container.",
            "read each service's start-up log line (endpoint, protocol, sampler) and look for \
             \"span export failed\" warnings; make sure shutdown calls `Telemetry::shutdown()`; \
             bind the collector's receivers to 0.0.0.0.",
        ),
        Cause::SplitTrace {
            service,
            kind: SpanKind::Consumer,
        } => Diagnosis {
            likely: format!(
                "the context did not cross the queue into {service}: the message carries no \
                 usable `traceparent` (the producer did not write its span's context into the \
                 message's fields), or {service}'s consumer did not read it back, so the \
                 CONSUMER span began a trace of its own."
            ),
            fix: "producer side: put the PRODUCER span's own context into the message, as fields \
                  beside the payload (`telemetry::messaging::context_fields(&span.context())`); \
                  consumer side: read them back (`messaging::context_from_fields`) and make them \
                  the CONSUMER span's parent before it is entered."
                .to_string(),
        },
        Cause::SplitTrace {
            service,
            kind: SpanKind::Producer,
        } => Diagnosis {
            likely: format!(
                "the PRODUCER span in {service} has no parent: the context saved with the message \
                 (e.g. the outbox row's `traceparent`) is missing or was not read back, so \
                 sending the message began a trace of its own."
            ),
            fix: "save the current span's context with the message when it is written \
                  (`telemetry::messaging::context_fields`), and make it the PRODUCER span's parent \
                  when the message is sent (`messaging::context_from_fields`)."
                .to_string(),
        },
        Cause::SplitTrace { service, .. } => Diagnosis {
            likely: format!(
                "propagation is broken on the way into {service}: the caller did not inject \
                 `traceparent` into the request headers, or {service} did not extract it, so it \
                 started a trace of its own."
            ),
            fix: "client side: inject the current context into the outgoing headers \
                  (`propagator.inject_context`); server side: extract it and `set_parent` before \
                  entering the server span. Look for the `// LESSON 05` markers."
                .to_string(),
        },
        Cause::ServiceMissing { service } => Diagnosis {
            likely: format!(
                "{service} exports nothing to this backend (or never got the request): its \
                 OTEL_* environment or its exporter setup differs from the other services."
            ),
            fix: format!(
                "compare {service}'s OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL, OTEL_SDK_DISABLED and \
                 OTEL_TRACES_SAMPLER with a working service, and look in its log for \
                 \"span export failed\"."
            ),
        },
        Cause::SpanMissing => diagnosis(
            "the span is not created (instrumentation missing) or has another name.",
            "create it with the name the lesson asks for; the list shows what the service emits.",
        ),
        Cause::WrongKind => diagnosis(
            "the span was created with another kind.",
            "set the `otel.kind` field (\"server\", \"client\", \"internal\") when the span is created.",
        ),
        Cause::NotRoot | Cause::WrongParent => diagnosis(
            "the span was started while another span was current: `set_parent` was called after \
             the span was entered (tracing-opentelemetry starts the OTel span at its first enter, \
             so a later `set_parent` changes nothing), a future ran without `.instrument(span)`, \
             or the client span was not current when the request was sent.",
            "call `span.set_parent(cx)` right after creating the span, before entering it; wrap \
             async work in `.instrument(span)`; create child spans inside their parent's scope.",
        ),
        Cause::AttributeMissing => diagnosis(
            "the attribute is never recorded: `span.record(\"key\", ..)` is silently ignored unless \
             the field was declared when the span was created; or it is set on another span.",
            "declare it at creation (`key = tracing::field::Empty`) and record it later, or set it \
             with `OpenTelemetrySpanExt::set_attribute`.",
        ),
        Cause::IntAsString => diagnosis(
            "the number went through a string: it is a u64 or usize field (tracing-opentelemetry \
             has no u64 attribute type and records those with their Debug text), or it was \
             formatted with `%value` / `?value` / `.to_string()`.",
            "record it as a signed integer: `key = value as i64`, without `%` or `?`.",
        ),
        Cause::WrongType => diagnosis(
            "the attribute has another type than the conventions give it.",
            "record integers as i64, flags as bool and text as &str.",
        ),
        Cause::WrongValue => diagnosis(
            "the value differs: recorded before it was known, or from the wrong variable.",
            "record it once the value is final (e.g. the status code after the response).",
        ),
        Cause::EventMissing => diagnosis(
            "the event is not emitted, or lands on another span: an event belongs to the span \
             that is current when it is emitted.",
            "emit it inside this span's scope (`tracing::info!(name: \"..\", ..)` while the span is \
             entered, or `span.add_event(..)`).",
        ),
        Cause::WrongStatus => diagnosis(
            "the status is not recorded as the conventions say: on a SERVER span only 5xx is an \
             error; on a CLIENT span 4xx and 5xx are.",
            "record errors through the service's error type (error.rs): status ERROR plus an \
             `exception` event.",
        ),
        Cause::TooShort => diagnosis(
            "the injected delay did not happen inside this span: the `fault.*` baggage did not \
             arrive (baggage not propagated), or the sleep runs outside the handler span.",
            "make every hop inject `baggage` along with `traceparent`, and sleep inside the span.",
        ),
        Cause::Orphan => diagnosis(
            "the parent span was never exported: its service dropped it (export queue full, export \
             failed) or exited without flushing, or the parent context came from a span that is \
             not recorded.",
            "look for \"span export failed\" in the log of the service that owns the parent, and \
             make sure the parent span is created (and sampled) before its children.",
        ),
        Cause::Fragment => diagnosis(
            "a downstream service made its own sampling decision instead of following its parent, \
             so it kept parts of traces the gateway dropped.",
            "use a parent-based sampler everywhere (`parentbased_traceidratio`, not \
             `traceidratio`); only the gateway decides.",
        ),
        Cause::SampledEverything => diagnosis(
            "every request was traced: the gateway's sampler is still always_on (the default), or \
             its ratio is 1.",
            "set OTEL_TRACES_SAMPLER=parentbased_traceidratio and OTEL_TRACES_SAMPLER_ARG to this \
             lesson's ratio for api-gateway (docker-compose.yml, or .lab/api-gateway.env with \
             scripts/dev-up.sh), then restart it.",
        ),
        Cause::SampledNothing => diagnosis(
            "no request was traced: the sampler is off (always_off, ratio 0), or no span is \
             exported at all.",
            "check OTEL_TRACES_SAMPLER / _ARG of api-gateway; if they are right, run \
             `cargo lab check 01` to test the export path.",
        ),
        Cause::NotFlushed { service } => Diagnosis {
            likely: format!(
                "{service}'s spans were still queued in its batch processor when it stopped: the \
                 process exited without flushing them (the scenario sent SIGTERM after the \
                 requests, and the batch delay is long, so only a flush can deliver them)."
            ),
            fix: "after the server stops, shut the tracer provider down before the process \
                  exits: `telemetry.shutdown().await` flushes every queued span."
                .to_string(),
        },
        Cause::ParentIgnored { service } => Diagnosis {
            likely: format!(
                "{service} samples on its own instead of following its parent: the gateway kept \
                 these traces, but {service} dropped its part (and the services it calls followed \
                 its \"not sampled\"). A sampler like `traceidratio` ignores the parent's decision."
            ),
            fix: format!(
                "give {service} a parent-based sampler (the default `parentbased_always_on`, or \
                 `parentbased_traceidratio`): remove its OTEL_TRACES_SAMPLER override, and make the \
                 ratio decision at the gateway only."
            ),
        },
        Cause::UnexpectedTrace => diagnosis(
            "a trace exists for a request that should leave none: the request's unsampled parent \
             (or the sampler's \"drop\") was not respected by some service.",
            "use parent-based samplers, so an unsampled parent keeps the whole request unsampled.",
        ),
        Cause::WrongCount => diagnosis(
            "the trace holds another number of these spans than expected: a call in a loop \
             (N+1) instead of one batch call, or a span created twice.",
            "look at the repeated spans' parent and make one call for the whole batch.",
        ),
        Cause::AttributePresent => diagnosis(
            "an attribute that must not leave the pipeline is still on the span.",
            "remove or transform it (the collector's attributes processor: `delete` or `hash`).",
        ),
        Cause::NoMatch => diagnosis(
            "the attribute's value does not have the expected form.",
            "compare the value with the lesson's description (e.g. a hash, not the clear text).",
        ),
        Cause::LogsMissing { service } => Diagnosis {
            likely: format!(
                "the log lines of {service} do not carry the trace id, so they cannot be found \
                 by trace."
            ),
            fix: "put `trace_id` and `span_id` into every log line written inside a span (the \
                  log format in the telemetry crate)."
                .to_string(),
        },
        Cause::LogSpanId { service } => Diagnosis {
            likely: format!(
                "the log lines of {service} name their trace, but not the span they were written in: \
                 the `span_id` is missing, or it is not an OpenTelemetry span id (`tracing`'s own \
                 span `Id` is a number local to the process, not the id the trace shows)."
            ),
            fix: "write the OTel span context's `span_id()` (16 hex digits) beside its \
                  `trace_id()`, from the same span context."
                .to_string(),
        },
        Cause::CollectorConfig => diagnosis(
            "the collector config does not contain what the lesson asks for.",
            "edit the collector config file named above; `cargo lab hint` shows the way, one step at a time.",
        ),
        Cause::WrongAnswer { key } => Diagnosis {
            likely: format!("the answer to `{key}` is not what the trace shows."),
            fix: "read the trace again (`cargo lab trace <id> --attrs --events`) and answer with \
                  `--answer KEY=VALUE`."
                .to_string(),
        },
        Cause::UnitTests => diagnosis(
            "the traces look right under this load, but the unit tests (which drive the code on \
             a clock of their own) find a case it gets wrong.",
            "read the failing test's name and assertion above, and run the same `cargo test` \
             command yourself while you fix it.",
        ),
        Cause::LostInProcess {
            service,
            span,
            server,
        } => Diagnosis {
            likely: format!(
                "{service}'s {span} began a trace of its own although {service}'s {server} is in \
                 this trace: the request arrived with its context, and the context was lost \
                 inside the process (a spawned task, a thread). The current span belongs to the \
                 task or thread that entered it; work handed to another task or thread starts \
                 with no current span, so its first span becomes the root of a new trace."
            ),
            fix: format!(
                "find where {service} hands the work to another task or thread, and give the \
                 work itself the span that is current before the hand-over, so that span is \
                 entered wherever and whenever the work runs. Entering it only around the \
                 spawn, or looking for the current span inside the new task, is too late."
            ),
        },
        Cause::MixedRequests { service, span } => Diagnosis {
            likely: format!(
                "{service}'s {span} of one request sits in another request's trace: a span \
                 stayed current on a worker thread while its task was paused at an `.await` \
                 (an entered span kept across the `.await`), so other requests' work that ran \
                 on that thread hung under it, and the task went on under whatever was current \
                 where it resumed."
            ),
            fix: "never keep a span entered across an `.await`; attach the span to the future \
                  instead, so it is entered each time the task runs and left each time it \
                  pauses."
                .to_string(),
        },
        Cause::BuildFailed => diagnosis(
            "the code does not compile, so the services still run the previous build.",
            "fix the compiler errors shown above and run the check again.",
        ),
        Cause::WrongRatio => diagnosis(
            "the share of traced requests is off: the ratio is not this lesson's, or several \
             services sample by ratio (their ratios multiply).",
            "set the lesson's ratio on api-gateway and parent-based samplers downstream.",
        ),
        Cause::OverTarget => diagnosis(
            "under load the sampler kept far more traces per second than its target: its \
             decision keeps (nearly) every trace however busy the service is.",
            "when the estimated rate of new traces is above the target, keep each one with the \
             probability target / rate.",
        ),
        Cause::UnderTarget => diagnosis(
            "under load the sampler kept far fewer traces per second than its target: it drops \
             more than it needs to (a fixed small ratio, or a probability that falls too fast).",
            "keep each new trace with the probability target / rate, so that the kept traces per \
             second come out near the target.",
        ),
    }
}
