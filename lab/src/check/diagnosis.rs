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
    /// An event the span must not have (an `exception` on a 4xx).
    EventPresent,
    /// The span's status breaks the rule for its kind.
    WrongStatus {
        kind: SpanKind,
    },
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
    /// A value that must not be on the span is, under some key (`no_value`):
    /// a whole struct written with `Debug`, an e-mail.
    LeakedValue,
    /// A baggage entry (`from_baggage`) another span of the trace carries is
    /// missing here: the baggage did not cross the hop into this service.
    BaggageLost,
    /// The learner's `.lab/<service>.env` sets a variable over the lesson's
    /// `env/<service>.env`: the service ran with the learner's value.
    EnvOverride {
        service: String,
        key: String,
    },
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
    /// A service's log lines hold the trace id, but under another field
    /// name (`trace.id`, `traceId`) or in another form (uppercase): no tool
    /// that reads `trace_id` finds them.
    LogIdField {
        service: String,
    },
    /// The lines of a request whose trace was not kept (an unsampled
    /// parent) carry no ids, while a sampled request's lines do.
    LogsUnsampled {
        service: String,
    },
    /// A CONSUMER span began a trace of its own with a link to the PRODUCER
    /// span instead of being its child.
    LinkedNotChild {
        service: String,
    },
    /// A CONSUMER span continues the trace, but under another span than the
    /// PRODUCER span that sent its message.
    MessageParent,
    /// The collector config lacks what the lesson asks for.
    CollectorConfig,
    /// The collector config has it, but in a form that does not do it
    /// (defined and unused, misplaced, another value, another level...).
    Collector(CollectorFault),
    /// A wrong answer to one of the lesson's questions.
    WrongAnswer {
        key: String,
    },
    /// The code does not compile: nothing was checked.
    BuildFailed,
    /// The traces pass, the lesson's unit tests do not.
    UnitTests,
    /// The learner's unit test (judged by mutants) is not there: the filter
    /// ran no test.
    NoTest,
    /// The learner's unit test fails (or does not build) on the code as it is.
    TestFails,
    /// The learner's unit test still passes on a breakage of the code it
    /// tests: it does not look at what the breakage changes.
    MutantSurvived {
        name: String,
    },
    /// The code under test is not the lesson's: a breakage's text is not in
    /// its file exactly once (or the broken code does not build).
    CodeUnderTestChanged,
    /// A step's span is still open when a later step starts (`ends_before`).
    EndsLate,
    /// `queries:` lessons: a query file holds no query yet.
    QueryMissing,
    /// Postgres refused a query file.
    QueryError,
    /// A query's result lacks a column the question names.
    QueryColumns,
    /// A query's rows differ from what the spans say.
    QueryRows,
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
            Cause::EventPresent => "event-present",
            Cause::WrongStatus { .. } => "wrong-status",
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
            Cause::LeakedValue => "leaked-value",
            Cause::BaggageLost => "baggage-lost",
            Cause::EnvOverride { .. } => "env-override",
            Cause::NoMatch => "no-match",
            Cause::LogsMissing { .. } => "logs-missing",
            Cause::LogSpanId { .. } => "log-span-id",
            Cause::LogIdField { .. } => "log-id-field",
            Cause::LogsUnsampled { .. } => "logs-unsampled",
            Cause::LinkedNotChild { .. } => "linked-not-child",
            Cause::MessageParent => "message-parent",
            Cause::CollectorConfig => "collector-config",
            Cause::Collector(fault) => fault.key(),
            Cause::WrongAnswer { .. } => "wrong-answer",
            Cause::BuildFailed => "build-failed",
            Cause::QueryMissing => "query-missing",
            Cause::QueryError => "query-error",
            Cause::QueryColumns => "query-columns",
            Cause::QueryRows => "query-rows",
            Cause::UnitTests => "unit-tests",
            Cause::NoTest => "no-test",
            Cause::TestFails => "test-fails",
            Cause::MutantSurvived { .. } => "mutant-survived",
            Cause::CodeUnderTestChanged => "code-under-test-changed",
            Cause::EndsLate => "ends-late",
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
        Cause::BadStatus { status } if *status < 300 => diagnosis(
            "the request succeeded where the check asked for a failure (`?fail=`): the service \
             it names never saw the fault plan, which travels as baggage in the trace context.",
            "look at how that service takes the caller's context: its SERVER span must continue \
             it (the `traceparent` and `baggage` headers) before the handler runs.",
        ),
        Cause::BadStatus { .. } => diagnosis(
            "the request was rejected (validation, unknown user or product, stock).",
            "compare the request of this check with the API in the README; did seed data change?",
        ),
        Cause::NotContinued => diagnosis(
            "the gateway started a new trace instead of continuing the one in our `traceparent` \
             header: the incoming context is not extracted, or it was made the parent of the \
             SERVER span too late (after the span had started: entered, or its context read), \
             which the span ignores.",
            "look at how the server layer (telemetry/src/server.rs) builds the SERVER span: read \
             the context from the request's headers and make it the parent before anything \
             enters the span or reads its context. The service's log says so once when a parent \
             came too late.",
        ),
        Cause::NoSpans => diagnosis(
            "nothing reached the trace backend. Usual suspects: (1) the exporter endpoint or \
             protocol is wrong (http/protobuf → port 4318, grpc → 4317; inside compose the host is \
             otel-collector, not localhost); (2) spans were still queued when the process exited \
             (no flush on shutdown); (3) the sampler drops everything (always_off, ratio 0); \
             (4) the collector's OTLP receiver listens on localhost inside its container.",
            "read each service's start-up log line (endpoint, protocol, sampler) and look for \
             \"span export failed\" warnings; make sure each service flushes its queued spans when \
             it shuts down (lesson 01); \
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
            fix: "producer side: the message must carry the context of the PRODUCER span that \
                  sends it, written as fields beside the payload in the same W3C form as HTTP \
                  headers; consumer side: read those fields back and make them the CONSUMER \
                  span's parent before it is entered."
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
            fix: "save the current span's context with the message when it is written (as \
                  W3C fields beside it), and make that saved context the PRODUCER span's parent \
                  when the message is sent."
                .to_string(),
        },
        Cause::SplitTrace { service, .. } => Diagnosis {
            likely: format!(
                "propagation is broken on the way into {service}: its caller sent no usable \
                 `traceparent` header, or {service} did not make it the parent of its SERVER \
                 span, so it started a trace of its own."
            ),
            fix: "the caller must write the context of its CLIENT span for this call (with the \
                  baggage) into the request's headers; the callee must read it back and make it \
                  the parent of its SERVER span before that span starts. Both halves are in the \
                  telemetry crate, at the `// LESSON 05` markers."
                .to_string(),
        },
        Cause::ServiceMissing { service } => Diagnosis {
            likely: format!(
                "{service} has no span in this trace: nobody called it for this request, it has \
                 no telemetry at all, or it exports nothing to this backend (its OTEL_* \
                 environment or its exporter setup differs from the other services)."
            ),
            fix: format!(
                "if the CLIENT span of the call to {service} is missing too, the call was never \
                 made: look at the code that should make it. Otherwise compare {service}'s \
                 OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL, OTEL_SDK_DISABLED and \
                 OTEL_TRACES_SAMPLER with a working service, and look in its log for \
                 \"span export failed\"."
            ),
        },
        Cause::SpanMissing => diagnosis(
            "the span is not created (instrumentation missing) or has another name.",
            "create it with the name the lesson asks for; the list shows what the service emits.",
        ),
        Cause::WrongKind => diagnosis(
            "the span was created with another kind (a span given none is INTERNAL).",
            "give the span its kind when it is created: a call to another server (an HTTP \
             service, a database, a cache) is a CLIENT span.",
        ),
        Cause::NotRoot | Cause::WrongParent => diagnosis(
            "the span hangs under another span than its parent: the context handed to the callee \
             (or set as the parent) was not the one of the span that made the call, the parent \
             was set after the span had started (too late: it is ignored), or the work ran \
             outside its parent span.",
            "find where this span gets its parent: the context sent with the call must be the \
             one of the calling span itself; a parent set on a span must be set before the span \
             starts; work belongs inside its parent span.",
        ),
        Cause::AttributeMissing => diagnosis(
            "the attribute is never recorded: with `tracing`, recording a value into a field \
             that was not declared when the span was created is silently ignored; or the value \
             is set on another span.",
            "declare every field the span will carry when you create it (empty if the value comes \
             later), then fill it in; or set the attribute through the OpenTelemetry span itself.",
        ),
        Cause::IntAsString => diagnosis(
            "the number went through text: it was formatted (Display or Debug) on its way into \
             the field, it was taken from the raw JSON instead of the parsed value, or it is an \
             unsigned or usize value (OpenTelemetry has no unsigned type).",
            "record the number itself, as a signed 64-bit integer, not a formatted version of it.",
        ),
        Cause::WrongType => diagnosis(
            "the attribute has another type than the conventions give it.",
            "record integers as signed 64-bit integers, flags as booleans and text as text.",
        ),
        Cause::WrongValue => diagnosis(
            "the value differs: recorded before it was known, or taken from another variable \
             (a value of the right type but another meaning).",
            "trace the value back to where it is decided and record that one, once it is final.",
        ),
        Cause::EventMissing => diagnosis(
            "the event is not emitted at all, is filtered out (below INFO level), is a span \
             rather than an event, or lands on another span: an event belongs to the span that \
             is current when it is emitted.",
            "emit it, at INFO level, at a point where this span is the current one. An \
             `exception` event is not emitted by hand: it comes with recording the failure on \
             the span (status and event together, telemetry/src/errors.rs), in the one place \
             that sets this span's status.",
        ),
        Cause::EventPresent => diagnosis(
            "the span records an event that says something that did not happen here: an \
             `exception` on a span whose request was the client's mistake (a 4xx) tells every \
             backend and alert that this service failed.",
            "record the exception only where the span's status is set to error, by the same \
             rule: for a SERVER span, a 5xx only.",
        ),
        Cause::WrongStatus {
            kind: SpanKind::Internal,
        } => diagnosis(
            "an INTERNAL span (a step of the service's own) must say whether its step failed: \
             status error when the step returned an error, unset otherwise. Nothing sets it for \
             you: a step that returns `Err` leaves its span unset unless something records the \
             error on it.",
            "record the failure where the step returns it, on the step's own span (its status \
             and an `exception` event), not only on the request's SERVER span; the line above \
             says which way it is off.",
        ),
        Cause::WrongStatus { .. } => diagnosis(
            "the status does not follow the conventions: on a SERVER span only a 5xx is a \
             failure (a 4xx is the client's mistake: status stays unset); on a CLIENT span 4xx \
             and 5xx both are; a span that did not fail keeps status unset, not ok.",
            "find the one place that sets this kind of span's status (the layer that creates the \
             span, not the handler) and compare its rule with the one above; the line above \
             says which way it is off.",
        ),
        Cause::TooShort => diagnosis(
            "the injected delay did not happen inside this span: the `fault.*` baggage the \
             gateway adds did not arrive (the context sent on was not the one holding it, or \
             only `traceparent` was sent), or the sleep runs outside the handler span.",
            "make every hop send the baggage it holds, including what the caller added to it, \
             along with `traceparent`; the delay must run inside the span.",
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
            "look at the sampler of each service below the gateway (its OTEL_TRACES_SAMPLER): \
             one that decides again, whatever the parent said, records what the gateway dropped. \
             docs/sampling.md says which samplers follow their parent.",
        ),
        Cause::SampledEverything => diagnosis(
            "every request was traced: the service that starts the traces keeps all of them (no \
             sampler set, one that keeps everything, or a ratio of 1).",
            "look at the sampler that decides for new traces (the gateway's OTEL_TRACES_SAMPLER and \
             its ARG, in the lesson's environment or your .lab/api-gateway.env) and at the share \
             this lesson asks for.",
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
                 process exited without flushing them, or flushed too early, before the requests \
                 still in flight had finished (their spans end during the drain, after such a \
                 flush). The scenario sent SIGTERM, and the batch delay is long, so only a flush \
                 at the very end can deliver them."
            ),
            fix: "the spans must be exported after the last request is finished and before the \
                  process exits: after the server has stopped (and drained the requests in \
                  flight), shut the telemetry down, and wait until it is done."
                .to_string(),
        },
        Cause::ParentIgnored { service } => Diagnosis {
            likely: format!(
                "{service} makes a sampling decision of its own instead of following the one that \
                 arrived in `traceparent`: it drops traces its caller kept (a kept trace loses its \
                 lower part, or vanishes, as the services it calls follow its \"not sampled\"), or \
                 records traces its caller dropped."
            ),
            fix: format!(
                "look at {service}'s sampler (OTEL_TRACES_SAMPLER): a service that receives a \
                 decision should follow it, and only the service that starts the trace decides \
                 (docs/sampling.md lists which samplers follow their parent)."
            ),
        },
        Cause::UnexpectedTrace => diagnosis(
            "a trace exists for a request that should leave none: the request's unsampled parent \
             (or the sampler's \"drop\") was not respected by some service, or a context was \
             passed on (across a queue, say) with the sampled flag set whatever the decision \
             was; the trace's first span shows where.",
            "start from the trace's first span: its service needs a parent-based sampler, so that \
             an unsampled parent keeps the whole request unsampled, and the context it continued \
             must arrive with the caller's \"not sampled\" flag intact.",
        ),
        Cause::WrongCount => diagnosis(
            "the trace holds another number of these spans than expected: more, when a call \
             is made in a loop (an N+1) instead of once for the whole batch, or a span is \
             created twice; fewer, when a call is not made at all.",
            "look at the spans' parent: make one call for the whole batch, and no call that \
             the lesson's trace does not show.",
        ),
        Cause::AttributePresent => diagnosis(
            "an attribute the lesson says must not be on this span is there: something set it \
             (the code, or a setting the service runs with) and nothing on the way removed it.",
            "find what sets it (the lesson's note below says where to look); data that must not \
             leave the pipeline can also be deleted or hashed by the collector.",
        ),
        Cause::LeakedValue => diagnosis(
            "a value that does not belong on this span is there: a whole value written with its \
             `Debug` format (every field of a struct, secrets included, as one string no backend \
             can filter on), which is what an instrumented function records for each argument \
             it is not told to leave out, and for its return value when asked to.",
            "record only what the span is for, each as a named attribute of its own type, and \
             keep the function's arguments (and its return value) off the span.",
        ),
        Cause::BaggageLost => diagnosis(
            "the request's baggage did not reach this service although its trace did: the caller \
             sent `traceparent` but no `baggage` header (a propagator for the trace context \
             alone writes only `traceparent`), or the context it sent held no baggage.",
            "the caller must send the baggage with the trace context: both W3C formats, as the \
             telemetry crate's propagation module installs them, from the context that holds \
             the baggage.",
        ),
        Cause::EnvOverride { service, key } => Diagnosis {
            likely: format!(
                "{service} ran with your own {key}, not the lesson's: this check expects what \
                 the lesson's environment gives, so findings about {service} may come from your \
                 setting, not from your code."
            ),
            fix: format!(
                "delete the {key} line from .lab/{service}.env (then `scripts/dev-up.sh`, or just \
                 check again), or keep it while you experiment and expect this check to fail."
            ),
        },
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
            fix: "write the OpenTelemetry id of the span the line is written in (16 lowercase \
                  hex digits), taken from the same span context as the trace id."
                .to_string(),
        },
        Cause::LogIdField { service } => Diagnosis {
            likely: format!(
                "the log lines of {service} hold the trace id, but not as `trace_id` in the form \
                 the trace shows (32 lowercase hex digits): `cargo lab logs`, this check and \
                 log tools that follow OpenTelemetry look for that field, and do not find them."
            ),
            fix: "name the fields `trace_id` and `span_id`, and write the ids as lowercase hex, \
                  as the trace shows them."
                .to_string(),
        },
        Cause::LogsUnsampled { service } => Diagnosis {
            likely: format!(
                "{service}: the ids are written into the lines of sampled requests only, but a request \
                 whose trace is not kept still has a trace id and span ids (they are made and \
                 propagated either way), and its lines are the only record left of it."
            ),
            fix: "write the ids whenever the span context is valid, whether or not it is \
                  sampled."
                .to_string(),
        },
        Cause::LinkedNotChild { service } => Diagnosis {
            likely: format!(
                "{service}'s CONSUMER span points at the PRODUCER span with a link, and has no \
                 parent: a link relates two traces (a batch built from many messages, a job \
                 started by an old event), it does not continue one, so the work done for this \
                 message is missing from the request's trace."
            ),
            fix: "for a message processed on its own, make the context read from the message \
                  the CONSUMER span's parent (a link may be kept beside it)."
                .to_string(),
        },
        Cause::MessageParent => diagnosis(
            "the CONSUMER span continues the trace, but not from the PRODUCER span that sent the \
             message: the message carries another span's context (one saved earlier with it, or \
             the sender's caller), so the trace skips the hop across the queue.",
            "write the context of the span that sends the message into it, at the moment it is \
             sent.",
        ),
        Cause::CollectorConfig => diagnosis(
            "the collector config does not contain what the lesson asks for.",
            "edit the collector config file named above; `cargo lab hint` shows the way, one step at a time.",
        ),
        Cause::Collector(fault) => fault.explain(),
        Cause::WrongAnswer { key } => Diagnosis {
            likely: format!("the answer to `{key}` is not what the trace shows."),
            fix: "read the trace again (`cargo lab trace <id> --attrs --events`) and answer with \
                  `--answer KEY=VALUE`."
                .to_string(),
        },
        Cause::EndsLate => diagnosis(
            "the span is still open while later steps run, so its duration is not its step's: \
             it was created but its work did not run inside it (a span never entered ends only \
             when it is dropped, at the end of the request), or later work runs inside it too.",
            "run exactly the step's work inside the span, and nothing after it.",
        ),
        Cause::UnitTests => diagnosis(
            "the traces look right for the requests the check could send, but the lesson's unit \
             tests, which drive the code directly with cases no request can make, find one it \
             gets wrong.",
            "read the failing test's name and assertion above, and run the same `cargo test` \
             command yourself while you fix it.",
        ),
        Cause::NoTest => diagnosis(
            "the command ran no test: the test is missing, renamed (the check finds it by its \
             name), marked `#[ignore]`, or not marked `#[test]`.",
            "keep the lesson's test where it is, with its name, and run the same `cargo test` \
             command yourself: it must say `1 passed`.",
        ),
        Cause::TestFails => diagnosis(
            "your test does not pass on the code as it is, so it cannot tell working code from \
             broken code: an assertion expects what the code does not do, the test is not \
             finished (`todo!()`), it does not build, or it reads the spans too late (shutting \
             the provider down, or dropping its last handle, empties the in-memory exporter).",
            "read the failed assertion (or the compiler's error) above, and run the same \
             `cargo test` command yourself until it passes.",
        ),
        Cause::MutantSurvived { .. } => diagnosis(
            "your test passes on code that is broken in this way: it does not look at what the \
             breakage changes, so the same mistake in the real code would go unnoticed (a test \
             that finds a span by name proves the span exists, nothing more).",
            "assert on that property of the finished span itself: the attribute's value and its \
             type, the span's parent (in the same trace), whatever the breakage took away; \
             then run the check again.",
        ),
        Cause::CodeUnderTestChanged => diagnosis(
            "the code your test exercises is not the lesson's any more: the check breaks it in \
             a few exact places, one at a time, and cannot find one of them.",
            "put the code under test back as it was (`git diff` shows your changes; the \
             exercise changes only the test), then run the check again.",
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
        Cause::QueryMissing => diagnosis(
            "the file holds only comments: the question is not answered yet.",
            "explore the table with `cargo lab sql` until a query answers the question, then \
             write it in the file (one SELECT).",
        ),
        Cause::QueryError => diagnosis(
            "Postgres could not run the query (its message is above).",
            "run the file with `cargo lab sql -f <file>`: the error shows a caret where \
             Postgres stopped.",
        ),
        Cause::QueryColumns => diagnosis(
            "the check reads the answer by column name, and a column is missing or named \
             otherwise.",
            "name each output column as the question does, with `AS`.",
        ),
        Cause::QueryRows => diagnosis(
            "the query runs, but its rows say something the spans do not: the line above names \
             the first row that differs and what the spans hold there.",
            "run the query with `cargo lab sql -f <file>` and look at that row; check which \
             spans each row is made of (how they are joined, filtered and grouped) and what \
             the figure is computed from.",
        ),
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
            "the traces kept per second are the rate of new traces times the probability the \
             decision returns: look at what it returns when the rate is well above the target.",
        ),
        Cause::UnderTarget => diagnosis(
            "under load the sampler kept far fewer traces per second than its target: it drops \
             more than it needs to (a fixed small share, or a probability that falls too fast as \
             the rate grows).",
            "the traces kept per second are the rate of new traces times the probability the \
             decision returns: work out which probability gives the target at four times the \
             target's rate.",
        ),
    }
}

