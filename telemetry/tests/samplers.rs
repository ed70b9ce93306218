//! Tests of the sampler module on its own: no services, no exporter. Each test
//! calls `should_sample` the way the SDK does when a span starts.
//!
//! Everything here is deterministic: random trace ids come from a seeded
//! generator, the rate limiter reads a clock the test moves by hand, and the
//! hot-reload tests wait for a condition with a deadline instead of sleeping a
//! fixed time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use telemetry::sampler::ratelimit::{Clock, RateLimitSampler};
use telemetry::sampler::rules::{ratio_keeps, Rules, RulesSampler, Sample};
use telemetry::sampler::{from_values, resolve_rules_path, SAMPLER_NAMES};
use tempfile::TempPath;

// ---------------------------------------------------------------- helpers --

/// `n` trace ids that look random but are the same on every run.
fn trace_ids(n: usize) -> Vec<TraceId> {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    (0..n)
        .map(|_| TraceId::from(rng.random::<u128>()))
        .collect()
}

/// The server span of a request with no `traceparent`: a root decision.
fn root(
    sampler: &dyn ShouldSample,
    trace_id: TraceId,
    method: &str,
    route: &str,
) -> SamplingResult {
    let attributes = [
        KeyValue::new("http.request.method", method.to_string()),
        KeyValue::new("http.route", route.to_string()),
    ];
    let name = format!("{method} {route}");
    let no_parent = Context::new();
    sampler.should_sample(
        Some(&no_parent),
        trace_id,
        &name,
        &SpanKind::Server,
        &attributes,
        &[],
    )
}

/// The same span, but continuing a trace that arrived with this decision.
fn child_of_remote(sampler: &dyn ShouldSample, sampled: bool, route: &str) -> SamplingDecision {
    let trace_id = TraceId::from(42u128);
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let parent = SpanContext::new(trace_id, SpanId::from(7u64), flags, true, TraceState::NONE);
    let cx = Context::new().with_remote_span_context(parent);
    let attributes = [KeyValue::new("http.route", route.to_string())];
    let name = format!("GET {route}");
    sampler
        .should_sample(
            Some(&cx),
            trace_id,
            &name,
            &SpanKind::Server,
            &attributes,
            &[],
        )
        .decision
}

fn kept(result: &SamplingResult) -> bool {
    result.decision == SamplingDecision::RecordAndSample
}

fn attribute(result: &SamplingResult, key: &str) -> Option<Value> {
    let found = result.attributes.iter().find(|kv| kv.key.as_str() == key);
    found.map(|kv| kv.value.clone())
}

fn error_of(name: &str, arg: Option<&str>) -> String {
    match from_values(Some(name), arg) {
        Ok(sampler) => panic!("{name} with {arg:?} should be rejected, got {sampler:?}"),
        Err(error) => error.to_string(),
    }
}

/// A rules file in the temp directory, deleted when it drops.
struct TempRules(TempPath);

impl TempRules {
    fn new(test: &str, yaml: &str) -> Self {
        let file = tempfile::Builder::new()
            .prefix(&format!("sampling-{test}-"))
            .suffix(".yaml")
            .tempfile()
            .expect("create the temp rules file");
        // The open handle is not needed: each write opens the file by its path.
        let rules = TempRules(file.into_temp_path());
        rules.write(yaml);
        rules
    }

    fn write(&self, yaml: &str) {
        std::fs::write(&self.0, yaml).expect("write the temp rules file");
    }
}

/// Polls `condition` until it holds; fails the test after a few seconds.
fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ------------------------------------------------------ standard samplers --

