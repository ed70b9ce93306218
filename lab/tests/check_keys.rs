//! The check.yaml keys lessons 01–15 need, each on a hand-made trace (or a
//! fake gateway for the keys that shape the requests): counts, absent and
//! pattern attributes, stopped services, traces expected absent, log lines,
//! collector configs, questions, the lesson's own diagnosis, and lesson
//! 09's downstream sampler that ignores its parent.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Observation, Outcome, Report};
use lab::check::scenario::{observe, CheckOptions};
use lab::check::spec::Spec;
use lab::model::{SpanKind, TraceId, Value};
use serde_json::json;

#[test]
fn span_counts_catch_an_n_plus_one() {
    let one = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - {{ service: order-service, name: GET, kind: client, count: 1 }}\n"
    ));
    assert!(evaluate(&one, &[observed(Some(healthy_order()))]).passed());

    let mut trace = healthy_order();
    for id in 100..103 {
        trace.spans.push(span(
            id,
            Some(3),
            "order-service",
            "GET",
            SpanKind::Client,
            20.0,
            1.0,
        ));
    }
    let report = evaluate(&one, &[observed(Some(trace.clone()))]);
    assert_eq!(keys(&report), ["wrong-count"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("expected 1 such spans in the trace, found 4"));

    let range = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - {{ service: order-service, name: GET, count: {{ min: 2, max: 5 }} }}\n"
    ));
    assert!(evaluate(&range, &[observed(Some(trace))]).passed());
}

#[test]
fn attributes_can_be_required_absent_or_matching_a_pattern() {
    let check = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: user-service\n      name: GET /users/{{id}}\n      attributes:\n        - {{ key: user.email, absent: true }}\n        - {{ key: user.email.hash, matches: '^[0-9a-f]{{64}}$' }}\n"
    ));
    let with = |attrs: Vec<(&str, &str)>| {
        let mut trace = healthy_order();
        let user = find_mut(&mut trace, "user-service", "GET /users/{id}");
        for (k, v) in attrs {
            user.attributes.push(attr(k, s(v)));
        }
        evaluate(&check, &[observed(Some(trace))])
    };
    let hash = "a".repeat(64);
    assert!(with(vec![("user.email.hash", &hash)]).passed());
    assert_eq!(
        keys(&with(vec![
            ("user.email", "ada@example.com"),
            ("user.email.hash", &hash)
        ])),
        ["attribute-present"]
    );
    assert_eq!(
        keys(&with(vec![("user.email.hash", "ada@example.com")])),
        ["no-match"]
    );
    assert!(Spec::parse(&format!(
        "{HEAD}trace:\n  spans:\n    - service: a\n      name: b\n      attributes: [{{ key: k, matches: '(' }}]\n"
    ))
    .unwrap_err()
    .contains("not a regular expression"));
}

#[test]
fn a_service_stopped_after_the_requests_without_flushing_is_named() {
    let lesson = spec(&format!(
        "{HEAD}after_requests: {{ restart: [order-service] }}\ntrace:\n  services: [api-gateway, order-service, user-service, inventory-service]\n"
    ));
    let mut trace = healthy_order();
    trace.spans.retain(|s| s.service() != "order-service");
    let report = evaluate(&lesson, &[observed(Some(trace.clone()))]);
    assert_eq!(
        report.findings[0].cause,
        Cause::NotFlushed {
            service: "order-service".into()
        },
        "{:#?}",
        report.findings
    );
    // Without the restart, the same trace is an exporter problem.
    let plain = spec(&format!(
        "{HEAD}trace:\n  services: [api-gateway, order-service, user-service, inventory-service]\n"
    ));
    let report = evaluate(&plain, &[observed(Some(trace))]);
    assert_eq!(keys(&report), ["service-missing"]);
}