/// What is wrong with a collector config that has (something like) what the
/// lesson asks for: each a finding key of its own, so a check names the
/// real cause and the lesson gate can prove it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollectorFault {
    /// Defined under `processors:`, listed in no traces pipeline.
    NotInPipeline,
    /// A setting where the collector does not read it (a policy's settings
    /// beside its `type`; a processor's list under another key).
    MisplacedSetting,
    /// The right component, another value (a threshold, a share, an action).
    WrongSetting,
    /// A policy that keeps every trace, so the others decide nothing.
    KeepsEverything,
    /// Policies inside an `and`: a trace is kept only when all agree.
    CombinedPolicies,
    /// A span attribute set on the resource, or a resource attribute on spans.
    WrongLevel,
    /// The processors of a traces pipeline in the wrong order.
    PipelineOrder,
}

impl CollectorFault {
    pub fn key(self) -> &'static str {
        match self {
            CollectorFault::NotInPipeline => "not-in-pipeline",
            CollectorFault::MisplacedSetting => "misplaced-setting",
            CollectorFault::WrongSetting => "wrong-setting",
            CollectorFault::KeepsEverything => "keeps-everything",
            CollectorFault::CombinedPolicies => "combined-policies",
            CollectorFault::WrongLevel => "wrong-level",
            CollectorFault::PipelineOrder => "pipeline-order",
        }
    }

    pub fn explain(self) -> Diagnosis {
        match self {
            CollectorFault::NotInPipeline => diagnosis(
                "the processor is defined under `processors:`, but no traces pipeline lists it: \
                 the collector runs only the components a pipeline names, so spans pass it by.",
                "add it to the processors of the traces pipeline (under `service:` → \
                 `pipelines:`), where the lesson says.",
            ),
            CollectorFault::MisplacedSetting => diagnosis(
                "a setting sits where the collector does not read it: the collector then refuses \
                 the whole config at start-up, or runs the component without it.",
                "compare the nesting and the key names with the component's README \
                 (collector-contrib); the problem above names the setting.",
            ),
            CollectorFault::WrongSetting => diagnosis(
                "the component is there, but one of its settings does something else than the \
                 lesson asks for.",
                "compare the setting named above with what the lesson asks for (for a number, \
                 also with the unit the component's README gives it).",
            ),
            CollectorFault::KeepsEverything => diagnosis(
                "a policy keeps every trace: a trace is kept when ANY policy says so, so with it \
                 the other policies decide nothing, and the collector only delays every trace.",
                "remove what keeps everything; keep only the policies the lesson asks for.",
            ),
            CollectorFault::CombinedPolicies => diagnosis(
                "the policies sit inside an `and`, which keeps a trace only when ALL of its \
                 sub-policies say so: an error that is fast, or a slow trace outside the share, \
                 is dropped.",
                "each kind of trace to keep needs a policy that decides on its own (a trace is kept \
                 when any of those says so).",
            ),
            CollectorFault::WrongLevel => diagnosis(
                "the attribute is changed on the wrong level: a span's attributes describe one \
                 operation; the resource describes the process that made all of its spans (its \
                 service, where it is deployed). A processor for one level does not touch the \
                 other.",
                "use the processor (or the OTTL context) of the level the attribute belongs to; the \
                 lesson's README says which is which.",
            ),
            CollectorFault::PipelineOrder => diagnosis(
                "the processors of the traces pipeline run in the order they are listed, and one \
                 of them is out of place.",
                "reorder the traces pipeline's `processors:` list as the problem above says.",
            ),
        }
    }
}
