//! The expected shape of a lesson's traces: `lessons/NN-slug/check.yaml`.
//!
//! ```yaml
//! title: Your first trace
//! requests:                       # sent to the gateway, in order
//!   - method: POST
//!     path: /orders
//!     body: { user_id: "1", product: Laptop, quantity: 1 }
//!     status: 201                 # expected HTTP status
//!     repeat: 1                   # optional: send it this many times
//! trace:                          # every request's trace must look like this
//!   services: [api-gateway, order-service, user-service, inventory-service]
//!   spans:
//!     - { service: api-gateway, name: POST /orders, kind: server, root: true }
//!     - service: order-service
//!       name: POST /orders
//!       kind: server
//!       parent: { service: api-gateway, name: POST, kind: client }
//!       attributes:
//!         - { key: http.response.status_code, type: int64, value: 201 }
//!       events:
//!         - { name: order.confirmed }
//!       status: unset             # unset | ok | error
//!       min_duration_ms: 0
//!       optional: false           # true: check it only if it is there
//!       resource:                 # the span's resource (process) attributes
//!         - { key: deployment.environment.name, type: string }
//! sampling:                       # only for sampling lessons (see below)
//!   ratio: 0.25
//!   tolerance: 0.1                # optional; default: a binomial 4-sigma band
//! ```
//!
//! With `sampling`, requests carry no `traceparent` (a sampled parent would
//! make any parent-based sampler keep the trace); the trace ids are read from
//! the responses, and the share of requests that produced a trace with its
//! root span (one without is a `fragment`) is compared with `ratio`. Requests
//! given a `traceparent:` of their own do not count towards the share.
//!
//! The keys lessons use beyond the trace shape:
//!
//! ```yaml
//! exercise: pending            # no exercise.patch yet: the gate lists it as not proven
//! expect_failure: not-flushed  # the cause the starting point must fail with (the gate)
//! timeout_s: 30                # how long to wait for traces (default 15)
//! settle_ms: 2000              # wait at least this long: spans arriving after the response
//! diagnosis:                   # lesson words added to a cause's explanation
//!   not-flushed: "look at order-service/src/main.rs, `// LESSON 01`"
//! requests:
//!   - path: /orders
//!     headers: { baggage: "request.source=lab" }
//!     traceparent: unsampled   # sampled | unsampled | none (default: sampled;
//!                              # none in sampling lessons)
//!     expect_trace: absent     # present (default) | absent
//!     repeat: 40
//!     rps: 20                  # a load phase: paced at this rate (`rps: 1000`
//!                              # with a few repeats: all in flight at once;
//!                              # a span with `count` then also tells requests
//!                              # mixed up with each other: `mixed-requests`)
//!     kept: { per_second: 5 }  # sampling lessons: about 5 traces/s of this
//!                              # phase (within `factor`, default 2), or
//!                              # `kept: { share: 1.0 }` of its requests
//!                              # (with `traceparent: sampled`, a share below 1
//!                              # is `parent-ignored`: the first service
//!                              # decided again instead of following it)
//! after_requests:              # then, before reading the traces:
//!   restart: [order-service]   # SIGTERM (it must flush) and start again
//!   stop: []                   # SIGTERM and leave it stopped
//! trace:
//!   spans:
//!     - service: order-service
//!       name: GET
//!       count: { min: 1, max: 1 }           # or `count: 1`
//!       starts_after_parent_ms: 200         # begins at least 200 ms after its
//!                                           # parent began (a wait before it)
//!       attributes:
//!         - { key: user.email, absent: true }
//!         - { key: user.email.hash, matches: "^[0-9a-f]{64}$" }
//!         # copied from the request's baggage (BAGGAGE_SPAN_KEYS): missing
//!         # here but on another span of the trace is `baggage-lost` (the
//!         # baggage did not cross the hop), not `attribute-missing`
//!         - { key: request.source, value: lab, from_baggage: true }
//! logs:                        # JSON log lines whose `trace_id` is the trace's and
//!                              # whose `span_id` is one of the service's spans in it
//!                              # (.lab/logs/<service>.log, or `docker compose logs`)
//!   - { service: order-service, min: 1, contains: "order confirmed" }
//!                              # For a request with `expect_trace: absent` (an
//!                              # unsampled parent) the same entries apply to the lines
//!                              # with the id it was sent with (`logs-unsampled`; no
//!                              # span to compare). Lines that hold the id under another
//!                              # field name or in another form are `log-id-field`.
//! collector:                   # static: the collector config, any equivalent form
//!   file: config/otel-collector.yaml
//!   expect:
//!     - { processor: attributes, action: { key: user.email, action: hash } }
//!     - { processor: attributes, action: { key: env, action: [insert, upsert] } }
//!     - { before: [memory_limiter, batch] }   # only judged when both are there
//!     - { first: memory_limiter }              # first in each traces pipeline that has it
//!     - processor: resource                    # a `resource` processor's `attributes`
//!       action: { key: deployment.environment.name, action: [insert, upsert] }
//!       says: every span says which environment it comes from   # the ✓/✗ line
//!     - processor: tail_sampling   # a policy among its policies (or in a
//!       policy:                    # composite, or alone in an `and`)
//!         type: latency            # status_code | latency | probabilistic
//!         threshold_ms: { min: 200, max: 1000 }
//!     - { processor: tail_sampling, policy: { type: status_code, status_code: ERROR } }
//!     - { processor: tail_sampling, policy: { type: probabilistic, percentage: 10 } }
//!     - { processor: tail_sampling, no_policy: always_sample }
//! # Equivalent forms pass: an `attributes` (span) or `resource` action may
//! # also be an OTTL statement of a `transform` processor in a traces
//! # pipeline (`set(..., SHA256(...))` for hash, `delete_key` /
//! # `delete_matching_keys` for delete, `set` for insert/upsert, on
//! # `span.attributes` or `resource.attributes`); errors may be kept by an
//! # `ottl_condition` on the span status or a `numeric_attribute` on
//! # http.response.status_code over 500..=599, slow traces by an
//! # `ottl_condition` on the span's duration. A config that has the thing in a
//! # form that does not work gets a finding key of its own: not-in-pipeline,
//! # misplaced-setting, wrong-setting, keeps-everything, combined-policies,
//! # wrong-level, pipeline-order (else collector-config: missing).
//! # A service missing from the trace is looked for in the other recent
//! # traces: a piece it began while this request was served is named with
//! # its trace id and root span (`split-trace`). In native mode, a variable
//! # the learner's `.lab/<service>.env` sets over the lesson's
//! # `env/<service>.env` comes first in a failed check (`env-override`).
//! # With `collector:`, the requests and the trace are checked only where
//! # that collector runs (natively with otelcol-contrib on PATH, or in
//! # compose); elsewhere the static assertions alone decide, and the check
//! # says so.
//! unit_tests:                  # once the traces pass: cargo test -p telemetry --lib -- sampler::adaptive
//!   { package: telemetry, filter: "sampler::adaptive" }
//! # With `mutants`, the tests are the learner's and the check judges them:
//! # they must pass (`no-test`, `test-fails`), then fail on each breakage
//! # of the code they test, one at a time, the file restored byte for byte
//! # after each (`mutant-survived` names the first that passes). With
//! # `requests: []` the check runs the tests alone: no services needed.
//! unit_tests:
//!   package: order-service
//!   filter: lesson17
//!   mutants:
//!     - name: attribute-dropped
//!       file: order-service/src/routes.rs
//!       find: 'tracing::Span::current().record("order.total_cents", total);'
//!       replace: ""
//!       why: "`calculate_total` records no order.total_cents"
//! questions:                   # `cargo lab check NN --answer slowest=inventory-service`
//!   - { key: slowest, text: Which service added the delay?, answer: inventory-service }
//!                              # or `matches: REGEX` instead of `answer` (any case)
//! ```
//!
//! Keys that relate a span to its request, its siblings, or a shutdown:
//!
//! ```yaml
//! after_requests:
//!   restart: [order-service]
//!   in_flight_ms: 700          # stop them this long after the LAST request left,
//!                              # while it is still in flight (send a slow one,
//!                              # `?delay=`): the service must drain it, then flush
//! trace:
//!   spans:
//!     - service: order-service
//!       name: validate_order
//!       ends_before:           # it ends before the first span like this starts
//!         - { service: order-service, name: GET, kind: client }
//!     - service: order-service
//!       name: save_order
//!       no_value:              # no attribute of the span or of its events has a
//!         matches: "[A-Z]\\w* \\{ \\w+: "   # value like this (a struct written
//!         says: a whole struct written with Debug   # with Debug, an e-mail...)
//!         except: [user.email] # optional: keys recorded on purpose
//!     - service: order-service   # (a span never entered lasts until it is dropped)
//!       name: POST /orders
//!       events:
//!         - name: order.confirmed
//!           attributes:        # equal to this field of the request's JSON answer
//!             - { key: order.id, type: int64, equals_response: order_id }
//!     - service: inventory-service
//!       name: UPDATE products
//!       piece: "each query in a CLIENT span (lesson 07)"   # said with its findings
//!     - service: order-service
//!       name: POST /orders
//!       events:
//!         - { name: exception, absent: true }   # no such event (`event-present`)
//!       for_request: "fail=order-service"  # only for requests whose method and
//!                              # path contain this (with for_status: both)
//!       for_status: [400, 409] # checked only in the traces of the requests the
//!       status: unset          # gateway answered with one of these statuses
//!                              # (required there unless `optional: true`)
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::model::{SpanKind, Status};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub title: String,
    /// `pending`: the lesson has no exercise.patch yet.
    pub exercise: Option<ExerciseSpec>,
    /// The cause key the starting point must fail with (see `Cause::key`).
    pub expect_failure: Option<String>,
    /// Seconds to wait for traces (overrides the default 15).
    pub timeout_s: Option<u64>,
    /// Wait at least this long for spans: some arrive after the response.
    pub settle_ms: Option<u64>,
    /// Cause key → the lesson's own words, printed with that finding.
    #[serde(default)]
    pub diagnosis: BTreeMap<String, String>,
    /// Empty (or left out) only in a check of unit tests alone.
    #[serde(default)]
    pub requests: Vec<RequestSpec>,
    #[serde(default)]
    pub after_requests: AfterRequests,
    #[serde(default)]
    pub trace: TraceSpec,
    pub sampling: Option<SamplingSpec>,
    #[serde(default)]
    pub logs: Vec<LogSpec>,
    pub collector: Option<CollectorSpec>,
    #[serde(default)]
    pub questions: Vec<QuestionSpec>,
    /// Unit tests run once the traces pass (e.g. a sampler's, on a manual clock).
    pub unit_tests: Option<UnitTestsSpec>,
    /// The learner's SQL over the spans table, judged against the spans.
    pub queries: Option<super::queries::QueriesSpec>,
}