#[test]
fn shipped_lesson_01_diagnoses_the_missing_flush_in_its_own_words() {
    let path = format!(
        "{}/../lessons/01-first-trace/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    assert_eq!(lesson.expect_failure.as_deref(), Some("not-flushed"));
    let mut trace = healthy_order();
    trace.spans.retain(|s| s.service() != "order-service");
    let report = evaluate(&lesson, &[observed(Some(trace))]);
    assert_eq!(keys(&report)[0], "not-flushed", "{:#?}", report.findings);
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert!(
        text.contains("in this lesson: order-service queued its spans"),
        "{text}"
    );
    assert!(text.contains("LESSON 01"), "{text}");
    // On a whole trace it passes, and lists its questions.
    let report = evaluate(&lesson, &[observed(Some(healthy_order()))]);
    assert!(report.passed(), "{:#?}", report.findings);
}

#[test]
fn a_trace_expected_absent_fails_only_when_it_exists() {
    let lesson = spec(
        "title: t\nrequests: [{ path: /orders, traceparent: unsampled, expect_trace: absent }]\n",
    );
    let mut obs = observed(None);
    obs.expect_trace = lesson.requests[0].expect_trace;
    assert!(evaluate(&lesson, std::slice::from_ref(&obs)).passed());
    obs.trace = Some(healthy_order());
    assert_eq!(keys(&evaluate(&lesson, &[obs])), ["unexpected-trace"]);
}

/// A JSON log line of `service` in the healthy order's trace, written in
/// the span `span_id`.
fn log_line(service: &str, span_id: &str, message: &str) -> (String, String) {
    (
        service.to_string(),
        json!({"trace_id": TRACE_ID, "span_id": span_id, "message": message}).to_string(),
    )
}

#[test]
fn log_lines_of_the_trace_are_counted_per_service() {
    let lesson = spec(&format!(
        "{HEAD}logs:\n  - {{ service: order-service, contains: confirmed }}\n  - {{ service: user-service, min: 2 }}\n"
    ));
    let mut obs = observed(Some(healthy_order()));
    // No line at all: one finding naming both services (the shared format).
    let report = evaluate(&lesson, std::slice::from_ref(&obs));
    assert_eq!(
        report.findings[0].cause,
        Cause::LogsMissing {
            service: "order-service and user-service".into()
        }
    );
    assert_eq!(report.findings.len(), 1);
    // order-service's server span is 3, user-service's 6 (common/mod.rs).
    obs.logs = vec![
        log_line("order-service", "0000000000000003", "order confirmed"),
        log_line("user-service", "0000000000000006", "a"),
    ];
    let report = evaluate(&lesson, std::slice::from_ref(&obs));
    assert_eq!(
        report.findings[0].cause,
        Cause::LogsMissing {
            service: "user-service".into()
        }
    );
    assert!(
        report.findings[0]
            .problem
            .contains("user-service wrote 1 log lines with trace_id"),
        "{}",
        report.findings[0].problem
    );
    // order-service's line has its ids: the format works, user-service's level may not.
    assert!(
        report.findings[0]
            .problem
            .contains("so the log format works"),
        "{}",
        report.findings[0].problem
    );
    obs.logs
        .push(log_line("user-service", "0000000000000006", "b"));
    let report = evaluate(&lesson, &[obs]);
    assert!(report.passed());
    // The report says which span each service's lines point at.
    let shown = lab::check::report::render(&report, lab::style::Style::plain());
    assert!(
        shown.contains(&format!(
            "log lines with trace_id {TRACE_ID} (all of them: cargo lab logs {TRACE_ID})\n\
             ✓ order-service  1 line with \"confirmed\", in span 00000000 (POST /orders)\n\
             ✓ user-service   2 lines, in span 00000000 (GET /users/{{id}})\n"
        )),
        "{shown}"
    );
}

#[test]
fn a_log_line_must_name_one_of_its_services_spans() {
    let lesson = spec(&format!(
        "{HEAD}logs:\n  - {{ service: order-service, contains: confirmed }}\n"
    ));
    let mut obs = observed(Some(healthy_order()));
    let problem = |obs: &Observation| {
        let report = evaluate(&lesson, std::slice::from_ref(obs));
        assert_eq!(keys(&report), ["log-span-id"]);
        report.findings[0].problem.clone()
    };
    // No span_id at all.
    obs.logs = vec![(
        "order-service".to_string(),
        json!({"trace_id": TRACE_ID, "message": "order confirmed"}).to_string(),
    )];
    assert!(
        problem(&obs).contains("carry no span_id"),
        "{}",
        problem(&obs)
    );
    // `tracing`'s own span id (a small number), not the OTel one.
    obs.logs = vec![log_line("order-service", "1", "order confirmed")];
    assert!(
        problem(&obs).contains("carry span_id \"1\", which is none of order-service's"),
        "{}",
        problem(&obs)
    );
    // A span of the trace, but another service's (user-service's server span).
    obs.logs = vec![log_line(
        "order-service",
        "0000000000000006",
        "order confirmed",
    )];
    problem(&obs);
    obs.logs = vec![log_line(
        "order-service",
        "000000000000000e",
        "order confirmed",
    )];
    assert!(evaluate(&lesson, &[obs]).passed());
}

#[test]
fn lesson_09_names_the_downstream_sampler_that_ignores_its_parent() {
    let path = format!(
        "{}/../lessons/09-head-sampling/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    // The gateway keeps every trace; order-service keeps a quarter of them
    // on its own, and the services it calls follow its "no".
    let observations: Vec<Observation> = (0..100)
        .map(|i| {
            let id = TraceId::parse(&format!("{:032x}", i + 1)).unwrap();
            let mut trace = healthy_order();
            trace.trace_id = id.clone();
            trace.spans[0].parent_span_id = None;
            if i % 4 != 0 {
                trace.spans.retain(|s| s.service() == "api-gateway");
            }
            let mut obs = Observation::answered("POST /orders", 201, Some(id));
            obs.sent_trace_id = None;
            obs.trace = Some(trace);
            obs
        })
        .collect();
    let report = evaluate(&lesson, &observations);
    assert_eq!(
        report.findings[0].cause,
        Cause::ParentIgnored {
            service: "order-service".into()
        },
        "{:#?}",
        report.findings
    );
    assert!(
        !keys(&report).contains(&"service-missing"),
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0]
        .problem
        .starts_with("order-service decides again: 75 of 100 kept traces"));
}

/// Lesson 10's two load phases: `quiet` of 15 requests (5 s) and `busy`
/// of 200 (10 s) kept, each trace whole and marked with the target.
fn adaptive_run(quiet: usize, busy: usize) -> Report {
    let path = format!(
        "{}/../lessons/10-custom-samplers/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    let phase = |phase: usize, sent: usize, kept: usize, secs: f64| {
        (0..sent).map(move |i| {
            let id = TraceId::parse(&format!("{:016x}{:016x}", phase + 1, i + 1)).unwrap();
            let mut trace = healthy_order();
            trace.trace_id = id.clone();
            trace.spans[0].parent_span_id = None;
            trace.spans[0]
                .attributes
                .push(attr("sampling.target", Value::Float(5.0)));
            let ratio = if phase == 0 { 1.0 } else { 0.3 };
            trace.spans[0]
                .attributes
                .push(attr("sampling.ratio", Value::Float(ratio)));
            let mut obs = Observation::answered("POST /orders", 201, Some(id));
            obs.sent_trace_id = None;
            obs.trace = (i < kept).then_some(trace);
            obs.phase = phase;
            obs.phase_secs = secs;
            obs
        })
    };
    let observations: Vec<Observation> = phase(0, 15, quiet, 5.0)
        .chain(phase(1, 200, busy, 10.0))
        .collect();
    evaluate(&lesson, &observations)
}

#[test]
fn lesson_10_holds_the_kept_rate_near_the_target_in_each_phase() {
    // All quiet traces, about 6 a second when busy: the adaptive sampler.
    let report = adaptive_run(15, 62);
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(report.phases.len(), 2, "{:?}", report.phases);
    assert!(
        report.phases[1].contains("62 of 200 requests traced in 10.0 s (6.2 traces/s)"),
        "{:?}",
        report.phases
    );

    // The exercise: everything kept, 20 a second under load.
    let report = adaptive_run(15, 200);
    assert_eq!(keys(&report), ["over-target"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("expected about 5 per second (2.5 to 10.0)"));

    // A fixed small ratio: too few when busy, and traces lost while quiet.
    let report = adaptive_run(3, 12);
    assert_eq!(
        keys(&report),
        ["wrong-ratio", "under-target"],
        "{:#?}",
        report.findings
    );
}

/// Lesson 11's phases as a tail sampler would leave them: errors, slow
/// requests and normal ones, with this many traces kept of each.
fn tail_sampling_run(errors: usize, slow: usize, normal: usize) -> Report {
    let path = format!(
        "{}/../lessons/11-tail-sampling/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    let phase = |phase: usize, sent: usize, kept: usize, status: u16| {
        (0..sent).map(move |i| {
            let id = TraceId::parse(&format!("{:016x}{:016x}", phase + 1, i + 1)).unwrap();
            let mut trace = healthy_order();
            trace.trace_id = id.clone();
            trace.spans[0].parent_span_id = None;
            let mut obs = Observation::answered("POST /orders", status, Some(id));
            obs.sent_trace_id = None;
            obs.trace = (i < kept).then_some(trace);
            obs.phase = phase;
            obs.phase_secs = sent as f64 / 20.0;
            obs
        })
    };
    let observations: Vec<Observation> = phase(0, 5, errors, 502)
        .chain(phase(1, 5, slow, 201))
        .chain(phase(2, 100, normal, 201))
        .collect();
    evaluate(&lesson, &observations)
}

#[test]
fn lesson_11_with_a_collector_keeps_errors_and_slow_traces_and_a_tenth_of_the_rest() {
    let report = tail_sampling_run(5, 5, 11);
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(report.phases.len(), 3, "{:?}", report.phases);
    // The exercise's always_sample: every normal trace kept too.
    let report = tail_sampling_run(5, 5, 100);
    assert_eq!(
        keys(&report),
        ["sampled-everything"],
        "{:#?}",
        report.findings
    );
    // No status_code policy: the errors fall into the 10 %.
    let report = tail_sampling_run(0, 5, 9);
    assert_eq!(keys(&report), ["sampled-nothing"], "{:#?}", report.findings);
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert!(
        text.contains("each need a policy that keeps them"),
        "{text}"
    );
}

#[test]
fn lesson_12_with_a_collector_wants_a_hash_never_the_address() {
    let path = format!(
        "{}/../lessons/12-collector-pipeline/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    let through_collector = |email: &str, debug: bool| {
        let mut trace = healthy_order();
        // A resource attribute: on every span's process, not among its attributes.
        for span in &mut trace.spans {
            span.process
                .tags
                .push(attr("deployment.environment.name", s("workshop")));
        }
        let gateway = find_mut(&mut trace, "api-gateway", "POST /orders");
        if debug {
            gateway
                .attributes
                .push(attr("code.file.path", s("telemetry/src/server.rs")));
        }
        let user = find_mut(&mut trace, "user-service", "GET /users/{id}");
        user.attributes.push(attr("user.email", s(email)));
        evaluate(&lesson, &[observed(Some(trace))])
    };
    // SHA-256 (64 hex) and SHA-1 (40 hex) both count as a hash.
    let sha256 = "6f1ed002ab5595859014ebf0951522d9c8f8b1bfb5c1c5a1e9e8c1a1b1c1d1e1";
    assert!(through_collector(sha256, false).passed());
    assert!(through_collector(&sha256[..40], false).passed());
    let report = through_collector("alan@example.com", false);
    assert_eq!(keys(&report), ["no-match"], "{:#?}", report.findings);
    let text = lab::check::report::render(&report, lab::style::Style::plain());
    assert!(
        text.contains("user.email reached the backend in clear text"),
        "{text}"
    );
    let report = through_collector(sha256, true);
    assert_eq!(
        keys(&report),
        ["attribute-present"],
        "{:#?}",
        report.findings
    );
}

#[test]
fn kept_phases_need_exactly_one_measure() {
    let base = "title: t\nrequests:\n  - { path: /orders, repeat: 2, rps: 1, kept: ";
    for (kept, error) in [
        ("{ share: 1.5 }", "share 1.5 is not within 0..=1"),
        ("{ per_second: 0 }", "per_second 0 is not positive"),
        ("{ share: 1, per_second: 5 }", "exactly one of"),
        ("{ share: 1, factor: 2 }", "`factor` goes with `per_second`"),
        (
            "{ per_second: 5, factor: 1 }",
            "factor 1 must be greater than 1",
        ),
    ] {
        let error_text = Spec::parse(&format!("{base}{kept} }}\n")).unwrap_err();
        assert!(error_text.contains(error), "{kept}: {error_text}");
    }
    assert!(Spec::parse(&format!("{base}{{ per_second: 5 }} }}\n")).is_ok());
}

fn write(dir: &std::path::Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn collector_assertions_accept_equivalent_configs() {
    let tmp = tempfile::Builder::new()
        .prefix("lab-collector-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let lesson = spec(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ processor: attributes, action: {{ key: user.email, action: hash }} }}\n    - {{ before: [memory_limiter, batch] }}\n"
    ));
    let judge = |yaml: &str| {
        write(dir, "c.yaml", yaml);
        let mut report = Report::default();
        lab::check::collector::check(dir, lesson.collector.as_ref().unwrap(), &mut report);
        report
    };
    // Named `attributes`, one pipeline `traces`.
    let plain = "processors:\n  memory_limiter: {}\n  batch: {}\n  attributes:\n    actions:\n      - { key: user.email, action: hash }\nservice:\n  pipelines:\n    traces: { receivers: [otlp], processors: [memory_limiter, attributes, batch], exporters: [otlp] }\n";
    assert!(judge(plain).passed(), "{:#?}", judge(plain).findings);
    // Named `attributes/pii`, other actions first, pipeline `traces/jaeger`.
    let renamed = "processors:\n  memory_limiter/x: {}\n  batch/y: {}\n  attributes/pii:\n    actions:\n      - action: delete\n        key: code.lineno\n      - action: hash\n        key: user.email\nservice:\n  pipelines:\n    traces/jaeger:\n      processors: [memory_limiter/x, attributes/pii, batch/y]\n";
    assert!(judge(renamed).passed(), "{:#?}", judge(renamed).findings);
    // Deleting is not hashing; batch before the limiter is the wrong order.
    let wrong = plain.replace("action: hash", "action: delete").replace(
        "[memory_limiter, attributes, batch]",
        "[batch, attributes, memory_limiter]",
    );
    let report = judge(&wrong);
    assert_eq!(keys(&report), ["wrong-setting", "pipeline-order"]);
    assert!(report.findings[0]
        .problem
        .contains("has the action `delete` on `user.email`, not `hash`"));
    // A processor defined but not in the pipeline does not count.
    let unused = plain.replace(
        "[memory_limiter, attributes, batch]",
        "[memory_limiter, batch]",
    );
    let report = judge(&unused);
    assert_eq!(keys(&report), ["not-in-pipeline"]);
    assert!(report.findings[0]
        .problem
        .contains("`attributes` is defined under `processors:`, but no traces pipeline lists it"));
}

#[test]
fn attribute_actions_match_by_pattern_and_any_of_several_actions() {
    let tmp = tempfile::Builder::new()
        .prefix("lab-actions-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let lesson = spec(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ processor: attributes, action: {{ key: code.file.path, action: delete }} }}\n    - {{ processor: attributes, action: {{ key: deployment.environment.name, action: [insert, upsert] }} }}\n"
    ));
    let judge = |actions: &str| {
        let yaml = format!("processors:\n  attributes:\n    actions:\n{actions}service:\n  pipelines:\n    traces: {{ processors: [attributes] }}\n");
        write(dir, "c.yaml", &yaml);
        let mut report = Report::default();
        lab::check::collector::check(dir, lesson.collector.as_ref().unwrap(), &mut report);
        report
    };
    let by_key = "      - { key: code.file.path, action: delete }\n      - { key: deployment.environment.name, value: w, action: insert }\n";
    assert!(judge(by_key).passed(), "{:#?}", judge(by_key).findings);
    // One pattern deletes every code.* attribute; upsert inserts too.
    let by_pattern = "      - { pattern: '^code\\..*', action: delete }\n      - { key: deployment.environment.name, value: w, action: upsert }\n";
    assert!(
        judge(by_pattern).passed(),
        "{:#?}",
        judge(by_pattern).findings
    );
    // A pattern that misses the key, and `update` (which never adds a key).
    let wrong = "      - { pattern: '^thread\\..*', action: delete }\n      - { key: deployment.environment.name, value: w, action: update }\n";
    let report = judge(wrong);
    assert_eq!(keys(&report), ["collector-config", "wrong-setting"]);
    assert!(report.findings[0]
        .problem
        .contains("no action `delete` on key `code.file.path`"));
    assert!(report.findings[1].problem.contains(
        "has the action `update` on `deployment.environment.name`, not `insert` or `upsert`"
    ));
}

#[test]
fn tail_sampling_policies_accept_equivalent_configs() {
    let tmp = tempfile::Builder::new()
        .prefix("lab-policies-")
        .tempdir()
        .unwrap();
    let dir = tmp.path();
    let lesson = spec(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ processor: tail_sampling, policy: {{ type: status_code, status_code: ERROR }} }}\n    - {{ processor: tail_sampling, policy: {{ type: latency, threshold_ms: {{ min: 200, max: 1000 }} }} }}\n    - {{ processor: tail_sampling, policy: {{ type: probabilistic, percentage: 10 }} }}\n"
    ));
    let judge = |policies: &str| {
        let yaml = format!("processors:\n  memory_limiter: {{}}\n  tail_sampling/keep:\n    decision_wait: 15s\n    policies:\n{policies}service:\n  pipelines:\n    traces/jaeger: {{ processors: [memory_limiter, tail_sampling/keep] }}\n");
        write(dir, "c.yaml", &yaml);
        let mut report = Report::default();
        let lines =
            lab::check::collector::check(dir, lesson.collector.as_ref().unwrap(), &mut report);
        (report, lines)
    };
    // The three policies side by side, named as the learner likes.
    let plain = "      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n      - { name: slow, type: latency, latency: { threshold_ms: 1000 } }\n      - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 10 } }\n";
    let (report, lines) = judge(plain);
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(
        lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        [
            "`tail_sampling`: a policy that keeps every trace with an ERROR span",
            "`tail_sampling`: a policy that keeps every trace longer than a threshold (between 200 and 1000 ms)",
            "`tail_sampling`: a policy that keeps a share of the traces (10 %)",
        ]
    );
    // The same inside a composite, a lower threshold, ERROR among others,
    // and the share alone inside an `and`.
    let nested = "      - name: all\n        type: composite\n        composite:\n          max_total_spans_per_second: 1000\n          policy_order: [errors, slow]\n          composite_sub_policy:\n            - { name: errors, type: status_code, status_code: { status_codes: [UNSET, ERROR] } }\n            - { name: slow, type: latency, latency: { threshold_ms: 500 } }\n      - name: rest\n        type: and\n        and:\n          and_sub_policy:\n            - { name: share, type: probabilistic, probabilistic: { sampling_percentage: 10.0 } }\n";
    let (report, _) = judge(nested);
    assert!(report.passed(), "{:#?}", report.findings);
    // Wrong: OK instead of ERROR, a threshold above the lesson's, a share
    // that is all, and a latency policy with an upper bound.
    let wrong = "      - { name: errors, type: status_code, status_code: { status_codes: [OK] } }\n      - { name: slow, type: latency, latency: { threshold_ms: 5000 } }\n      - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 100 } }\n";
    let (report, lines) = judge(wrong);
    assert_eq!(
        keys(&report),
        ["wrong-setting", "wrong-setting", "keeps-everything"]
    );
    assert!(lines.iter().all(|(met, _)| !met));
    let problems: Vec<&str> = report.findings.iter().map(|f| f.problem.as_str()).collect();
    assert!(
        problems[0].contains("policy `errors` keeps status codes [\"OK\"], not ERROR"),
        "{problems:#?}"
    );
    assert!(
        problems[1].contains(
            "policy `slow` has threshold_ms 5000; this lesson wants between 200 and 1000"
        ),
        "{problems:#?}"
    );
    assert!(
        problems[2].contains("policy `rest` has sampling_percentage 100: it keeps every trace"),
        "{problems:#?}"
    );
    let bounded = plain.replace(
        "threshold_ms: 1000 }",
        "threshold_ms: 1000, upper_threshold_ms: 3000 }",
    );
    assert!(judge(&bounded).0.findings[0]
        .problem
        .contains("upper_threshold_ms 3000"));
    // An `and` of two policies keeps less than either: it does not count.
    let anded = "      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }\n      - { name: slow, type: latency, latency: { threshold_ms: 1000 } }\n      - name: rest\n        type: and\n        and:\n          and_sub_policy:\n            - { name: share, type: probabilistic, probabilistic: { sampling_percentage: 10 } }\n            - { name: slow-too, type: latency, latency: { threshold_ms: 1000 } }\n";
    let (report, _) = judge(anded);
    assert!(
        report.findings[0]
            .problem
            .contains("policy `share` would keep them, but it sits inside an `and`"),
        "{:#?}",
        report.findings
    );
    assert_eq!(keys(&report), ["combined-policies"]);
    // A policy that keeps everything makes the others pointless.
    let kept_all = spec(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ processor: tail_sampling, no_policy: always_sample }}\n"
    ));
    write(dir, "c.yaml", &format!("processors:\n  tail_sampling:\n    policies:\n{plain}      - {{ name: keep-everything, type: always_sample }}\nservice:\n  pipelines:\n    traces: {{ processors: [tail_sampling] }}\n"));
    let mut report = Report::default();
    lab::check::collector::check(dir, kept_all.collector.as_ref().unwrap(), &mut report);
    assert!(
        report.findings[0]
            .problem
            .contains("still has policy `keep-everything`, which keeps every trace"),
        "{:#?}",
        report.findings
    );
    // No policies at all.
    let (report, _) = judge("      []\n");
    assert!(report.findings[0].problem.contains(
        "the `tail_sampling` processor has no policy that keeps every trace with an ERROR span"
    ));
}

