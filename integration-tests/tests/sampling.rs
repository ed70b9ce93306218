//! Head sampling against the real services: a trace is whole or absent.
//!
//! Each test starts the four services with a chosen sampler on the gateway
//! (`StackOptions::gateway_sampler`, built by the same
//! `telemetry::sampler::from_values` the binaries use); the other three
//! follow their parent (`parentbased_always_on`), as they do in the stack.
//!
//! How "no spans" is checked without waiting an arbitrary time: every span
//! of a request has ended before the gateway's answer leaves it (each
//! service ends its spans before it answers its caller, and the test
//! exporters receive a span the moment it ends). So right after a response,
//! the spans of that request, if any, are all in the exporters, and
//! [`TestStack::span_counts`] taken before and after a sampled-out request
//! must be equal, in every service.
//!
//! Requests go in without a `traceparent` (a fresh root: the gateway decides)
//! unless a test is about a remote parent. Orders the tests only read are
//! created at order-service directly, so that they spend none of the
//! gateway's sampling decisions.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures::StreamExt;
use integration_tests::{
    ServiceName, StackOptions, TestStack, TraceView, GATEWAY, INVENTORY, ORDER, USER,
};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry::Value;
use opentelemetry_sdk::trace::ShouldSample;
use serde_json::json;
use telemetry::sampler::ratelimit::RATE_ATTRIBUTE;
use telemetry::sampler::rules::{ratio_keeps, RATIO_ATTRIBUTE, RULE_ATTRIBUTE};
use telemetry::sampler::{from_values, DEFAULT_POLL_INTERVAL};
use tempfile::TempDir;

/// How long a kept trace may take to show up in the exporters.
const WAIT: Duration = Duration::from_secs(10);
/// How long a rules file edit may take to apply. The watcher loads a change
/// on its second poll after the write (two polls: the file must have stopped
/// changing), so about `2 * DEFAULT_POLL_INTERVAL` = 1 s; 5 s is generous.
const RELOAD_DEADLINE: Duration = Duration::from_secs(5);
/// Services a `POST /orders` crosses.
const ALL_FOUR: [ServiceName; 4] = [GATEWAY, INVENTORY, ORDER, USER];
/// Services a `GET /orders/{id}` crosses.
const LOOKUP: [ServiceName; 2] = [GATEWAY, ORDER];

// --------------------------------------------------------------- helpers --

/// A sampler exactly as `OTEL_TRACES_SAMPLER` / `_ARG` would build it.
fn sampler(name: &str, arg: Option<&str>) -> Box<dyn ShouldSample> {
    from_values(Some(name), arg).unwrap_or_else(|e| panic!("sampler {name} {arg:?}: {e}"))
}

async fn stack_with_gateway_sampler(gateway_sampler: Box<dyn ShouldSample>) -> TestStack {
    TestStack::start_with(StackOptions {
        gateway_sampler,
        ..StackOptions::default()
    })
    .await
}

/// What the gateway told us about one request.
#[derive(Debug)]
struct Answer {
    status: u16,
    trace_id: TraceId,
    /// The sampled flag of the `traceresponse` header: was the trace kept?
    sampled: bool,
}

/// A `traceparent` from a made-up caller, with its trace and span ids
/// (random, and never the all-zero ids that mean "invalid").
fn remote_parent(sampled: bool) -> (String, TraceId, SpanId) {
    let trace_id = TraceId::from(rand::random::<u128>() | 1);
    let span_id = SpanId::from(rand::random::<u64>() | 1);
    let flags = if sampled { "01" } else { "00" };
    (
        format!("00-{trace_id}-{span_id}-{flags}"),
        trace_id,
        span_id,
    )
}

