//! Keys and helpers the debugging mission (the last lesson) needs, on
//! hand-made traces: `starts_after_parent_ms` (a wait before a span, e.g.
//! for a pooled connection), the mission's evidence judged on one trace,
//! and its sealed faults.

mod common;

use common::*;
use lab::check::engine::{evaluate, Observation};
use lab::mission::seal::{self, Sealed};
use lab::mission::{evidence_report, shows};
use lab::model::{SpanKind, Trace};

const WAIT: &str = "title: t\nrequests: [{ method: POST, path: /orders }]\ntrace:\n  spans:\n    - service: inventory-service\n      name: UPDATE products\n      starts_after_parent_ms: 250\n";

/// A healthy order whose reservation waited `wait_ms` before its UPDATE.
fn waited(wait_ms: f64) -> Trace {
    let mut trace = healthy_order();
    let update = find_mut(&mut trace, "inventory-service", "UPDATE products");
    update.start_us += (wait_ms * 1000.0) as u64;
    trace
}

fn observed(trace: Trace) -> Observation {
    let mut obs = Observation::answered("POST /orders", 201, Some(trace.trace_id.clone()));
    obs.trace = Some(trace);
    obs
}

#[test]
fn starts_after_parent_ms_sees_a_wait_before_a_span() {
    let check = spec(WAIT);
    let report = evaluate(&check, &[observed(healthy_order())]);
    assert_eq!(report.cause_keys(), ["too-short"], "{:#?}", report.findings);
    assert!(
        report.findings[0]
            .problem
            .contains("expected at least 250 ms after its parent's, found 1.0 ms after"),
        "{}",
        report.findings[0].problem
    );
    assert!(evaluate(&check, &[observed(waited(400.0))]).passed());
    // Its parent not in the trace: no wait can be measured.
    let mut orphan = waited(400.0);
    orphan
        .spans
        .retain(|s| s.name != "POST /inventory/reservations");
    let report = evaluate(&check, &[observed(orphan)]);
    assert!(report.findings[0]
        .problem
        .contains("parent is not in the trace"));
}

#[test]
fn evidence_is_one_trace_that_shows_it() {
    let check = spec(WAIT);
    assert!(!evidence_report(&check, &healthy_order()).passed());
    assert!(evidence_report(&check, &waited(300.0)).passed());
    // Of a scenario's traces, one that shows it is enough: the learner names one.
    let observations = [observed(healthy_order()), observed(waited(300.0))];
    assert!(!evaluate(&check, &observations).passed());
    assert!(shows(&check, &observations).is_some());
    assert!(shows(&check, &observations[..1]).is_none());
}

#[test]
fn an_absent_span_is_evidence_too() {
    // A trace cut below the gateway (a downstream sampler dropped it).
    let check = spec(
        "title: t\nrequests: [{ method: POST, path: /orders }]\ntrace:\n  services: [api-gateway]\n  spans:\n    - { service: api-gateway, name: POST /orders, kind: server }\n    - { service: order-service, name: POST /orders, kind: server, optional: true, count: 0 }\n",
    );
    assert!(!evidence_report(&check, &healthy_order()).passed());
    let mut cut = healthy_order();
    cut.spans.retain(|s| s.service() == "api-gateway");
    assert!(evidence_report(&check, &cut).passed());
    assert!(cut.spans.iter().any(|s| s.kind == SpanKind::Client));
}

#[test]
fn a_sealed_fault_opens_only_with_its_code_and_hides_its_text() {
    let fault = Sealed {
        patch: "diff --git a/x/src/db.rs b/x/src/db.rs\n--- a/x/src/db.rs\n+++ b/x/src/db.rs\n@@ -1 +1 @@\n-a\n+tokio::time::sleep\n".to_string(),
        evidence: WAIT.to_string(),
    };
    let text = seal::seal("q1", &fault).unwrap();
    for word in ["sleep", "db.rs", "UPDATE", "diff --git"] {
        assert!(!text.contains(word), "{word} in:\n{text}");
    }
    let opened = seal::open("q1", &text).unwrap();
    assert_eq!(opened.patch, fault.patch);
    assert_eq!(opened.files(), ["x/src/db.rs"]);
    opened.evidence().unwrap();
    assert!(seal::open("q2", &text).is_err());
}