#[test]
fn a_policy_or_action_without_its_processor_is_not_a_check_file() {
    let error = Spec::parse(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ policy: {{ type: latency }} }}\n"
    ))
    .unwrap_err();
    assert!(
        error.contains("a `policy` needs its `processor`"),
        "{error}"
    );
    let error = Spec::parse(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ processor: tail_sampling, policy: {{ type: rate_limiting }} }}\n"
    ))
    .unwrap_err();
    assert!(error.contains("unknown variant `rate_limiting`"), "{error}");
}

#[test]
fn questions_are_answered_on_the_command_line() {
    let lesson = spec(&format!(
        "{HEAD}questions:\n  - {{ key: slowest, text: Which service is slow?, answer: inventory-service }}\n  - {{ key: ms, text: How long?, matches: '^1[45][0-9]{{2}}$' }}\n"
    ));
    let answers = |given: &[&str]| {
        let raw: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        lab::check::questions::parse_answers(&lesson, &raw)
    };
    let mut report = Report::default();
    lab::check::questions::check(
        &lesson,
        &answers(&["slowest=Inventory-Service", "ms=1503"]).unwrap(),
        &mut report,
    );
    assert!(report.passed() && report.unanswered.is_empty());

    let mut report = Report::default();
    lab::check::questions::check(
        &lesson,
        &answers(&["slowest=order-service"]).unwrap(),
        &mut report,
    );
    assert_eq!(
        report.findings[0].cause,
        Cause::WrongAnswer {
            key: "slowest".into()
        }
    );
    assert_eq!(
        report.unanswered,
        vec![("ms".to_string(), "How long?".to_string())]
    );

    let error = answers(&["fastest=x"]).unwrap_err().to_string();
    assert!(
        error.contains("no question \"fastest\"; its questions: slowest, ms"),
        "{error}"
    );
    assert!(answers(&["slowest"])
        .unwrap_err()
        .to_string()
        .contains("not KEY=VALUE"));
}