/// Sends a request to the gateway and checks what every answer must carry,
/// sampled or not: a 32-hex `trace_id` in the body and a `traceresponse`
/// header naming the same trace, with flags `01` (kept) or `00` (not).
async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("gateway answers");
    let status = response.status().as_u16();
    let traceresponse = response
        .headers()
        .get("traceresponse")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no traceresponse header (status {status})"));
    let body: serde_json::Value = response.json().await.expect("JSON body");
    let trace_id_text = body["trace_id"].as_str().unwrap_or_default();
    let is_hex = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    assert!(
        trace_id_text.len() == 32 && is_hex(trace_id_text),
        "trace_id must be 32 lowercase hex digits: {body}"
    );
    let trace_id = TraceId::from_hex(trace_id_text).expect("hex");
    assert_ne!(trace_id, TraceId::INVALID, "{body}");
    let parts: Vec<&str> = traceresponse.split('-').collect();
    assert!(
        matches!(parts[..], ["00", id, span, "00" | "01"] if id == trace_id_text && span.len() == 16),
        "traceresponse {traceresponse:?} must be 00-{trace_id_text}-<span id>-<00|01>"
    );
    Answer {
        status,
        trace_id,
        sampled: parts[3] == "01",
    }
}

fn post_order(stack: &TestStack) -> reqwest::RequestBuilder {
    let body = json!({"user_id": "1", "product": "Mouse", "quantity": 1});
    let url = format!("{}/orders", stack.url(GATEWAY));
    stack.client.post(url).json(&body)
}

fn get_order(stack: &TestStack, order_id: i64) -> reqwest::RequestBuilder {
    let url = format!("{}/orders/{order_id}", stack.url(GATEWAY));
    stack.client.get(url)
}

/// Creates an order at order-service directly (not through the gateway, so
/// no gateway sampling decision is spent on it). Returns its id and the
/// trace order-service started for it (kept: it is parentbased_always_on).
async fn order_for_lookups(stack: &TestStack) -> (i64, TraceId) {
    let body = json!({"user_id": "2", "product": "Keyboard", "quantity": 1});
    let url = format!("{}/orders", stack.url(ORDER));
    let response = stack.client.post(url).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 201);
    let body: serde_json::Value = response.json().await.unwrap();
    let trace_id = TraceId::from_hex(body["trace_id"].as_str().unwrap()).unwrap();
    // Wait for its root and for its event's CONSUMER span (they end last),
    // so that a count taken after this includes the whole setup trace.
    let deadline = Instant::now() + WAIT;
    while stack.trace(trace_id).find(ORDER, "POST /orders").is_empty()
        || stack
            .trace(trace_id)
            .find(USER, "process orders")
            .is_empty()
    {
        assert!(Instant::now() < deadline, "the setup order is not traced");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (body["order_id"].as_i64().unwrap(), trace_id)
}

/// A kept trace is whole: exactly one root (a fragment whose parent was
/// not recorded would be a second root), in the gateway, a SERVER span
/// named `root_name`, and spans from exactly `services`.
fn assert_whole(trace: &TraceView, root_name: &str, services: &[ServiceName]) {
    let roots = trace.roots();
    assert_eq!(roots.len(), 1, "one root expected:{}", trace.describe());
    let root = roots[0];
    assert_eq!(root.service, GATEWAY, "{}", trace.describe());
    assert_eq!(root.name(), root_name, "{}", trace.describe());
    assert_eq!(root.kind(), &SpanKind::Server);
    assert_eq!(trace.services(), services, "{}", trace.describe());
}

/// Spans per service, for comparing before/after a request.
type Counts = BTreeMap<ServiceName, usize>;

fn counts(stack: &TestStack) -> Counts {
    stack.span_counts().into_iter().collect()
}

/// `before` plus the spans of `traces`, per service: what the exporters
/// must hold if these traces are the only thing recorded since `before`.
fn plus(before: &Counts, traces: &[&TraceView]) -> Counts {
    let mut expected = before.clone();
    for span in traces.iter().flat_map(|t| &t.spans) {
        *expected.entry(span.service).or_default() += 1;
    }
    expected
}

/// The rules sampler's `sampling.rule` on the root: which rule kept it.
fn rule_of(trace: &TraceView) -> Option<String> {
    let root = trace.roots()[0];
    root.attr(RULE_ATTRIBUTE).map(|v| v.as_str().into_owned())
}