#[test]
fn every_standard_name_parses() {
    for name in SAMPLER_NAMES
        .iter()
        .filter(|n| !matches!(**n, "rules" | "ratelimit" | "adaptive"))
    {
        let arg = name.ends_with("traceidratio").then_some("0.5");
        assert!(from_values(Some(name), arg).is_ok(), "{name} should parse");
    }
    assert!(
        from_values(None, None).is_ok(),
        "unset means parentbased_always_on"
    );
    assert!(from_values(Some("adaptive"), Some("10")).is_ok());
    let error = from_values(Some("adaptive"), None).unwrap_err().to_string();
    assert!(error.contains("OTEL_TRACES_SAMPLER_ARG"), "{error}");
    assert!(
        from_values(Some(" AlwaysOn "), None).is_err(),
        "no such sampler"
    );
    assert!(
        from_values(Some(" Always_On "), None).is_ok(),
        "case and spaces are forgiven"
    );
}

#[test]
fn standard_samplers_decide_as_their_names_say() {
    let id = trace_ids(1)[0];
    let on = from_values(Some("always_on"), None).unwrap();
    let off = from_values(Some("always_off"), None).unwrap();
    let default = from_values(None, Some("")).unwrap();
    assert!(kept(&root(on.as_ref(), id, "GET", "/orders/{id}")));
    assert!(!kept(&root(off.as_ref(), id, "GET", "/orders/{id}")));
    assert!(kept(&root(default.as_ref(), id, "GET", "/orders/{id}")));
    let parent_off = from_values(Some("parentbased_always_off"), None).unwrap();
    assert_eq!(
        child_of_remote(parent_off.as_ref(), true, "/x"),
        SamplingDecision::RecordAndSample
    );
}

#[test]
fn an_unknown_name_is_an_error_that_lists_the_valid_ones() {
    let message = error_of("probabilistic", None);
    assert!(
        message.contains("OTEL_TRACES_SAMPLER=\"probabilistic\""),
        "{message}"
    );
    assert!(
        message.contains("parentbased_traceidratio, rules, ratelimit"),
        "{message}"
    );
}

#[test]
fn a_bad_ratio_is_an_error_that_names_the_variable() {
    for bad in ["abc", "1.5", "-0.1", "NaN", "inf", "50%"] {
        for name in ["traceidratio", "parentbased_traceidratio"] {
            let message = error_of(name, Some(bad));
            assert!(
                message.contains(&format!("OTEL_TRACES_SAMPLER_ARG=\"{bad}\"")),
                "{message}"
            );
            assert!(message.contains(name), "{message}");
        }
    }
}

#[test]
fn a_missing_ratio_means_one() {
    let sampler = from_values(Some("traceidratio"), None).unwrap();
    assert!(trace_ids(100)
        .into_iter()
        .all(|id| kept(&root(sampler.as_ref(), id, "GET", "/"))));
}

#[test]
fn a_ratio_keeps_about_that_fraction_of_traces() {
    let (p, n) = (0.25, 4000);
    let sampler = from_values(Some("traceidratio"), Some("0.25")).unwrap();
    let ids = trace_ids(n);
    let count = ids
        .iter()
        .filter(|id| kept(&root(sampler.as_ref(), **id, "GET", "/")))
        .count();
    let fraction = count as f64 / n as f64;
    // The number kept is Binomial(n, p) if trace ids are random, so the
    // fraction has standard deviation sigma = sqrt(p(1-p)/n) (here 0.0068).
    // A fair sampler lands outside 5 sigma about once in 1.7 million runs,
    // and the seed is fixed anyway, so a failure means a biased sampler.
    let sigma = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (fraction - p).abs() <= 5.0 * sigma,
        "kept {fraction}, expected {p} ± 5 × {sigma}"
    );
}

#[test]
fn ratio_keeps_decides_exactly_like_the_sdk() {
    for ratio in [0.0, 0.001, 0.25, 0.5, 0.999, 1.0] {
        let sdk = Sampler::TraceIdRatioBased(ratio);
        for id in trace_ids(2000) {
            let theirs = kept(&root(&sdk, id, "GET", "/"));
            assert_eq!(ratio_keeps(ratio, id), theirs, "ratio {ratio}, trace {id}");
        }
    }
}