#[test]
fn lesson_keys_parse_and_unknown_ones_are_refused() {
    let lesson = spec(&format!(
        "{HEAD}exercise: pending\nexpect_failure: no-spans\ntimeout_s: 40\nsettle_ms: 2500\ndiagnosis: {{ no-spans: look at main.rs }}\n"
    ));
    assert!(lesson.exercise_pending());
    assert_eq!(lesson.timeout_s, Some(40));
    assert_eq!(lesson.settle_ms, Some(2500));
    assert_eq!(lesson.expect_failure.as_deref(), Some("no-spans"));
    assert!(Spec::parse(&format!("{HEAD}expect_fail: x\n")).is_err());
    assert!(Spec::parse("title: t\nrequests: [{ path: /, rps: 0 }]\n").is_err());
}

#[test]
fn env_files_are_key_value_and_a_bad_line_is_named() {
    let pairs = lab::stack::parse_env("# c\n\nA=1\nB=x=y\n").unwrap();
    assert_eq!(
        pairs,
        vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
    );
    let (line, problem) = lab::stack::parse_env("A=1\nexport B=2\n").unwrap_err();
    assert_eq!(line, 2);
    assert!(problem.contains("not a variable name"), "{problem}");
    assert_eq!(lab::stack::parse_env("A=1\njunk\n").unwrap_err().0, 2);
}

