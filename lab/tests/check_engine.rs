//! The check engine on hand-built traces: the shipped lesson checks pass on
//! a healthy trace, and each way of breaking it is diagnosed by name.

mod common;

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Observation, Outcome, Report};
use lab::check::sampling::sampling_band;
use lab::check::spec::{SamplingSpec, Spec};
use lab::check::whole_trace::looks_complete;
use lab::model::{SpanKind, Status, Trace, TraceId, Value};

fn causes(report: &Report) -> Vec<Cause> {
    report.findings.iter().map(|f| f.cause.clone()).collect()
}

fn check(slug: &str, observation: Observation) -> Report {
    evaluate(&lesson(slug), &[observation])
}

#[test]
fn every_shipped_lesson_check_parses() {
    let dir = format!("{}/../lessons", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for lesson in lab::lessons::all(std::path::Path::new(&dir).parent().unwrap()) {
        if let Some(mission) = lab::mission::Mission::load(&lesson).unwrap() {
            assert!(
                mission.faults.len() >= 9,
                "the mission hides at least nine faults"
            );
            let mut answers = Vec::new();
            for fault in &mission.faults {
                // Exactly one right answer in the vocabulary, each its own.
                let answer = mission.solve(fault);
                assert!(answer.is_some(), "{}: no answer", fault.code);
                assert!(
                    !answers.contains(&answer),
                    "{}: an answer twice",
                    fault.code
                );
                answers.push(answer);
                // Its patch and evidence open, and the evidence is a check.
                let sealed = fault
                    .open(&lesson)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", fault.code));
                sealed
                    .evidence()
                    .unwrap_or_else(|e| panic!("{}: {e:#}", fault.code));
            }
            checked += 1;
        } else if lesson.has_check() {
            Spec::load(&lesson.check_file()).unwrap();
            checked += 1;
        }
    }
    assert!(checked >= 15, "{checked} lessons checked");
}

/// The healthy trace as lesson 05's request leaves it: the check's baggage
/// (`request.source`) on every SERVER span, and its `?delay=1000` inside
/// inventory-service's.
fn as_lesson05_sends_it(mut trace: Trace) -> Trace {
    for span in trace.spans.iter_mut() {
        if span.kind == SpanKind::Server {
            span.attributes.push(attr("request.source", s("lesson-05")));
        }
        if span.name == "POST /inventory/reservations" {
            span.duration_us += 1_000_000;
        }
    }
    trace
}

/// The mission is a black box: the services and service-kit know nothing
/// of it, and each sealed fault still applies to this checkout (written
/// against main: a change to the code it patches means opening the faults,
/// moving the patch, and sealing them again; see `lab::mission::seal`).
#[test]
fn the_mission_faults_live_sealed_and_apply_to_main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    for krate in [
        "api-gateway",
        "order-service",
        "user-service",
        "inventory-service",
        "service-kit",
    ] {
        let mut pending = vec![root.join(krate)];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    assert!(
                        !text.to_lowercase().contains("mission"),
                        "{} mentions the mission",
                        path.display()
                    );
                }
            }
        }
    }
    let (lesson, mission) = lab::lessons::all(root)
        .into_iter()
        .find_map(|l| lab::mission::Mission::load(&l).unwrap().map(|m| (l, m)))
        .expect("the mission lesson");
    for fault in &mission.faults {
        let sealed = fault.open(&lesson).unwrap();
        let mut apply = std::process::Command::new("git")
            .current_dir(root)
            .args(["apply", "--check", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        apply
            .stdin
            .take()
            .unwrap()
            .write_all(sealed.patch.as_bytes())
            .unwrap();
        let out = apply.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "fault {} no longer applies to {}: `cargo lab faults open NN DIR`, fix \
             DIR/{}.patch, `cargo lab faults seal NN DIR` ({})",
            fault.code,
            sealed.files().join(", "),
            fault.code,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or("")
        );
    }
}