/// `cargo test -p <package> --lib -- <filter>`, in the workshop root.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitTestsSpec {
    pub package: String,
    /// Only the tests whose path contains this (e.g. `sampler::adaptive`).
    pub filter: String,
    /// With mutants, the tests are the learner's work and the check judges
    /// them: they must pass on the code as it is and fail on each of these
    /// small breakages of the code they test, applied one at a time.
    #[serde(default)]
    pub mutants: Vec<MutantSpec>,
}

/// One small breakage of the code under test: `find` replaced by `replace`
/// in `file` (exact text, found exactly once), for one test run; the file
/// is put back byte for byte afterwards.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutantSpec {
    /// A short name (`attribute-dropped`), shown in the progress lines.
    pub name: String,
    /// Repository-relative path of the file it changes.
    pub file: String,
    pub find: String,
    pub replace: String,
    /// What the breakage does, in words and without code: the finding says
    /// "your test still passes when <why>".
    pub why: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExerciseSpec {
    Pending,
}

/// Services to stop or restart once the requests are answered.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AfterRequests {
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default)]
    pub restart: Vec<String>,
    /// Stop (and restart) them this many ms after the last request left,
    /// while it is still in flight, instead of after its answer.
    pub in_flight_ms: Option<u64>,
}

impl AfterRequests {
    /// Every service the scenario sends SIGTERM to.
    pub fn stopped(&self) -> impl Iterator<Item = &str> {
        self.stop.iter().chain(&self.restart).map(String::as_str)
    }
}