#[test]
fn a_learner_override_of_the_lessons_environment_is_found() {
    let tmp = tempfile::Builder::new()
        .prefix("lab-override-")
        .tempdir()
        .unwrap();
    let root = tmp.path();
    let lesson = root.join("lessons/10-custom-samplers/env");
    std::fs::create_dir_all(&lesson).unwrap();
    std::fs::create_dir_all(root.join(".lab")).unwrap();
    write(
        &lesson,
        "api-gateway.env",
        "OTEL_TRACES_SAMPLER=adaptive\nOTEL_TRACES_SAMPLER_ARG=5\n",
    );
    let slug = Some("10-custom-samplers");
    // The same value, or another variable: nothing to say.
    write(
        &root.join(".lab"),
        "api-gateway.env",
        "OTEL_TRACES_SAMPLER=adaptive\nRUST_LOG=debug\n",
    );
    assert!(lab::stack::overridden(root, slug, "api-gateway").is_empty());
    // A leftover from the walkthrough: the learner's file wins.
    write(
        &root.join(".lab"),
        "api-gateway.env",
        "OTEL_TRACES_SAMPLER=ratelimit\n",
    );
    assert_eq!(
        lab::stack::overridden(root, slug, "api-gateway"),
        vec![(
            "OTEL_TRACES_SAMPLER".to_string(),
            "adaptive".to_string(),
            "ratelimit".to_string()
        )]
    );
    assert!(lab::stack::overridden(root, None, "api-gateway").is_empty());
    assert!(lab::stack::overridden(root, slug, "order-service").is_empty());
}

