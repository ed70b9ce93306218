//! The check keys and findings lessons 09-12 added (issue 20), each on a
//! hand-made config or trace: collector configs that have the thing in a
//! form that does not work (not-in-pipeline, misplaced-setting,
//! wrong-setting, keeps-everything, combined-policies, wrong-level,
//! pipeline-order), the equivalents that pass (OTTL, numeric_attribute, the
//! resource processor), `first:`, `says:`, a span's `resource:` attributes,
//! and the sampling findings: a phase sent marked "sampled", requests sent
//! marked "not sampled", fragments that are not kept traces.

mod common;

use common::*;
use lab::check::diagnosis::Cause;
use lab::check::engine::{evaluate, Observation, Report};
use lab::check::spec::Spec;
use lab::model::{TraceId, Value};

/// Judges `config` against the `expect:` list of a collector check, in a
/// temporary folder that goes when the judge does.
struct Judge {
    dir: tempfile::TempDir,
    lesson: Spec,
}

impl Judge {
    fn new(name: &str, expect: &str) -> Judge {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lab-c-{name}-"))
            .tempdir()
            .unwrap();
        let lesson = spec(&format!(
            "{HEAD}collector:\n  file: c.yaml\n  expect:\n{expect}"
        ));
        Judge { dir, lesson }
    }

    fn judge(&self, config: &str) -> (Report, Vec<(bool, String)>) {
        std::fs::write(self.dir.path().join("c.yaml"), config).unwrap();
        let mut report = Report::default();
        let lines = lab::check::collector::check(
            self.dir.path(),
            self.lesson.collector.as_ref().unwrap(),
            &mut report,
        );
        (report, lines)
    }

    fn report(&self, config: &str) -> Report {
        self.judge(config).0
    }
}

/// Lesson 12's expectations, as its check.yaml has them.
const PIPELINE_EXPECT: &str = "    - { processor: attributes, action: { key: user.email, action: hash } }
    - { processor: attributes, action: { key: code.file.path, action: delete } }
    - { processor: attributes, action: { key: thread.id, action: delete } }
    - { processor: resource, action: { key: deployment.environment.name, action: [insert, upsert] } }
    - { first: memory_limiter, says: memory_limiter first }
";

const ATTRIBUTES: &str = "  attributes:
    actions:
      - { key: user.email, action: hash }
      - { key: code.file.path, action: delete }
      - { key: thread.id, action: delete }
";

const RESOURCE: &str = "  resource:
    attributes:
      - { key: deployment.environment.name, value: w, action: insert }
";

fn config(processors: &str, pipeline: &str) -> String {
    format!(
        "processors:\n  memory_limiter: {{}}\n  batch: {{}}\n{processors}service:\n  pipelines:\n    traces: {{ receivers: [otlp], processors: [{pipeline}], exporters: [otlp] }}\n    metrics: {{ receivers: [otlp], processors: [memory_limiter, batch], exporters: [otlp] }}\n"
    )
}