/// Log lines of each request's trace a service must have written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    pub service: String,
    /// Lines with the trace id that must also contain this text.
    pub contains: Option<String>,
    #[serde(default = "one")]
    pub min: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorSpec {
    /// Repository-relative path of the collector config.
    pub file: String,
    pub expect: Vec<CollectorExpect>,
}

/// One assertion on the collector config; component names match by type
/// (`attributes/pii` is an `attributes`), in any `traces` pipeline.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorExpect {
    /// A processor of this type is in a traces pipeline.
    pub processor: Option<String>,
    /// ... and among its `actions` is one on this key with this action.
    pub action: Option<ActionSpec>,
    /// Two processor types, the first before the second in the pipeline.
    pub before: Option<[String; 2]>,
    /// ... and among its policies (a `tail_sampling` processor's) is one like this.
    pub policy: Option<PolicySpec>,
    /// ... and none of its policies is of this type (e.g. `always_sample`,
    /// which keeps every trace whatever the other policies say).
    pub no_policy: Option<String>,
    /// This processor type is the first of every traces pipeline that has it
    /// (e.g. `memory_limiter`), and at least one traces pipeline has it.
    pub first: Option<String>,
    /// What the learner reads for this expectation (the ✓/✗ line), in the
    /// lesson's words instead of the config's: what it must do, not how.
    pub says: Option<String>,
}