#[test]
fn healthy_trace_passes_the_trace_shape_lessons() {
    // (07 asks for its own user, 08 for the order history: the gate proves
    // those on real traces.)
    for slug in [
        "01-first-trace",
        "05-context-propagation",
        "14-across-a-queue",
    ] {
        let trace = match slug {
            "05-context-propagation" => as_lesson05_sends_it(healthy_order()),
            _ => healthy_order(),
        };
        let report = check(slug, observed(Some(trace.clone())));
        assert!(report.passed(), "{slug}: {:#?}", report.findings);
        let obs = observed(Some(trace.clone()));
        assert!(looks_complete(&lesson(slug), &obs, &trace));
    }
}

/// A latency check like lesson 08's walkthrough: the slow span must show the
/// delay, and its event must say why.
const DELAY_CHECK: &str = r#"
title: Finding latency
requests:
  - { method: POST, path: "/orders?delay=1500", body: { user_id: "4", product: Monitor, quantity: 1 }, status: 201 }
trace:
  services: [api-gateway, order-service, user-service, inventory-service]
  spans:
    - { service: api-gateway, name: POST /orders, kind: server, root: true, min_duration_ms: 1500 }
    - service: inventory-service
      name: POST /inventory/reservations
      kind: server
      min_duration_ms: 1500
      events:
        - name: fault.delay_injected
          attributes:
            - { key: fault.delay_ms, type: int64, value: 1500 }
"#;

#[test]
fn delayed_trace_passes_a_latency_check_and_healthy_one_fails_it() {
    let spec = Spec::parse(DELAY_CHECK).unwrap();
    let report = evaluate(&spec, &[observed(Some(delayed_order()))]);
    assert!(report.passed(), "{:#?}", report.findings);

    let report = evaluate(&spec, &[observed(Some(healthy_order()))]);
    let found = causes(&report);
    assert!(found.contains(&Cause::TooShort), "{found:?}");
    assert!(found.contains(&Cause::EventMissing), "{found:?}");
}

#[test]
fn no_trace_at_all_points_at_export() {
    let report = check("01-first-trace", observed(None));
    assert_eq!(causes(&report), vec![Cause::NoSpans]);
}

#[test]
fn downstream_spans_in_another_trace_mean_broken_propagation() {
    let healthy = as_lesson05_sends_it(healthy_order());
    let downstream = ["order-service", "user-service", "inventory-service"];
    let mut upstream = healthy.clone();
    upstream
        .spans
        .retain(|s| !downstream.contains(&s.service()));
    // order-service started its own trace: its server span has no parent.
    let mut split = Trace {
        trace_id: trace_id("7a3f000000000000000000000000beef"),
        spans: healthy
            .spans
            .into_iter()
            .filter(|s| downstream.contains(&s.service()))
            .collect(),
    };
    split
        .spans
        .iter_mut()
        .for_each(|s| s.trace_id = split.trace_id.clone());
    find_mut(&mut split, "order-service", "POST /orders").parent_span_id = None;

    let mut observation = observed(Some(upstream));
    observation.elsewhere = vec![split];
    let report = check("05-context-propagation", observation);
    // One finding for the hop that broke, not one per downstream service.
    assert_eq!(
        causes(&report),
        vec![Cause::SplitTrace {
            service: "order-service".to_string(),
            kind: SpanKind::Server,
        }]
    );
    assert!(report.findings[0].problem.contains("went along with it"));
}

/// Moves the spans named `names` (and only those) out of `healthy` into a
/// trace of their own, as a lost context would; `root` loses its parent.
fn split_off(healthy: &mut Trace, names: &[&str], root: &str) -> Trace {
    let id = trace_id("c0ffee00000000000000000000000014");
    let (moved, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut healthy.spans)
        .into_iter()
        .partition(|s| names.contains(&s.name.as_str()));
    healthy.spans = kept;
    let mut other = Trace {
        trace_id: id.clone(),
        spans: moved,
    };
    for span in other.spans.iter_mut() {
        span.trace_id = id.clone();
        if span.name == root {
            span.parent_span_id = None;
        }
    }
    other
}