// ----------------------------------------------------------------- rules --

const RULES: &str = r#"
default: always_off
rules:
  - name: health
    match:
      span_name: { regex: "^GET /health" }
    sample: always_off
  - name: create-order
    match:
      http.request.method: { equals: "POST" }
      http.route: { equals: "/orders" }
    sample: always_on
  - name: any-post
    match:
      http.request.method: { equals: "POST" }
    sample: 0.0
  - name: lookups
    match:
      http.route: { regex: "^/orders/" }
    sample: 1.0
"#;

fn rules_sampler(file: &TempRules) -> Box<dyn ShouldSample> {
    let path = file.0.to_str().expect("temp path is UTF-8");
    from_values(Some("rules"), Some(path)).expect("valid rules")
}

#[test]
fn the_first_matching_rule_wins_and_says_so() {
    let file = TempRules::new("first-match", RULES);
    let sampler = rules_sampler(&file);
    let id = trace_ids(1)[0];
    // `POST /orders` matches create-order and any-post: the first one decides.
    let order = root(sampler.as_ref(), id, "POST", "/orders");
    assert!(kept(&order));
    assert_eq!(
        attribute(&order, "sampling.rule"),
        Some("create-order".into())
    );
    assert_eq!(
        attribute(&order, "sampling.ratio"),
        None,
        "always_on has no ratio"
    );
    // Other POSTs reach any-post: equals on the method alone, ratio 0.
    assert!(!kept(&root(sampler.as_ref(), id, "POST", "/users")));
    // A regex on an attribute; a ratio rule also reports its ratio.
    let lookup = root(sampler.as_ref(), id, "GET", "/orders/{id}");
    assert_eq!(attribute(&lookup, "sampling.rule"), Some("lookups".into()));
    assert_eq!(attribute(&lookup, "sampling.ratio"), Some(1.0.into()));
    // A regex on the span name; always_off drops and adds nothing.
    let health = root(sampler.as_ref(), id, "GET", "/health");
    assert!(!kept(&health) && health.attributes.is_empty());
    // Nothing matches: the default (always_off here) decides.
    assert!(!kept(&root(sampler.as_ref(), id, "GET", "/inventory")));
}

#[test]
fn the_default_is_named_default() {
    let file = TempRules::new("default", "default: 1.0\n");
    let sampler = rules_sampler(&file);
    let result = root(sampler.as_ref(), trace_ids(1)[0], "GET", "/anything");
    assert_eq!(attribute(&result, "sampling.rule"), Some("default".into()));
    assert_eq!(attribute(&result, "sampling.ratio"), Some(1.0.into()));
}

#[test]
fn a_parent_decision_beats_every_rule() {
    let file = TempRules::new("parent", RULES);
    let sampler = rules_sampler(&file);
    // The rules drop /health and keep /orders/{id}; a parent's decision wins.
    let followed = child_of_remote(sampler.as_ref(), true, "/health");
    assert_eq!(followed, SamplingDecision::RecordAndSample);
    let dropped = child_of_remote(sampler.as_ref(), false, "/orders/{id}");
    assert_eq!(dropped, SamplingDecision::Drop);
}

#[test]
fn the_parent_trace_state_is_passed_on() {
    let file = TempRules::new("trace-state", "default: always_on\n");
    let sampler = RulesSampler::watch(&file.0, Duration::from_secs(60)).unwrap();
    let state: TraceState = "vendor=value".parse().unwrap();
    let parent = SpanContext::new(
        TraceId::from(1u128),
        SpanId::from(1u64),
        TraceFlags::SAMPLED,
        true,
        state.clone(),
    );
    let cx = Context::new().with_remote_span_context(parent);
    let result = sampler.should_sample(
        Some(&cx),
        TraceId::from(1u128),
        "GET /",
        &SpanKind::Server,
        &[],
        &[],
    );
    assert_eq!(result.trace_state, state);
}