/// A sampling rules file in a temporary folder of its own. The folder goes
/// when the value drops, with the `.new` file a failed save leaves behind.
struct RulesFile {
    _dir: TempDir,
    path: PathBuf,
}

impl RulesFile {
    fn new(yaml: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("sampling-")
            .tempdir()
            .expect("create the rules folder");
        let path = dir.path().join("sampling.yaml");
        let file = RulesFile { _dir: dir, path };
        file.save(yaml);
        file
    }

    /// Saves the way editors do: write a new file, rename it over the old
    /// one (the case inotify-based watchers miss; ours polls).
    fn save(&self, yaml: &str) {
        let new = self.path.with_extension("yaml.new");
        std::fs::write(&new, yaml).expect("write the rules file");
        std::fs::rename(&new, &self.path).expect("replace the rules file");
    }

    fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }
}

/// One rule for `POST /orders`, everything else kept.
fn orders_rule(name: &str, sample: &str) -> String {
    format!(
        r#"
default: 1.0
rules:
  - name: {name}
    match:
      span_name: {{ equals: "POST /orders" }}
    sample: {sample}
"#
    )
}

/// Sends `POST /orders` every 100 ms until one comes back `sampled == want`;
/// panics after `RELOAD_DEADLINE`. Returns that answer and how many did not.
async fn order_until_sampled_is(stack: &TestStack, want: bool, what: &str) -> (Answer, usize) {
    let deadline = Instant::now() + RELOAD_DEADLINE;
    let mut misses = 0;
    loop {
        let answer = send(post_order(stack)).await;
        assert_eq!(answer.status, 201);
        if answer.sampled == want {
            return (answer, misses);
        }
        misses += 1;
        assert!(
            Instant::now() < deadline,
            "{what}: not applied after {RELOAD_DEADLINE:?} ({misses} requests)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ----------------------------------------------------------------- tests --

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampled_out_request_leaves_no_span_anywhere_and_a_sampled_in_one_a_whole_trace() {
    let stack = stack_with_gateway_sampler(sampler("parentbased_always_off", None)).await;
    let before = counts(&stack);

    // No parent: the gateway decides, and says no. The client still gets
    // its answer and a trace id (to quote in a bug report), flagged 00.
    let dropped = send(post_order(&stack)).await;
    assert_eq!(dropped.status, 201);
    assert!(!dropped.sampled, "parentbased_always_off keeps no root");
    assert_eq!(counts(&stack), before, "a sampled-out request left spans");

    // A sampled parent: followed, and the whole trace is recorded in all
    // four services, hanging under the caller's span.
    let (traceparent, trace_id, parent) = remote_parent(true);
    let kept = send(post_order(&stack).header("traceparent", traceparent)).await;
    assert_eq!(
        (kept.status, kept.trace_id, kept.sampled),
        (201, trace_id, true)
    );
    let trace = stack.wait_for_trace(&trace_id.to_string(), WAIT).await;
    assert_whole(&trace, "POST /orders", &ALL_FOUR);
    let root = trace.roots()[0];
    assert_eq!(root.parent_id(), parent);
    assert!(root.data.parent_span_is_remote);
    // And nothing else: not a late span of the dropped request either.
    assert_eq!(counts(&stack), plus(&before, &[&trace]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_off_at_the_gateway_drops_even_a_sampled_parent_with_no_fragment() {
    // Not parent-based: the gateway ignores the caller's "sampled", and the
    // services behind it, which follow the gateway, record nothing either.
    let stack = stack_with_gateway_sampler(sampler("always_off", None)).await;
    let before = counts(&stack);
    let own = send(post_order(&stack)).await;
    assert_eq!((own.status, own.sampled), (201, false));
    // The caller's trace is continued (same id) but not recorded.
    let (traceparent, trace_id, _) = remote_parent(true);
    let continued = send(post_order(&stack).header("traceparent", traceparent)).await;
    assert_eq!(
        (continued.status, continued.trace_id, continued.sampled),
        (201, trace_id, false)
    );
    assert_eq!(counts(&stack), before, "spans recorded under always_off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceidratio_keeps_a_quarter_of_the_traces_each_one_whole() {
    const RATIO: f64 = 0.25;
    const REQUESTS: usize = 400;
    const CONCURRENCY: usize = 16;
    // The ratio sampler keeps a trace when its id, read as a number, is
    // below RATIO of the range; trace ids are random, so each request is
    // kept independently with probability RATIO, and the number kept is
    // Binomial(REQUESTS, RATIO): mean 100, standard deviation
    // sqrt(n p (1 - p)) = 8.66 traces (a fraction sigma = sqrt(p(1-p)/n) =
    // 0.0217). Accepting mean +- 5 sigma, i.e. 57 to 143 kept, fails a
    // correct sampler with probability 7e-7 (exact binomial tails: 5e-8
    // below, 6.7e-7 above), once in more than a million runs; a sampler that
    // keeps everything (400) or nothing (0), or uses another ratio such as
    // 0.5 (200 +- 10), is far outside.
    const SIGMAS: f64 = 5.0;

    let ratio = RATIO.to_string();
    let stack = stack_with_gateway_sampler(sampler("traceidratio", Some(&ratio))).await;
    let (order_id, _) = order_for_lookups(&stack).await;
    let before = counts(&stack);

    let answers: Vec<Answer> = futures::stream::iter(0..REQUESTS)
        .map(|_| send(get_order(&stack, order_id)))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut kept_traces = Vec::new();
    for answer in &answers {
        assert_eq!(answer.status, 200, "{answer:?}");
        // The decision itself is deterministic: the SDK's algorithm on the
        // trace id (re-implemented by the rules sampler as `ratio_keeps`).
        assert_eq!(
            answer.sampled,
            ratio_keeps(RATIO, answer.trace_id),
            "decision for {}",
            answer.trace_id
        );
        if answer.sampled {
            let trace = stack
                .wait_for_trace(&answer.trace_id.to_string(), WAIT)
                .await;
            assert_whole(&trace, "GET /orders/{id}", &LOOKUP);
            assert_eq!(
                trace.one(ORDER, "GET /orders/{id}").kind(),
                &SpanKind::Server
            );
            kept_traces.push(trace);
        }
    }

    let kept = kept_traces.len();
    let n = REQUESTS as f64;
    let sigma = (RATIO * (1.0 - RATIO) / n).sqrt();
    let fraction = kept as f64 / n;
    assert!(
        (fraction - RATIO).abs() <= SIGMAS * sigma,
        "kept {kept} of {REQUESTS} ({fraction:.3}); expected {RATIO} +- {:.3}",
        SIGMAS * sigma
    );

    // One gateway root per kept trace and not one span more anywhere: the
    // exporters hold exactly the kept traces, so no dropped request left a
    // fragment (user- and inventory-service saw only the setup order).
    let views: Vec<&TraceView> = kept_traces.iter().collect();
    let after = counts(&stack);
    if after != plus(&before, &views) {
        let leaks: Vec<TraceView> = answers
            .iter()
            .filter(|a| !a.sampled)
            .map(|a| stack.trace(a.trace_id))
            .filter(|t| !t.spans.is_empty())
            .collect();
        let first = leaks.first().map(TraceView::describe).unwrap_or_default();
        panic!(
            "spans outside the kept traces: {after:?}; {} dropped traces have spans, \
             the first:{first}",
            leaks.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ratelimit_keeps_its_burst_then_its_rate() {
    /// Root traces per second, as in `OTEL_TRACES_SAMPLER_ARG=5`.
    const RATE: f64 = 5.0;
    /// The bucket holds one second's worth (`RateLimitSampler::new`).
    const BURST: f64 = RATE;
    /// Steady traffic well above the rate, for about three seconds.
    const SEND_RATE: f64 = 30.0;
    const REQUESTS: u32 = 90;
    const CONCURRENCY: usize = 16;

    let stack = stack_with_gateway_sampler(sampler("ratelimit", Some(&RATE.to_string()))).await;
    let (order_id, _) = order_for_lookups(&stack).await;
    let before = counts(&stack);

    // Request i is sent at start + i / SEND_RATE (at most CONCURRENCY in
    // flight). `elapsed` runs from before the first send to after the last
    // answer, so it contains every sampling decision.
    let period = Duration::from_secs_f64(1.0 / SEND_RATE);
    let start = tokio::time::Instant::now();
    let results: Vec<(Instant, Answer)> = futures::stream::iter(0..REQUESTS)
        .map(|i| {
            let request = get_order(&stack, order_id);
            async move {
                tokio::time::sleep_until(start + period * i).await;
                let sent = Instant::now();
                (sent, send(request).await)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = start.elapsed().as_secs_f64();

    let mut sent: Vec<Instant> = results.iter().map(|(at, _)| *at).collect();
    sent.sort();
    let longest_pause = sent
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();

    let mut kept_traces = Vec::new();
    for (_, answer) in &results {
        assert_eq!(answer.status, 200, "{answer:?}");
        if answer.sampled {
            let trace = stack
                .wait_for_trace(&answer.trace_id.to_string(), WAIT)
                .await;
            assert_whole(&trace, "GET /orders/{id}", &LOOKUP);
            let root = trace.roots()[0];
            assert_eq!(root.attr(RATE_ATTRIBUTE), Some(&Value::F64(RATE)));
            kept_traces.push(trace);
        }
    }
    let kept = kept_traces.len() as f64;

    // Upper bound: the bucket never holds more than BURST tokens (it starts
    // full and is capped), and gains RATE tokens per second; each kept
    // trace spends one. Over a window of `elapsed` seconds at most
    // BURST + RATE * elapsed traces can be kept. The window contains every
    // decision with time to spare, so no rounding slack is needed.
    let upper = BURST + RATE * elapsed;
    // Lower bound: after the first BURST requests empty the bucket, a
    // request arrives every 1/SEND_RATE s, so a token is spent as soon as it
    // is whole and the bucket never fills up again: no token is wasted
    // while the traffic lasts. Between the first and the last decision (a
    // window `d` a little shorter than `elapsed`) BURST + RATE * d tokens
    // arrive, and less than one is left over, so more than
    // BURST + RATE * d - 1 traces are kept. The first request's way in and
    // the last answer's way out take far less than BURST / RATE = 1 s, so
    // that is at least RATE * elapsed - 1.
    let lower = RATE * elapsed - 1.0;
    // That argument needs traffic that never pauses long enough to fill the
    // bucket (BURST / RATE = 1 s); say so if a stalled machine broke it.
    assert!(
        longest_pause.as_secs_f64() < BURST / RATE,
        "the test's traffic paused for {longest_pause:?}: the lower bound does not hold"
    );
    assert!(
        lower <= kept && kept <= upper,
        "kept {kept} traces in {elapsed:.2} s at {RATE}/s (burst {BURST}); \
         expected {lower:.1} to {upper:.1}"
    );

    let views: Vec<&TraceView> = kept_traces.iter().collect();
    assert_eq!(
        counts(&stack),
        plus(&before, &views),
        "spans outside the kept traces"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rules_file_edit_applies_without_a_restart_and_a_bad_edit_is_refused() {
    let file = RulesFile::new(&orders_rule("drop-new-orders", "always_off"));
    let stack = stack_with_gateway_sampler(sampler("rules", Some(file.arg()))).await;
    let before = counts(&stack);

    let dropped = send(post_order(&stack)).await;
    assert_eq!((dropped.status, dropped.sampled), (201, false));
    assert_eq!(counts(&stack), before, "a dropped order left spans");

    // Edit the file while the gateway runs: orders are now kept.
    file.save(&orders_rule("keep-new-orders", "always_on"));
    let (kept, _) = order_until_sampled_is(&stack, true, "the always_on edit").await;
    let trace = stack.wait_for_trace(&kept.trace_id.to_string(), WAIT).await;
    assert_whole(&trace, "POST /orders", &ALL_FOUR);
    assert_eq!(rule_of(&trace).as_deref(), Some("keep-new-orders"));
    // always_on has no ratio to show.
    assert_eq!(trace.roots()[0].attr(RATIO_ATTRIBUTE), None);
    // The orders sent before the edit applied left nothing behind.
    assert_eq!(counts(&stack), plus(&before, &[&trace]));

    // A broken edit (a regex that does not compile) is refused as a whole:
    // its first rule, which would drop orders, never applies. Keep ordering
    // for longer than the watcher needs to notice a change (two polls), plus
    // one poll to spare; every order stays kept by the previous rules.
    let broken = orders_rule("half-finished-edit", "always_off")
        + "  - name: broken\n    match:\n      span_name: { regex: \"(unclosed\" }\n    sample: always_on\n";
    file.save(&broken);
    let window = DEFAULT_POLL_INTERVAL * 3;
    let until = Instant::now() + window;
    let mut checked = 0;
    while Instant::now() < until {
        let answer = send(post_order(&stack)).await;
        assert!(answer.sampled, "the broken rules file was applied");
        let trace = stack
            .wait_for_trace(&answer.trace_id.to_string(), WAIT)
            .await;
        assert_eq!(rule_of(&trace).as_deref(), Some("keep-new-orders"));
        checked += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(checked > 0);

    // And the watcher is still alive after the bad edit: a good one applies.
    file.save(&orders_rule("drop-again", "always_off"));
    let (dropped, _) = order_until_sampled_is(&stack, false, "the fixed edit").await;
    assert!(stack.trace(dropped.trace_id).spans.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_parents_decision_overrides_the_gateways_rules() {
    let file = RulesFile::new(
        r#"
default: always_off
rules:
  - name: drop-new-orders
    match:
      span_name: { equals: "POST /orders" }
    sample: always_off
  - name: keep-lookups
    match:
      span_name: { equals: "GET /orders/{id}" }
    sample: always_on
"#,
    );
    let stack = stack_with_gateway_sampler(sampler("rules", Some(file.arg()))).await;
    let (order_id, _) = order_for_lookups(&stack).await;
    let before = counts(&stack);

    // Without a parent, the rules decide: orders dropped, lookups kept.
    let own_order = send(post_order(&stack)).await;
    assert_eq!((own_order.status, own_order.sampled), (201, false));
    let own_lookup = send(get_order(&stack, order_id)).await;
    assert_eq!((own_lookup.status, own_lookup.sampled), (200, true));
    let lookup_trace = stack
        .wait_for_trace(&own_lookup.trace_id.to_string(), WAIT)
        .await;
    assert_whole(&lookup_trace, "GET /orders/{id}", &LOOKUP);
    assert_eq!(rule_of(&lookup_trace).as_deref(), Some("keep-lookups"));

    // A sampled parent is followed although the rule says always_off: the
    // whole trace, in all four services, under the caller's span. The rules
    // were not asked, so the root carries no `sampling.rule`.
    let (traceparent, trace_id, parent) = remote_parent(true);
    let order = send(post_order(&stack).header("traceparent", traceparent)).await;
    assert_eq!(
        (order.status, order.trace_id, order.sampled),
        (201, trace_id, true)
    );
    let order_trace = stack.wait_for_trace(&trace_id.to_string(), WAIT).await;
    assert_whole(&order_trace, "POST /orders", &ALL_FOUR);
    assert_eq!(order_trace.roots()[0].parent_id(), parent);
    assert_eq!(rule_of(&order_trace), None);

    // An unsampled parent is followed although the rule says always_on:
    // not one span, in any service.
    let (traceparent, trace_id, _) = remote_parent(false);
    let lookup = send(get_order(&stack, order_id).header("traceparent", traceparent)).await;
    assert_eq!(
        (lookup.status, lookup.trace_id, lookup.sampled),
        (200, trace_id, false)
    );

    assert_eq!(
        counts(&stack),
        plus(&before, &[&lookup_trace, &order_trace]),
        "only the two kept traces were recorded"
    );
}