/// What the fake gateway saw.
#[derive(Default)]
struct Seen {
    headers: Vec<HeaderMap>,
    at: Vec<Instant>,
}

async fn record(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
) -> (StatusCode, Json<serde_json::Value>) {
    let trace_id = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.split('-').nth(1))
        .unwrap_or("")
        .to_string();
    let mut seen = seen.lock().unwrap();
    seen.headers.push(headers);
    seen.at.push(Instant::now());
    (StatusCode::CREATED, Json(json!({ "trace_id": trace_id })))
}

/// Headers, an unsampled traceparent, a paced load phase and a trace
/// expected absent, through the scenario's network half.
#[tokio::test]
async fn requests_carry_headers_and_unsampled_parents_at_a_rate() {
    let sink = lab::sink::start(lab::sink::SinkConfig::ephemeral())
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = Router::new()
        .route("/orders", post(record))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let lesson = spec(
        "title: t\nsettle_ms: 1000\nrequests:\n  - { method: POST, path: /orders, status: 201, repeat: 5, rps: 10, traceparent: unsampled, expect_trace: absent, headers: { baggage: request.source=lab } }\n",
    );
    let options = CheckOptions {
        gateway,
        jaeger: format!("http://{}", sink.query_addr),
        timeout: Duration::from_secs(5),
        control: Default::default(),
    };
    let started = Instant::now();
    let observations = observe(&lesson, &options, |_| {}).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "settle_ms is honoured"
    );
    let report = evaluate(&lesson, &observations);
    assert!(report.passed(), "{:#?}", report.findings);

    sink.shutdown().await;
    let seen = seen.lock().unwrap();
    assert_eq!(seen.headers.len(), 5);
    for headers in &seen.headers {
        assert_eq!(headers["baggage"], "request.source=lab");
        let traceparent = headers["traceparent"].to_str().unwrap();
        assert!(traceparent.ends_with("-00"), "{traceparent}");
    }
    let spread = seen.at[4] - seen.at[0];
    assert!(
        spread >= Duration::from_millis(380),
        "paced at 10/s: {spread:?}"
    );
}