#[test]
fn the_environment_on_the_resource_passes_on_every_span_is_the_wrong_level() {
    let judge = Judge::new("level", PIPELINE_EXPECT);
    let right = config(
        &format!("{ATTRIBUTES}{RESOURCE}"),
        "memory_limiter, resource, attributes, batch",
    );
    let (report, lines) = judge.judge(&right);
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(lines[4], (true, "memory_limiter first".to_string()));

    // The old lesson: the environment inserted by the attributes processor.
    let on_spans = config(
        &format!(
            "{ATTRIBUTES}      - {{ key: deployment.environment.name, value: w, action: insert }}\n"
        ),
        "memory_limiter, attributes, batch",
    );
    let report = judge.report(&on_spans);
    assert_eq!(keys(&report), ["wrong-level"], "{:#?}", report.findings);
    assert!(report.findings[0].problem.contains(
        "`attributes` sets `deployment.environment.name` on the attributes of every span"
    ));

    // The other way round: the e-mail hashed among the resource attributes.
    let on_resource = config(
        "  attributes:\n    actions:\n      - { key: code.file.path, action: delete }\n      - { key: thread.id, action: delete }\n  resource:\n    attributes:\n      - { key: user.email, action: hash }\n      - { key: deployment.environment.name, value: w, action: upsert }\n",
        "memory_limiter, resource, attributes, batch",
    );
    let report = judge.report(&on_resource);
    assert_eq!(keys(&report), ["wrong-level"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("changes `user.email` among the resource attributes"));
}

#[test]
fn a_processor_defined_but_not_in_a_traces_pipeline_is_named() {
    let judge = Judge::new("unused", PIPELINE_EXPECT);
    let report = judge.report(&config(
        &format!("{ATTRIBUTES}{RESOURCE}"),
        "memory_limiter, batch",
    ));
    assert_eq!(
        keys(&report),
        ["not-in-pipeline", "not-in-pipeline"],
        "{:#?}",
        report.findings
    );
    // Listed in the metrics pipeline only: spans never pass it.
    let metrics_only = config(
        &format!("{ATTRIBUTES}{RESOURCE}"),
        "memory_limiter, resource, batch",
    )
    .replace(
        "metrics: { receivers: [otlp], processors: [memory_limiter, batch]",
        "metrics: { receivers: [otlp], processors: [memory_limiter, attributes, batch]",
    );
    let report = judge.report(&metrics_only);
    assert_eq!(keys(&report), ["not-in-pipeline"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("`attributes` is listed in `metrics` only"));
}

#[test]
fn settings_under_the_wrong_key_and_another_action_are_named() {
    let judge = Judge::new("settings", PIPELINE_EXPECT);
    // The resource processor written like the attributes processor.
    let report = judge.report(&config(
        &format!(
            "{ATTRIBUTES}{}",
            RESOURCE.replace("    attributes:", "    actions:")
        ),
        "memory_limiter, resource, attributes, batch",
    ));
    assert_eq!(
        keys(&report),
        ["misplaced-setting"],
        "{:#?}",
        report.findings
    );
    assert!(report.findings[0]
        .problem
        .contains("`resource` lists its changes under `actions`"));
    // Deleting the e-mail is not hashing it; `update` never adds a key.
    let report = judge.report(&config(
        &format!(
            "{}{}",
            ATTRIBUTES.replace("action: hash", "action: delete"),
            RESOURCE.replace("action: insert", "action: update")
        ),
        "memory_limiter, resource, attributes, batch",
    ));
    assert_eq!(
        keys(&report),
        ["wrong-setting", "wrong-setting"],
        "{:#?}",
        report.findings
    );
}

#[test]
fn memory_limiter_must_be_first_and_a_missing_processor_is_not_an_order_problem() {
    let judge = Judge::new("order", PIPELINE_EXPECT);
    let report = judge.report(&config(
        &format!("{ATTRIBUTES}{RESOURCE}"),
        "resource, attributes, memory_limiter, batch",
    ));
    assert_eq!(keys(&report), ["pipeline-order"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("its processors are [resource, attributes, memory_limiter, batch]"));

    // `before` says nothing when one of the two is not there at all: the
    // missing processor has its own finding.
    let before = Judge::new(
        "before",
        "    - { processor: attributes }\n    - { before: [memory_limiter, attributes] }\n",
    );
    let report = before.report(&config("", "memory_limiter, batch"));
    assert_eq!(
        keys(&report),
        ["collector-config"],
        "{:#?}",
        report.findings
    );
    let report = before.report(&config(ATTRIBUTES, "attributes, memory_limiter, batch"));
    assert_eq!(keys(&report), ["pipeline-order"], "{:#?}", report.findings);
}

#[test]
fn a_transform_processor_with_the_same_ottl_statements_passes() {
    let judge = Judge::new("transform", PIPELINE_EXPECT);
    let grouped = "  transform:
    trace_statements:
      - context: span
        statements:
          - set(span.attributes[\"user.email\"], SHA256(span.attributes[\"user.email\"])) where span.attributes[\"user.email\"] != nil
          - delete_matching_keys(span.attributes, \"^code\\\\..*\")
          - delete_key(attributes, \"thread.id\")
      - context: resource
        statements:
          - set(attributes[\"deployment.environment.name\"], \"w\")
";
    let report = judge.report(&config(grouped, "memory_limiter, transform, batch"));
    assert!(report.passed(), "{:#?}", report.findings);
    // The basic form: one list, the context from each path.
    let flat = "  transform:
    trace_statements:
      - 'set(span.attributes[\"user.email\"], SHA1(span.attributes[\"user.email\"]))'
      - 'delete_key(span.attributes, \"code.file.path\")'
      - 'delete_matching_keys(span.attributes, \"^thread\\\\.\")'
      - 'set(resource.attributes[\"deployment.environment.name\"], \"w\")'
";
    let report = judge.report(&config(flat, "memory_limiter, transform, batch"));
    assert!(report.passed(), "{:#?}", report.findings);
    // The environment set on every span: the wrong level again.
    let per_span = flat.replace(
        "resource.attributes[\"deployment.environment.name\"]",
        "span.attributes[\"deployment.environment.name\"]",
    );
    assert_ne!(per_span, flat);
    let report = judge.report(&config(&per_span, "memory_limiter, transform, batch"));
    assert_eq!(keys(&report), ["wrong-level"], "{:#?}", report.findings);
    // The hash of another attribute written into it is no hash of it.
    let other = flat.replace(
        "SHA1(span.attributes[\"user.email\"])",
        "SHA1(span.attributes[\"user.id\"])",
    );
    assert_ne!(other, flat);
    let report = judge.report(&config(&other, "memory_limiter, transform, batch"));
    assert_eq!(
        keys(&report),
        ["collector-config"],
        "{:#?}",
        report.findings
    );
    // A pattern that misses the key is no delete of it.
    let missed = flat.replace("^thread\\\\.", "^threads\\\\.");
    let report = judge.report(&config(&missed, "memory_limiter, transform, batch"));
    assert_eq!(
        keys(&report),
        ["collector-config"],
        "{:#?}",
        report.findings
    );
}

/// Lesson 11's expectations, as its check.yaml has them.
const POLICY_EXPECT: &str =
    "    - { processor: tail_sampling, no_policy: always_sample, says: nothing keeps every trace }
    - { processor: tail_sampling, policy: { type: status_code, status_code: ERROR }, says: errors }
    - { processor: tail_sampling, policy: { type: latency, threshold_ms: { min: 200, max: 1000 } } }
    - { processor: tail_sampling, policy: { type: probabilistic, percentage: 10 } }
";

fn policies(list: &str) -> String {
    format!(
        "processors:\n  memory_limiter: {{}}\n  tail_sampling:\n    decision_wait: 15s\n    policies:\n{list}service:\n  pipelines:\n    traces: {{ processors: [memory_limiter, tail_sampling] }}\n"
    )
}

const THREE: &str =
    "      - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
      - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
      - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
";

#[test]
fn policies_are_described_in_words_and_the_placeholder_keeps_everything() {
    let judge = Judge::new("words", POLICY_EXPECT);
    let (report, lines) = judge.judge(&policies(THREE));
    assert!(report.passed(), "{:#?}", report.findings);
    assert_eq!(lines[0].1, "nothing keeps every trace");
    assert_eq!(lines[1].1, "errors");
    // No setting name or value of the answer in what the learner reads.
    for (_, line) in &lines {
        for code in ["status_codes", "threshold_ms", "sampling_percentage"] {
            assert!(!line.contains(code), "{line}");
        }
    }
    let report = judge.report(&policies(&format!(
        "{THREE}      - {{ name: keep-everything, type: always_sample }}\n"
    )));
    assert_eq!(
        keys(&report),
        ["keeps-everything"],
        "{:#?}",
        report.findings
    );
}

#[test]
fn settings_beside_the_type_are_misplaced_not_missing() {
    let judge = Judge::new("beside", POLICY_EXPECT);
    let beside = "      - { name: errors, type: status_code, status_codes: [ERROR] }
      - { name: slow, type: latency, threshold_ms: 1000 }
      - { name: rest, type: probabilistic, sampling_percentage: 10 }
";
    let report = judge.report(&policies(beside));
    assert_eq!(
        keys(&report),
        ["misplaced-setting"; 3],
        "{:#?}",
        report.findings
    );
    let first = &report.findings[0].problem;
    assert!(
        first.contains("policy `errors` has `status_codes` beside its `type`"),
        "{first}"
    );
    // The message does not repeat the learner's own shape as the answer.
    assert!(!first.contains("status_codes: [ERROR]"), "{first}");
    assert!(!first.contains("has no a "), "{first}");
}

#[test]
fn policies_inside_one_and_are_combined_and_a_fraction_is_not_a_percentage() {
    let judge = Judge::new("and", POLICY_EXPECT);
    let anded = "      - name: all
        type: and
        and:
          and_sub_policy:
            - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }
            - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
            - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
";
    let report = judge.report(&policies(anded));
    assert_eq!(
        keys(&report),
        ["combined-policies"; 3],
        "{:#?}",
        report.findings
    );
    let report = judge.report(&policies(
        &THREE.replace("sampling_percentage: 10", "sampling_percentage: 0.1"),
    ));
    assert_eq!(keys(&report), ["wrong-setting"], "{:#?}", report.findings);
    assert!(report.findings[0]
        .problem
        .contains("a percentage, so it keeps 0.1 % of the traces (one in 1000)"));
    // A threshold of 0 keeps every trace.
    let report = judge.report(&policies(
        &THREE.replace("threshold_ms: 1000", "threshold_ms: 0"),
    ));
    assert_eq!(
        keys(&report),
        ["keeps-everything"],
        "{:#?}",
        report.findings
    );
}

#[test]
fn errors_and_slow_traces_may_be_kept_by_ottl_or_the_http_status() {
    let judge = Judge::new("ottl", POLICY_EXPECT);
    let ottl = "      - { name: failed, type: ottl_condition, ottl_condition: { error_mode: ignore, span: ['span.status.code == STATUS_CODE_ERROR'] } }
      - { name: slow, type: ottl_condition, ottl_condition: { span: ['end_time_unix_nano - start_time_unix_nano > 1_000_000_000'] } }
      - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
";
    let report = judge.report(&policies(ottl));
    assert!(report.passed(), "{:#?}", report.findings);
    let duration = ottl.replace(
        "end_time_unix_nano - start_time_unix_nano > 1_000_000_000",
        "span.end_time - span.start_time > Duration(\"800ms\")",
    );
    assert_ne!(duration, ottl);
    let report = judge.report(&policies(&duration));
    assert!(report.passed(), "{:#?}", report.findings);
    let too_slow = ottl.replace("1_000_000_000", "5_000_000_000");
    let report = judge.report(&policies(&too_slow));
    assert_eq!(keys(&report), ["wrong-setting"], "{:#?}", report.findings);

    let http = "      - { name: failed, type: numeric_attribute, numeric_attribute: { key: http.response.status_code, min_value: 500, max_value: 599 } }
      - { name: slow, type: latency, latency: { threshold_ms: 1000 } }
      - { name: rest, type: probabilistic, probabilistic: { sampling_percentage: 10 } }
";
    let report = judge.report(&policies(http));
    assert!(report.passed(), "{:#?}", report.findings);
    // 4xx only, or inverted: not the errors.
    for wrong in [
        "min_value: 400, max_value: 499",
        "min_value: 500, max_value: 599, invert_match: true",
    ] {
        let report = judge.report(&policies(
            &http.replace("min_value: 500, max_value: 599", wrong),
        ));
        assert_eq!(
            keys(&report),
            ["wrong-setting"],
            "{wrong}: {:#?}",
            report.findings
        );
    }
    // An OTTL condition on something else is not blamed.
    let other = ottl.replace(
        "span.status.code == STATUS_CODE_ERROR",
        "attributes[\"x\"] == \"y\"",
    );
    let report = judge.report(&policies(&other));
    assert_eq!(
        keys(&report),
        ["collector-config"],
        "{:#?}",
        report.findings
    );
}

#[test]
fn a_span_resource_attribute_is_read_from_its_process() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: api-gateway\n      name: POST /orders\n      attributes:\n        - {{ key: deployment.environment.name, absent: true }}\n      resource:\n        - {{ key: deployment.environment.name, type: string }}\n"
    ));
    let run = |on_resource: bool| {
        let mut trace = healthy_order();
        let gateway = find_mut(&mut trace, "api-gateway", "POST /orders");
        let env = attr("deployment.environment.name", s("workshop"));
        if on_resource {
            gateway.process.tags.push(env);
        } else {
            gateway.attributes.push(env);
        }
        let mut obs = Observation::answered("POST /orders", 201, Some(trace_id(TRACE_ID)));
        obs.trace = Some(trace);
        evaluate(&lesson, &[obs])
    };
    assert!(run(true).passed(), "{:#?}", run(true).findings);
    let report = run(false);
    assert_eq!(
        keys(&report),
        ["attribute-present", "attribute-missing"],
        "{:#?}",
        report.findings
    );
    assert!(report.findings[1]
        .problem
        .contains("resource attribute deployment.environment.name is missing"));
}

/// Lesson 09's check: 100 orders without a traceparent, 12 sent marked
/// "sampled", 12 marked "not sampled". `trace(phase, i)` is what the
/// backend holds for request `i` of `phase`.
fn head_run(trace: impl Fn(usize, usize) -> Option<lab::model::Trace>) -> Report {
    let path = format!(
        "{}/../lessons/09-head-sampling/check.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let lesson = Spec::load(std::path::Path::new(&path)).unwrap();
    let mut observations = Vec::new();
    for (phase, sent) in [(0, 100), (1, 12), (2, 12)] {
        for i in 0..sent {
            let id = TraceId::parse(&format!("{:016x}{:016x}", phase + 1, i + 1)).unwrap();
            let mut obs = Observation::answered("POST /orders", 201, Some(id.clone()));
            if phase == 0 {
                obs.sent_trace_id = None;
            }
            if phase == 2 {
                obs.expect_trace = lab::check::spec::ExpectTrace::Absent;
            }
            obs.phase = phase;
            obs.trace = trace(phase, i).map(|mut t| {
                t.trace_id = id.clone();
                t
            });
            observations.push(obs);
        }
    }
    evaluate(&lesson, &observations)
}

fn whole() -> lab::model::Trace {
    healthy_order()
}

/// The part of a healthy trace below the gateway (what order-service
/// records when it ignores the gateway's "not sampled").
fn below_gateway() -> lab::model::Trace {
    let mut trace = healthy_order();
    trace.spans.retain(|s| s.service() != "api-gateway");
    trace
}

#[test]
fn lesson_09_passes_a_quarter_kept_whole_and_every_decision_followed() {
    let report = head_run(|phase, i| match phase {
        0 => (i % 4 == 0).then(whole),
        1 => Some(whole()),
        _ => None,
    });
    assert!(report.passed(), "{:#?}", report.findings);
    assert!(
        report
            .phases
            .contains(&"phase 2: 12 of 12 requests sent marked \"sampled\" traced".to_string()),
        "{:?}",
        report.phases
    );
}

#[test]
fn lesson_09_names_a_gateway_that_ignores_its_callers_decision() {
    // traceidratio at the gateway: a quarter of everything, whatever the caller said.
    let report = head_run(|phase, i| (i % 4 == 0 || (phase == 2 && i == 1)).then(whole));
    assert_eq!(keys(&report), ["parent-ignored"], "{:#?}", report.findings);
    assert_eq!(
        report.findings[0].cause,
        Cause::ParentIgnored {
            service: "api-gateway".into()
        }
    );
    let problem = &report.findings[0].problem;
    assert!(
        problem.starts_with("api-gateway decides again: "),
        "{problem}"
    );
    assert!(
        problem.contains("9 of 12 requests sent marked \"sampled\" left no trace"),
        "{problem}"
    );
    assert!(
        problem.contains(
            "of 12 requests sent marked \"not sampled\" were recorded from api-gateway on"
        ),
        "{problem}"
    );
}

#[test]
fn lesson_09_a_fragment_is_not_a_kept_trace_and_one_service_is_one_finding() {
    // The gateway keeps a quarter; order-service keeps everything (always_on):
    // the rest become traces without their root.
    let report = head_run(|phase, i| match phase {
        0 if i % 4 == 0 => Some(whole()),
        1 => Some(whole()),
        _ => Some(below_gateway()),
    });
    // Not "100 of 100 traced": the share counts kept traces only.
    assert_eq!(report.sampled, Some((25, 100)), "{:#?}", report.findings);
    assert_eq!(
        keys(&report),
        ["fragment", "parent-ignored"],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.findings[0].count, 75, "{:#?}", report.findings);
    assert!(report.findings[1]
        .problem
        .starts_with("order-service decides again: 12 of 12 requests sent marked \"not sampled\""));
}

#[test]
fn the_same_mismatch_on_a_span_with_other_values_is_one_finding() {
    let lesson = spec(&format!(
        "{HEAD}trace:\n  spans:\n    - service: api-gateway\n      name: POST /orders\n      attributes:\n        - {{ key: sampling.ratio, matches: '^(1|0\\.[0-9]+)$' }}\n"
    ));
    let observations: Vec<Observation> = [5.0, 2.5, 1.6666666666666667]
        .iter()
        .enumerate()
        .map(|(i, ratio)| {
            let id = TraceId::parse(&format!("{:032x}", i + 1)).unwrap();
            let mut trace = healthy_order();
            trace.trace_id = id.clone();
            find_mut(&mut trace, "api-gateway", "POST /orders")
                .attributes
                .push(attr("sampling.ratio", Value::Float(*ratio)));
            let mut obs = Observation::answered("POST /orders", 201, Some(id));
            obs.trace = Some(trace);
            obs
        })
        .collect();
    let report = evaluate(&lesson, &observations);
    assert_eq!(keys(&report), ["no-match"], "{:#?}", report.findings);
    assert_eq!(report.findings[0].count, 3);
}

#[test]
fn a_collector_expectation_needs_something_to_check() {
    let error = Spec::parse(&format!(
        "{HEAD}collector:\n  file: c.yaml\n  expect:\n    - {{ says: nothing }}\n"
    ))
    .unwrap_err();
    assert!(
        error.contains("an expectation needs `processor`, `before` or `first`"),
        "{error}"
    );
}