/// An attributes processor action: on `key` (or a `pattern` matching it),
/// one of these actions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub key: String,
    pub action: OneOrMore,
}

/// `hash`, or `[insert, upsert]` (any of them).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMore {
    One(String),
    More(Vec<String>),
}

impl OneOrMore {
    pub fn contains(&self, value: &str) -> bool {
        match self {
            OneOrMore::One(one) => one == value,
            OneOrMore::More(more) => more.iter().any(|m| m == value),
        }
    }

    /// `hash`, or `insert` or `upsert`: for messages.
    pub fn describe(&self) -> String {
        match self {
            OneOrMore::One(one) => format!("`{one}`"),
            OneOrMore::More(more) => more
                .iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(" or "),
        }
    }
}

/// A tail-sampling policy the lesson asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicySpec {
    /// `status_code`, `latency` or `probabilistic`.
    #[serde(rename = "type")]
    pub kind: PolicyKind,
    /// status_code: this code is among its `status_codes` (e.g. ERROR).
    pub status_code: Option<String>,
    /// latency: its `threshold_ms` within this range (and no upper bound).
    pub threshold_ms: Option<RangeSpec>,
    /// probabilistic: its `sampling_percentage` within this range.
    pub percentage: Option<RangeSpec>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    StatusCode,
    Latency,
    Probabilistic,
}

impl PolicyKind {
    /// The policy's `type` in the collector config.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::StatusCode => "status_code",
            PolicyKind::Latency => "latency",
            PolicyKind::Probabilistic => "probabilistic",
        }
    }
}

/// `10` or `{ min: 200, max: 1000 }` (either bound optional).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum RangeSpec {
    Exactly(f64),
    Range { min: Option<f64>, max: Option<f64> },
}