#[test]
fn invalid_rules_are_rejected_with_the_line() {
    let cases = [
        ("default: 1.5", "`1.5`, expected always_on, always_off or a ratio between 0 and 1"),
        ("default: sometimes", "\"sometimes\", expected always_on"),
        ("default: 1\nrules:\n  - name: a\n    sample: 1\n    smaple: 0", "unknown field `smaple`"),
        ("default: 1\nrules:\n  - name: a\n    match:\n      span_name: { regex: \"(\" }\n    sample: 1", "invalid regex"),
        ("default: 1\nrules:\n  - name: a\n    match:\n      span_name: { equals: a, regex: b }\n    sample: 1", "exactly one"),
        ("default: 1\nrules:\n  - name: a\n    match:\n      span_name: \"GET /\"\n    sample: 1", "equals:"),
    ];
    for (yaml, expected) in cases {
        let error = Rules::parse(yaml).expect_err(yaml);
        assert!(
            error.contains(expected) && error.contains("line"),
            "{yaml:?} gave {error}"
        );
    }
    let error = Rules::parse("rules: []").expect_err("no default");
    assert!(error.contains("missing field `default`"), "{error}");
    let file = TempRules::new("invalid", "default: 7\n");
    let message = error_of("rules", file.0.to_str());
    assert!(
        message.contains("is not valid") && message.contains("line 1"),
        "{message}"
    );
}

#[test]
fn a_missing_rules_file_is_an_error_that_names_it() {
    let message = error_of("rules", Some("config/no-such-file.yaml"));
    assert!(
        message.contains("config/no-such-file.yaml") && message.contains("OTEL_TRACES_SAMPLER_ARG"),
        "{message}"
    );
}

#[test]
fn the_committed_rules_file_does_what_its_comments_say() {
    // Tests run in the crate's folder: found from the repository root.
    let path = resolve_rules_path("config/sampling.yaml").expect("config/sampling.yaml");
    let sampler = from_values(Some("rules"), path.to_str()).unwrap();
    let id = trace_ids(1)[0];
    assert!(!kept(&root(sampler.as_ref(), id, "GET", "/health")));
    let order = root(sampler.as_ref(), id, "POST", "/orders");
    assert_eq!(
        attribute(&order, "sampling.rule"),
        Some("create-order".into())
    );
    let rules = Rules::load(&path).unwrap();
    let lookup = [
        KeyValue::new("http.request.method", "GET"),
        KeyValue::new("http.route", "/orders/{id}"),
    ];
    assert_eq!(
        rules.decide("GET /orders/{id}", &lookup),
        ("order-lookups", Sample::Ratio(0.5))
    );
    assert_eq!(
        rules.decide("GET /users/{id}", &[]),
        ("default", Sample::Ratio(1.0))
    );
}

// ------------------------------------------------------------- hot reload --

// Each rewrite below changes the file's length as well as its content: the
// watcher compares modification time and length, and two writes within the
// same clock tick of the file system can share a modification time.
const KEEP_LOOKUPS: &str =
    "default: always_off\nrules:\n  - name: lookups\n    sample: always_on\n";
const DROP_LOOKUPS: &str =
    "default: always_off\nrules:\n  - name: lookups-off\n    sample: always_off\n";

fn lookup_kept(sampler: &RulesSampler) -> bool {
    kept(&root(sampler, trace_ids(1)[0], "GET", "/orders/{id}"))
}

#[test]
fn an_edited_rules_file_takes_effect_without_a_restart() {
    let file = TempRules::new("reload", KEEP_LOOKUPS);
    let sampler = RulesSampler::watch(&file.0, Duration::from_millis(20)).unwrap();
    assert!(lookup_kept(&sampler));
    file.write(DROP_LOOKUPS);
    wait_until("the new rules drop lookups", || !lookup_kept(&sampler));
    assert_eq!(sampler.status().last_error, None);
}