/// A gateway that does not answer is conclusive at the first request.
#[tokio::test]
async fn an_unreachable_gateway_stops_the_scenario_at_once() {
    let sink = lab::sink::start(lab::sink::SinkConfig::ephemeral())
        .await
        .unwrap();
    let lesson = spec("title: t\nrequests: [{ path: /orders, repeat: 50 }]\n");
    let options = CheckOptions {
        gateway: "http://127.0.0.1:9".to_string(),
        jaeger: format!("http://{}", sink.query_addr),
        timeout: Duration::from_secs(30),
        control: Default::default(),
    };
    let started = Instant::now();
    let observations = observe(&lesson, &options, |_| {}).await.unwrap();
    assert_eq!(observations.len(), 1);
    assert!(matches!(observations[0].response, Outcome::Unreachable(_)));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(keys(&evaluate(&lesson, &observations)), ["gateway-down"]);
    sink.shutdown().await;
}

#[test]
fn value_types_still_matter_next_to_patterns() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: api-gateway\n      name: POST /orders\n      attributes: [{{ key: http.response.status_code, type: int64, matches: '^2' }}]\n"
    ));
    assert!(evaluate(&lesson, &[observed(Some(healthy_order()))]).passed());
    let mut trace = healthy_order();
    let root = find_mut(&mut trace, "api-gateway", "POST /orders");
    for a in root
        .attributes
        .iter_mut()
        .filter(|a| a.key == "http.response.status_code")
    {
        a.value = Value::Int(500);
    }
    assert_eq!(
        keys(&evaluate(&lesson, &[observed(Some(trace))])),
        ["no-match"]
    );
}