const CONSUMER_SIDE: [&str; 3] = ["process orders", "UPDATE users", "DEL"];

#[test]
fn a_consumer_that_starts_its_own_trace_is_a_split_across_the_queue() {
    // Lesson 14's exercise: the stream entry carries no traceparent.
    let mut order = healthy_order();
    let consumer = split_off(&mut order, &CONSUMER_SIDE, "process orders");
    let mut observation = observed(Some(order));
    observation.elsewhere = vec![consumer];
    let report = check("14-across-a-queue", observation);
    // One finding for the hop that broke, not one per span of the consumer.
    assert_eq!(
        causes(&report),
        vec![Cause::SplitTrace {
            service: "user-service".to_string(),
            kind: SpanKind::Consumer,
        }],
        "{:#?}",
        report.findings
    );
    let finding = &report.findings[0];
    assert_eq!(
        finding.span.as_deref(),
        Some("user-service process orders (consumer)")
    );
    assert!(
        finding.problem.contains("c0ffee00000000000000000000000014")
            && finding
                .problem
                .contains("UPDATE users, DEL went along with it"),
        "{}",
        finding.problem
    );
    let explained = lab::check::diagnosis::explain(&finding.cause);
    assert!(explained.likely.contains("queue"), "{}", explained.likely);
    assert!(!explained.fix.contains("LESSON 05"), "{}", explained.fix);
}

#[test]
fn a_producer_without_its_stored_context_splits_at_the_producer() {
    // The outbox row lost its context: the relay's PRODUCER span starts the
    // new trace, and the consumer follows it there.
    let mut order = healthy_order();
    let mut names = vec!["send orders"];
    names.extend(CONSUMER_SIDE);
    let relayed = split_off(&mut order, &names, "send orders");
    let mut observation = observed(Some(order));
    observation.elsewhere = vec![relayed];
    let report = check("14-across-a-queue", observation);
    assert_eq!(
        causes(&report),
        vec![Cause::SplitTrace {
            service: "order-service".to_string(),
            kind: SpanKind::Producer,
        }],
        "{:#?}",
        report.findings
    );
}

#[test]
fn missing_spans_under_a_root_nobody_expects_are_just_missing() {
    // The consumer's spans exist elsewhere, but under a span the lesson does
    // not know (some other job): that explains nothing about this trace.
    let mut order = healthy_order();
    let mut other = split_off(&mut order, &CONSUMER_SIDE, "");
    let mut job = span(
        99,
        None,
        "user-service",
        "nightly job",
        SpanKind::Internal,
        0.0,
        50.0,
    );
    job.trace_id = other.trace_id.clone();
    find_mut(&mut other, "user-service", "process orders").parent_span_id =
        Some(job.span_id.clone());
    other.spans.push(job);
    let mut observation = observed(Some(order));
    observation.elsewhere = vec![other];
    let report = check("14-across-a-queue", observation);
    assert_eq!(
        causes(&report),
        vec![Cause::SpanMissing, Cause::SpanMissing, Cause::SpanMissing],
        "{:#?}",
        report.findings
    );
    // Nothing found anywhere: the same.
    let mut order = healthy_order();
    order
        .spans
        .retain(|s| !CONSUMER_SIDE.contains(&s.name.as_str()));
    let report = check("14-across-a-queue", observed(Some(order)));
    assert_eq!(causes(&report), vec![Cause::SpanMissing; 3]);
}