#[test]
fn an_invalid_edit_keeps_the_previous_rules() {
    let file = TempRules::new("invalid-reload", KEEP_LOOKUPS);
    let sampler = RulesSampler::watch(&file.0, Duration::from_millis(20)).unwrap();
    file.write("default: always_off\nrules:\n  - name: broken\n    sample: maybe\n");
    let last_error = || sampler.status().last_error.unwrap_or_default();
    wait_until("the edit is rejected", || last_error().contains("maybe"));
    assert!(last_error().contains("line 4"), "{}", last_error());
    assert!(lookup_kept(&sampler), "the previous rules still decide");
}

// -------------------------------------------------------------- ratelimit --

/// A clock that only moves when the test says so.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

fn count_kept(sampler: &dyn ShouldSample, attempts: usize) -> usize {
    let ids = trace_ids(attempts);
    ids.into_iter()
        .filter(|id| kept(&root(sampler, *id, "GET", "/")))
        .count()
}

#[test]
fn ratelimit_keeps_a_burst_then_the_rate() {
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let limiter = RateLimitSampler::with_clock(5.0, clock.clone()).unwrap();
    let sampler = Sampler::parent_based(limiter);
    assert_eq!(
        count_kept(&sampler, 100),
        5,
        "a full bucket holds one second's worth"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        count_kept(&sampler, 100),
        5,
        "one second refills five tokens"
    );
    clock.advance(Duration::from_millis(200));
    let result = root(&sampler, TraceId::from(9u128), "GET", "/");
    assert!(kept(&result), "200 ms at 5/s is one token");
    assert_eq!(attribute(&result, "sampling.rate"), Some(5.0.into()));
}

#[test]
fn ratelimit_follows_parents_without_spending_tokens() {
    let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
    let sampler = Sampler::parent_based(RateLimitSampler::with_clock(1.0, clock).unwrap());
    for _ in 0..10 {
        assert_eq!(
            child_of_remote(&sampler, true, "/"),
            SamplingDecision::RecordAndSample
        );
        assert_eq!(
            child_of_remote(&sampler, false, "/"),
            SamplingDecision::Drop
        );
    }
    assert_eq!(count_kept(&sampler, 10), 1, "the one token is still there");
}

#[test]
fn ratelimit_never_exceeds_its_budget_across_threads() {
    // Real clock, four threads racing for tokens. Whatever the timing, the
    // bucket can pay out at most its burst plus the refill of the time spent.
    let (rate, threads, attempts_each) = (50.0, 4, 20_000);
    let start = Instant::now();
    let sampler: Arc<dyn ShouldSample> =
        Arc::from(from_values(Some("ratelimit"), Some("50")).unwrap());
    let kept_total = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (sampler, kept_total) = (sampler.clone(), kept_total.clone());
            std::thread::spawn(move || {
                let kept_here = count_kept(sampler.as_ref(), attempts_each);
                kept_total.fetch_add(kept_here, Ordering::Relaxed);
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    // Measured after the threads stopped, so this bound is generous, never tight.
    let budget = rate + rate * start.elapsed().as_secs_f64();
    let kept_total = kept_total.load(Ordering::Relaxed) as f64;
    assert!(kept_total <= budget, "kept {kept_total}, budget {budget}");
    assert!(kept_total >= rate, "the first burst is always kept");
}

#[test]
fn ratelimit_needs_a_positive_rate() {
    let message = error_of("ratelimit", None);
    assert!(message.contains("OTEL_TRACES_SAMPLER_ARG"), "{message}");
    for bad in ["abc", "0", "-1", "inf", "NaN"] {
        let message = error_of("ratelimit", Some(bad));
        assert!(
            message.contains("OTEL_TRACES_SAMPLER_ARG") && message.contains(bad),
            "{message}"
        );
    }
}