impl RangeSpec {
    pub fn contains(self, value: f64) -> bool {
        match self {
            RangeSpec::Exactly(v) => value == v,
            RangeSpec::Range { min, max } => {
                min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }

    /// `10`, `at most 1000`, `between 200 and 1000`: for messages.
    pub fn describe(self) -> String {
        match self {
            RangeSpec::Exactly(v) => format!("{v}"),
            RangeSpec::Range {
                min: Some(a),
                max: Some(b),
            } => format!("between {a} and {b}"),
            RangeSpec::Range { min: Some(a), .. } => format!("at least {a}"),
            RangeSpec::Range { max: Some(b), .. } => format!("at most {b}"),
            RangeSpec::Range { .. } => "any value".to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionSpec {
    pub key: String,
    pub text: String,
    /// The right answer (compared case-insensitively, trimmed).
    pub answer: Option<String>,
    /// Or a regular expression the answer must match.
    pub matches: Option<String>,
}

/// Whether a request's traceparent is sampled, unsampled, or absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceparentSpec {
    Sampled,
    Unsampled,
    None,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectTrace {
    #[default]
    Present,
    Absent,
}

/// `count: 3` or `count: { min: 1, max: 2 }`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(untagged)]
pub enum CountSpec {
    Exactly(usize),
    Range {
        min: Option<usize>,
        max: Option<usize>,
    },
}

impl CountSpec {
    pub fn bounds(self) -> (usize, usize) {
        match self {
            CountSpec::Exactly(n) => (n, n),
            CountSpec::Range { min, max } => (min.unwrap_or(0), max.unwrap_or(usize::MAX)),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "default_method")]
    pub method: String,
    /// Path and query on the gateway, e.g. `/orders?delay=1500`.
    pub path: String,
    /// A JSON body (written as YAML).
    pub body: Option<serde_json::Value>,
    /// The status the gateway should answer.
    pub status: Option<u16>,
    #[serde(default = "one")]
    pub repeat: usize,
    /// Extra request headers (e.g. `baggage`).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Default: sampled, or none in sampling lessons.
    pub traceparent: Option<TraceparentSpec>,
    #[serde(default)]
    pub expect_trace: ExpectTrace,
    /// Send the `repeat` requests at this rate (a load phase) instead of
    /// one after the other.
    pub rps: Option<f64>,
    /// Sampling lessons: how many of this phase's requests must be traced.
    pub kept: Option<KeptSpec>,
}

/// What a load phase must keep: a share of its requests, or about a number
/// of traces per second of the phase (the adaptive sampler's target).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeptSpec {
    /// Share of the phase's requests traced, 0.0 to 1.0 (a binomial band).
    pub share: Option<f64>,
    /// Traces per second, over the phase's measured duration ...
    pub per_second: Option<f64>,
    /// ... within this factor either way (default 2).
    pub factor: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceSpec {
    /// Services that must have spans in the trace.
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub spans: Vec<SpanSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanSpec {
    pub service: String,
    pub name: String,
    pub kind: Option<KindSpec>,
    /// The span has no parent within the trace.
    #[serde(default)]
    pub root: bool,
    pub parent: Option<SpanRef>,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    #[serde(default)]
    pub events: Vec<EventSpec>,
    pub status: Option<StatusSpec>,
    pub min_duration_ms: Option<u64>,
    /// The span starts at least this long after its parent starts: time
    /// spent before it (e.g. waiting for a pooled connection).
    pub starts_after_parent_ms: Option<u64>,
    /// Checked only when present (e.g. `SELECT users` happens on a cache miss).
    #[serde(default)]
    pub optional: bool,
    /// Which piece of the instrumentation this span proves, and the lesson
    /// that taught it: printed with its findings (the capstone names each
    /// missing piece this way).
    pub piece: Option<String>,
    /// Attributes of the span's resource (the process: `service.name`,
    /// `deployment.environment.name`), checked like `attributes`.
    #[serde(default)]
    pub resource: Vec<AttributeSpec>,
    /// How many spans with this service and name (and kind) the trace holds.
    pub count: Option<CountSpec>,
    /// The span ends before the first span like each of these starts (a
    /// step's span must not stay open over the steps after it).
    #[serde(default)]
    pub ends_before: Vec<SpanRef>,
    /// Checked only in the traces of requests answered with one of these
    /// statuses, and required there unless `optional: true`.
    #[serde(default)]
    pub for_status: Vec<u16>,
    /// Checked only in the traces of requests whose method and path contain
    /// this (`fail=order-service`), with `for_status` if both are given.
    pub for_request: Option<String>,
    /// No attribute of the span, nor of its events, holds a value like this.
    pub no_value: Option<NoValueSpec>,
}

/// Values that must not be on a span, whatever their key: a whole struct
/// written with `Debug` (what `#[instrument]` does with every argument),
/// an e-mail address.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoValueSpec {
    /// A regular expression no value (as text) may match.
    pub matches: String,
    /// What such a value is, in the finding's words ("a whole struct
    /// written with Debug"); default: "a value matching <pattern>".
    pub says: Option<String>,
    /// Keys allowed to hold such a value (recorded there on purpose).
    #[serde(default)]
    pub except: Vec<String>,
}

/// Points at another expected span: service + name (+ kind).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanRef {
    pub service: String,
    pub name: String,
    pub kind: Option<KindSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSpec {
    pub key: String,
    /// `string`, `int64`, `bool` or `float64`, as Jaeger shows them.
    #[serde(rename = "type")]
    pub value_type: Option<TypeSpec>,
    /// If given, the value must be equal.
    pub value: Option<serde_json::Value>,
    /// The attribute must NOT be there (e.g. the e-mail once it is hashed).
    #[serde(default)]
    pub absent: bool,
    /// A regular expression the value (as text) must match.
    pub matches: Option<String>,
    /// The value equals this field of the request's JSON answer (`order_id`,
    /// or a path such as `order.id`).
    pub equals_response: Option<String>,
    /// The value comes from the request's baggage (a `BAGGAGE_SPAN_KEYS`
    /// entry): missing here while another span of the trace has it means
    /// the baggage was lost on the way (`baggage-lost`), not that the copy
    /// is missing.
    #[serde(default)]
    pub from_baggage: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    pub name: String,
    #[serde(default)]
    pub attributes: Vec<AttributeSpec>,
    /// The span must NOT have this event (an `exception` on a 4xx).
    #[serde(default)]
    pub absent: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingSpec {
    /// Expected share of requests that are traced, 0.0 to 1.0.
    pub ratio: f64,
    /// Allowed absolute difference of the observed share.
    pub tolerance: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KindSpec {
    #[serde(alias = "SERVER")]
    Server,
    #[serde(alias = "CLIENT")]
    Client,
    #[serde(alias = "INTERNAL")]
    Internal,
    #[serde(alias = "PRODUCER")]
    Producer,
    #[serde(alias = "CONSUMER")]
    Consumer,
}

impl From<KindSpec> for SpanKind {
    fn from(kind: KindSpec) -> Self {
        match kind {
            KindSpec::Server => SpanKind::Server,
            KindSpec::Client => SpanKind::Client,
            KindSpec::Internal => SpanKind::Internal,
            KindSpec::Producer => SpanKind::Producer,
            KindSpec::Consumer => SpanKind::Consumer,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub enum TypeSpec {
    #[serde(rename = "string")]
    String,
    #[serde(rename = "int64", alias = "int")]
    Int64,
    #[serde(rename = "bool")]
    Bool,
    #[serde(rename = "float64", alias = "float")]
    Float64,
}

impl TypeSpec {
    /// Jaeger's name of the type, as [`crate::model::Value::type_name`].
    pub fn name(self) -> &'static str {
        match self {
            TypeSpec::String => "string",
            TypeSpec::Int64 => "int64",
            TypeSpec::Bool => "bool",
            TypeSpec::Float64 => "float64",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusSpec {
    #[serde(alias = "UNSET")]
    Unset,
    #[serde(alias = "OK")]
    Ok,
    #[serde(alias = "ERROR")]
    Error,
}

impl From<StatusSpec> for Status {
    fn from(status: StatusSpec) -> Self {
        match status {
            StatusSpec::Unset => Status::Unset,
            StatusSpec::Ok => Status::Ok,
            StatusSpec::Error => Status::Error,
        }
    }
}

fn default_method() -> String {
    "GET".to_string()
}

fn one() -> usize {
    1
}

impl Spec {
    /// Parses a check file; errors name the file and the problem.
    pub fn parse(text: &str) -> Result<Spec, String> {
        let spec: Spec = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        if spec.requests.is_empty() && spec.unit_tests.is_none() && spec.queries.is_none() {
            return Err(
                "`requests` is empty: a check needs at least one request (or `unit_tests`, \
                 or `queries`)"
                    .into(),
            );
        }
        for mutant in spec.unit_tests.iter().flat_map(|u| &u.mutants) {
            if mutant.find.is_empty() || mutant.find == mutant.replace {
                return Err(format!(
                    "mutant {}: `find` must be non-empty and differ from `replace`",
                    mutant.name
                ));
            }
        }
        for request in &spec.requests {
            if request.rps.is_some_and(|r| !(r > 0.0 && r <= 1000.0)) {
                return Err(format!("{}: rps must be within 0..=1000", request.path));
            }
            if let Some(kept) = &request.kept {
                kept.validate()
                    .map_err(|e| format!("{}: kept: {e}", request.path))?;
            }
        }
        for pattern in spec
            .trace
            .spans
            .iter()
            .flat_map(|s| s.attributes.iter().chain(&s.resource))
            .filter_map(|a| a.matches.as_deref())
            .chain(spec.questions.iter().filter_map(|q| q.matches.as_deref()))
            .chain(
                spec.trace
                    .spans
                    .iter()
                    .filter_map(|s| s.no_value.as_ref().map(|n| n.matches.as_str())),
            )
        {
            regex::Regex::new(pattern)
                .map_err(|e| format!("`matches: {pattern}` is not a regular expression: {e}"))?;
        }
        for question in &spec.questions {
            if question.answer.is_none() && question.matches.is_none() {
                return Err(format!(
                    "question {} has neither `answer` nor `matches`",
                    question.key
                ));
            }
        }
        for expect in spec.collector.iter().flat_map(|c| &c.expect) {
            if (expect.policy.is_some() || expect.no_policy.is_some()) && expect.processor.is_none()
            {
                return Err("collector: a `policy` needs its `processor` (tail_sampling)".into());
            }
            if expect.action.is_some() && expect.processor.is_none() {
                return Err("collector: an `action` needs its `processor` (attributes)".into());
            }
            if expect.processor.is_none() && expect.before.is_none() && expect.first.is_none() {
                return Err(
                    "collector: an expectation needs `processor`, `before` or `first`".into(),
                );
            }
        }
        if let Some(sampling) = &spec.sampling {
            if !(0.0..=1.0).contains(&sampling.ratio) {
                return Err(format!(
                    "sampling.ratio {} is not within 0..=1",
                    sampling.ratio
                ));
            }
        }
        Ok(spec)
    }

    pub fn load(path: &Path) -> anyhow::Result<Spec> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        Spec::parse(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid check file: {e}", path.display()))
    }

    /// True for sampling lessons: no `traceparent`, ids from the responses.
    pub fn reads_ids_from_responses(&self) -> bool {
        self.sampling.is_some() || self.requests.iter().any(|r| r.kept.is_some())
    }

    /// The check needs the services running (it sends requests).
    pub fn exercise_pending(&self) -> bool {
        self.exercise == Some(ExerciseSpec::Pending)
    }

    /// Every service the trace must contain: listed ones plus those of
    /// required spans.
    pub fn required_services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = self.trace.services.iter().map(String::as_str).collect();
        for span in self.trace.spans.iter().filter(|s| s.required_everywhere()) {
            if !services.contains(&span.service.as_str()) {
                services.push(&span.service);
            }
        }
        services
    }
}

impl KeptSpec {
    fn validate(&self) -> Result<(), String> {
        match (self.share, self.per_second) {
            (Some(share), None) if (0.0..=1.0).contains(&share) => {}
            (Some(share), None) => return Err(format!("share {share} is not within 0..=1")),
            (None, Some(rate)) if rate > 0.0 && rate.is_finite() => {}
            (None, Some(rate)) => return Err(format!("per_second {rate} is not positive")),
            _ => return Err("give exactly one of `share` and `per_second`".into()),
        }
        match self.factor {
            Some(f) if !(f > 1.0 && f.is_finite()) => {
                Err(format!("factor {f} must be greater than 1"))
            }
            Some(_) if self.per_second.is_none() => Err("`factor` goes with `per_second`".into()),
            _ => Ok(()),
        }
    }
}

impl SpanSpec {
    /// `order-service POST /orders (server)`: how findings name a span.
    pub fn label(&self) -> String {
        label(&self.service, &self.name, self.kind)
    }

    /// Required in every request's trace: not optional, and not only in
    /// some requests' traces (`for_status`; see `relations::required_in`).
    pub fn required_everywhere(&self) -> bool {
        !self.optional && self.for_status.is_empty() && self.for_request.is_none()
    }
}

impl SpanRef {
    pub fn label(&self) -> String {
        label(&self.service, &self.name, self.kind)
    }
}

fn label(service: &str, name: &str, kind: Option<KindSpec>) -> String {
    match kind {
        Some(kind) => format!("{service} {name} ({})", SpanKind::from(kind).as_str()),
        None => format!("{service} {name}"),
    }
}