#[test]
fn a_consumer_under_the_stored_context_is_a_message_parent() {
    // A plausible wrong fix: the entry carries the outbox row's context
    // (save_order's), not the PRODUCER span's.
    let mut order = healthy_order();
    let save_order = find_mut(&mut order, "order-service", "save_order")
        .span_id
        .clone();
    find_mut(&mut order, "user-service", "process orders").parent_span_id = Some(save_order);
    let report = check("14-across-a-queue", observed(Some(order)));
    assert_eq!(
        causes(&report),
        vec![Cause::MessageParent],
        "{:#?}",
        report.findings
    );
    // Where to look, not the code.
    let note = &report.notes["message-parent"];
    assert!(note.contains("order-service/src/relay/send.rs"), "{note}");
    assert!(!note.contains("span.context()"), "{note}");
}

#[test]
fn one_service_missing_points_at_its_exporter() {
    let mut trace = healthy_order();
    trace.spans.retain(|s| s.service() != "user-service");
    let report = check("01-first-trace", observed(Some(trace)));
    assert_eq!(
        causes(&report),
        vec![Cause::ServiceMissing {
            service: "user-service".to_string()
        }]
    );
}

#[test]
fn server_span_under_the_wrong_parent_is_diagnosed() {
    let mut trace = as_lesson05_sends_it(healthy_order());
    // order-service's server span hangs off the gateway's SERVER span, not
    // its CLIENT span (the context was taken before the client span existed).
    find_mut(&mut trace, "order-service", "POST /orders").parent_span_id =
        Some(format!("{:016x}", 1));
    let report = check("05-context-propagation", observed(Some(trace)));
    assert_eq!(causes(&report), vec![Cause::WrongParent]);
    assert!(report.findings[0]
        .problem
        .contains("expected api-gateway POST (client)"));
}

#[test]
fn integer_recorded_as_string_is_diagnosed() {
    let mut trace = healthy_order();
    let span = find_mut(&mut trace, "api-gateway", "POST /orders");
    span.attributes
        .retain(|a| a.key != "http.response.status_code");
    span.attributes
        .push(attr("http.response.status_code", s("201")));
    let report = check("01-first-trace", observed(Some(trace)));
    assert_eq!(causes(&report), vec![Cause::IntAsString]);
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    // Says what to record, not the code that records it.
    assert!(text.contains("signed 64-bit integer"), "{text}");
    assert!(!text.contains("as i64"), "{text}");
}

#[test]
fn gateway_that_ignores_our_traceparent_is_diagnosed() {
    let mut observation = observed(Some(healthy_order()));
    observation.sent_trace_id = Some(trace_id("11111111111111111111111111111111"));
    let report = check("01-first-trace", observation);
    assert_eq!(causes(&report), vec![Cause::NotContinued]);
}

#[test]
fn unreachable_gateway_and_bad_status_are_reported() {
    let mut observation = observed(None);
    observation.response = Outcome::Unreachable("connection refused".to_string());
    assert_eq!(
        causes(&check("01-first-trace", observation)),
        vec![Cause::GatewayDown]
    );

    let mut trace = healthy_order();
    fail(
        find_mut(&mut trace, "api-gateway", "POST /orders"),
        "inventory-service failed",
    );
    let mut observation = observed(Some(trace));
    observation.response = Outcome::Answered {
        status: 502,
        trace_id: Some(trace_id(TRACE_ID)),
        error: Some("inventory-service failed".to_string()),
    };
    let report = check("01-first-trace", observation);
    assert!(causes(&report).contains(&Cause::BadStatus { status: 502 }));
}

#[test]
fn attribute_kind_status_and_orphan_problems() {
    let mut trace = healthy_order();
    let update = find_mut(&mut trace, "inventory-service", "UPDATE products");
    update.attributes.retain(|a| a.key != "db.collection.name");
    update.kind = SpanKind::Internal;
    find_mut(&mut trace, "user-service", "GET")
        .attributes
        .iter_mut()
        .filter(|a| a.key == "db.system.name")
        .for_each(|a| a.value = Value::Str("valkey".to_string()));
    let report = check("07-database-and-cache-spans", observed(Some(trace.clone())));
    let found = causes(&report);
    for cause in [Cause::AttributeMissing, Cause::WrongKind, Cause::WrongValue] {
        assert!(found.contains(&cause), "{cause:?} not in {found:?}");
    }

    // Spans whose parent never arrived: save_order's three children
    // (INSERT orders, INSERT order_events, send orders).
    trace.spans.retain(|s| s.name != "save_order");
    let report = check("01-first-trace", observed(Some(trace)));
    assert_eq!(causes(&report), vec![Cause::Orphan; 3]);
}

#[test]
fn status_is_compared() {
    let spec = Spec::parse(
        "title: t\nrequests: [{path: /}]\ntrace:\n  spans:\n    - {service: api-gateway, name: POST /orders, status: error}\n",
    )
    .unwrap();
    let report = evaluate(&spec, &[observed(Some(healthy_order()))]);
    assert!(matches!(causes(&report)[..], [Cause::WrongStatus { .. }]));
    let mut trace = healthy_order();
    find_mut(&mut trace, "api-gateway", "POST /orders").status = Status::Error;
    assert!(evaluate(&spec, &[observed(Some(trace))]).passed());
}

/// Sampling lesson: 100 requests without traceparent, `found` of them traced.
fn sampled(found: usize) -> Vec<Observation> {
    (0..100)
        .map(|i| {
            let id = TraceId::parse(&format!("{:032x}", i + 1)).unwrap();
            let mut trace = healthy_order();
            trace.trace_id = id.clone();
            trace.spans[0].parent_span_id = None;
            Observation {
                request: "POST /orders".to_string(),
                expected_status: Some(201),
                response: Outcome::Answered {
                    status: 201,
                    trace_id: Some(id),
                    error: None,
                },
                sent_trace_id: None,
                trace: (i < found).then_some(trace),
                elsewhere: Vec::new(),
                expect_trace: Default::default(),
                logs: Vec::new(),
                phase: 0,
                phase_secs: 0.0,
                response_body: None,
            }
        })
        .collect()
}

#[test]
fn sampling_fraction_is_checked_with_a_binomial_band() {
    let spec = lesson("09-head-sampling");
    let report = evaluate(&spec, &sampled(25));
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(report.sampled, Some((25, 100)));
    assert_eq!(
        causes(&evaluate(&spec, &sampled(100))),
        vec![Cause::SampledEverything]
    );
    assert_eq!(
        causes(&evaluate(&spec, &sampled(0))),
        vec![Cause::SampledNothing]
    );
    assert_eq!(
        causes(&evaluate(&spec, &sampled(60))),
        vec![Cause::WrongRatio]
    );

    // 100 requests at 0.25: mean 25, deviation √(100·0.25·0.75) ≈ 4.33,
    // band 25 ± (4·4.33 + 1) ≈ 6.7..43.3.
    let (low, high) = sampling_band(
        &SamplingSpec {
            ratio: 0.25,
            tolerance: None,
        },
        100,
    );
    assert!(
        (6.0..7.0).contains(&low) && (43.0..44.0).contains(&high),
        "{low}..{high}"
    );
    let (low, high) = sampling_band(
        &SamplingSpec {
            ratio: 0.5,
            tolerance: Some(0.1),
        },
        100,
    );
    assert_eq!((low.round(), high.round()), (40.0, 60.0));
}

#[test]
fn sampled_fragment_means_downstream_sampled_on_its_own() {
    let spec = lesson("09-head-sampling");
    let mut observations = sampled(10);
    for i in [20, 30] {
        let fragment = observations[i].trace.insert(healthy_order());
        fragment.trace_id = TraceId::parse(&format!("{:032x}", i + 1)).unwrap();
        fragment.spans.retain(|s| s.service() == "user-service");
    }
    let report = evaluate(&spec, &observations);
    // One finding for both fragments: trace ids differ, the problem is the same.
    assert_eq!(causes(&report), vec![Cause::Fragment]);
    assert_eq!(report.findings[0].count, 2);
}
