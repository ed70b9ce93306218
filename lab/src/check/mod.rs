//! `cargo lab check N`: does the learner's workshop produce the traces
//! lesson N expects?
//!
//! - [`spec`]: the `check.yaml` format (requests to send, expected shape).
//! - [`scenario`]: sends the requests and fetches the traces (network).
//! - [`engine`]: compares expected and actual, in memory, into findings.
//! - [`outcome`]: observations and the report every check writes to.
//! - [`whole_trace`]: all services present? split-off traces? orphans?
//! - [`in_process`]: context lost inside a process, requests mixed up.
//! - [`matching`]: one expected span against the spans of a trace.
//! - [`relations`]: a span against its request's answer and its siblings' times.
//! - [`logs`]: log lines of a trace (`logs:`).
//! - [`collector`]: static assertions on a collector config.
//! - [`questions`]: questions answered with `--answer KEY=VALUE`.
//! - [`queries`]: the learner's SQL over the spans table (`queries:`), judged
//!   against the spans.
//! - [`sampling`]: the sampled share of requests (per load phase too), and
//!   whole sampled traces.
//! - [`unit_tests`]: a lesson's unit tests, run once its traces pass; or
//!   the learner's test, judged by breaking the code it tests (`mutants`).
//! - [`diagnosis`]: each finding's likely cause and fix.
//! - [`report`]: prints expected vs actual side by side, then the findings.

pub mod collector;
pub mod diagnosis;
pub mod engine;
pub mod in_process;
pub mod logs;
pub mod matching;
pub mod outcome;
pub mod queries;
pub mod questions;
pub mod relations;
pub mod report;
pub mod sampling;
pub mod scenario;
pub mod spec;
pub mod unit_tests;
pub mod whole_trace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::lessons;
use crate::native::{self, LessonEnv, UpToDate};
use crate::progress::{Progress, Result as LessonResult};
use crate::style::Style;
use diagnosis::Cause;
use outcome::Report;
use scenario::{CheckOptions, Control};
use spec::Spec;

/// What the command line adds to a check.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--answer KEY=VALUE`, as given.
    pub answers: Vec<String>,
    /// Write `{"passed": .., "causes": [..]}` here (the lesson gate reads it).
    pub report_json: Option<PathBuf>,
}

/// Whether lesson `which`'s check sends requests (so needs the services).
/// False only for a check of unit tests alone; when in doubt (no such
/// lesson, a bad check file), true: the check itself then says what is wrong.
pub fn needs_services(root: &Path, which: &str) -> bool {
    let Ok(lesson) = lessons::find(root, which) else {
        return true;
    };
    if !lesson.has_check() {
        return true;
    }
    Spec::load(&lesson.check_file()).map_or(true, |spec| {
        !spec.requests.is_empty() || spec.queries.is_some()
    })
}

/// Runs lesson `which`'s check, prints the report, records the result.
/// Returns whether it passed.
pub async fn run(root: &Path, which: &str, options: &CheckOptions) -> anyhow::Result<bool> {
    run_with(root, which, options, &RunOptions::default()).await
}

/// [`run`] with answers and a machine-readable report.
pub async fn run_with(
    root: &Path,
    which: &str,
    options: &CheckOptions,
    extra: &RunOptions,
) -> anyhow::Result<bool> {
    let lesson = lessons::find(root, which)?;
    if let Some(mission) = crate::mission::Mission::load(&lesson)? {
        return check_mission(root, &lesson, &mission, options, extra).await;
    }
    if !lesson.has_check() {
        anyhow::bail!(
            "lesson {} has no automatic check (no check.yaml)",
            lesson.slug
        );
    }
    let spec = Spec::load(&lesson.check_file())?;
    let answers = questions::parse_answers(&spec, &extra.answers)?;
    let style = Style::for_stdout();
    println!(
        "{}",
        style.bold(&format!("Lesson {:02}: {}", lesson.number, spec.title))
    );
    let started = crate::stack::active_lesson(root).as_deref() == Some(lesson.slug.as_str());
    // An exercise lesson not started: check main's finished version, record nothing.
    let finished_version = lesson.is_exercise() && !spec.exercise_pending() && !started;
    if finished_version {
        println!(
            "this is the finished version; `cargo lab start {:02}` begins the exercise",
            lesson.number
        );
    }
    // `passed`: the change is proven (the trace passed); a wrong answer to a
    // question fails the run but never turns a proven lesson into a failure.
    let record = |passed: bool| -> anyhow::Result<()> {
        if finished_version {
            return Ok(());
        }
        let mut progress = Progress::load(root)?;
        if passed {
            progress.mark_done(&lesson.slug);
        } else {
            progress.record(&lesson.slug, LessonResult::Failed);
        }
        progress.save(root)
    };

    let mut report = Report::default();
    // Static findings first: they are conclusive without sending a request.
    let mut live = true;
    if let Some(collector) = &spec.collector {
        println!("{}:", collector.file);
        for (met, line) in collector::check(root, collector, &mut report) {
            let mark = if met {
                style.green("✓")
            } else {
                style.red("✗")
            };
            println!("  {mark} {line}");
        }
        live = match collector::runs(&options.control) {
            collector::Runs::Native => true,
            collector::Runs::Compose => {
                println!(
                    "{}",
                    style.dim(&format!(
                        "compose: the collector must run {} (after an edit: `docker compose restart otel-collector`)",
                        collector.file
                    ))
                );
                true
            }
            collector::Runs::Nowhere => {
                println!(
                    "no collector runs here: checked {} statically.\nWith otelcol-contrib on PATH \
                     (scripts/dev-up.sh runs it) or in compose, the check also sends\nrequests \
                     through the collector and reads their traces.",
                    collector.file
                );
                if !spec.questions.is_empty() {
                    println!(
                        "No traces through the collector here: each question says where to find \
                         its answer."
                    );
                }
                false
            }
        };
    }
    // A check with no requests judges unit tests alone (`unit_tests` with
    // `mutants`, lesson 17): nothing to send, no services to start.
    if spec.requests.is_empty() && spec.queries.is_none() {
        live = false;
        println!(
            "{}",
            style.dim("unit tests only: the services need not run for this check")
        );
    }
    let lesson_env = (!started && lesson.env_dir().is_dir()).then(|| lesson.slug.clone());
    // The learner's own settings over the lesson's: (service, key, lesson's, mine).
    let mut overrides = Vec::new();
    if matches!(options.control, Control::Native { .. }) {
        for service in crate::stack::SERVICES {
            for (key, lesson_value, mine) in
                crate::stack::overridden(root, Some(&lesson.slug), service)
            {
                overrides.push((service, key.clone(), lesson_value.clone(), mine.clone()));
                println!(
                    "{}",
                    style.yellow(&format!(
                        "note: your .lab/{service}.env sets {key}={mine} over this lesson's \
                         {key}={lesson_value}; delete that line unless you mean it"
                    ))
                );
            }
        }
    }
    let mut options = options.clone();
    if let Control::Native {
        lesson_env: env, ..
    } = &mut options.control
    {
        env.clone_from(&lesson_env);
    }
    let brought_up = live && report.passed();
    if brought_up {
        if let Control::Native {
            root: native_root, ..
        } = &options.control
        {
            let env = match &lesson_env {
                Some(slug) => LessonEnv::Only(slug),
                None => LessonEnv::Active,
            };
            if native::dev_up(native_root, env)? == UpToDate::BuildFailed {
                report.add(
                    None,
                    "the workshop does not compile; the running services were left as they were"
                        .to_string(),
                    Cause::BuildFailed,
                );
            }
            if let Some(collector) = &spec.collector {
                collector::runs_file(native_root, &collector.file, &mut report)?;
            }
        }
    }
    if let (true, true, Some(queries)) = (brought_up, report.passed(), &spec.queries) {
        check_queries(root, &lesson, queries, &options, &mut report, style).await?;
        questions::check(&spec, &answers, &mut report);
    } else if brought_up && report.passed() {
        let observations =
            scenario::observe(&spec, &options, |line| println!("{}", style.dim(&line))).await?;
        let evaluated = engine::evaluate(&spec, &observations);
        report = evaluated;
        blame_overrides(&overrides, &mut report);
        questions::check(&spec, &answers, &mut report);
    } else if !live && report.passed() {
        questions::check(&spec, &answers, &mut report);
    }
    if let (true, Some(tests)) = (report.passed(), &spec.unit_tests) {
        unit_tests::run(root, tests, &mut report, |line| {
            println!("{}", style.dim(line))
        });
    }
    report.notes = spec.diagnosis.clone();
    // The lesson's environment applied to this run only: put the learner's back.
    if let (
        true,
        Control::Native {
            root: native_root, ..
        },
        Some(_),
    ) = (brought_up, &options.control, &lesson_env)
    {
        println!(
            "{}",
            style.dim("restoring your environment (the lesson's applied to this check only)")
        );
        native::dev_up(native_root, LessonEnv::Active)?;
    }
    println!();
    print!("{}", report::render(&report, style));
    if let Some(trace) = &report.shown {
        let client = crate::client::JaegerClient::new(&options.jaeger);
        println!(
            "{}",
            style.dim(&format!(
                "open the trace in a browser: {}",
                client.trace_url(&trace.trace_id)
            ))
        );
    }
    if let Some(path) = &extra.report_json {
        let json = serde_json::json!({ "passed": report.passed(), "causes": report.cause_keys() });
        std::fs::write(path, json.to_string())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    let only_wrong_answers = !report.passed()
        && report
            .findings
            .iter()
            .all(|f| matches!(f.cause, Cause::WrongAnswer { .. }));
    record(report.passed() || only_wrong_answers)?;
    if report.passed() {
        if !finished_version {
            println!(
                "Lesson {:02} is done. `cargo lab list` shows what is next.",
                lesson.number
            );
        }
    } else {
        println!("Stuck? `cargo lab hint {:02}` gives a hint.", lesson.number);
    }
    Ok(report.passed())
}

/// `queries:` lessons: the check's own traffic, then the learner's SQL
/// against the spans it produced (and every other span in the table).
async fn check_queries(
    root: &Path,
    lesson: &lessons::Lesson,
    spec: &queries::QueriesSpec,
    options: &CheckOptions,
    report: &mut Report,
    style: Style,
) -> anyhow::Result<()> {
    let url = crate::sql::database_url(root, None)?;
    println!(
        "{}",
        style.dim(
            "sending the check's traffic: 24 orders, 9 of them failing, 3 slow; and two probe \
             traces whose root spans share a span id"
        )
    );
    let answered = queries::send_traffic(&options.gateway).await?;
    // Where the services export: the collector or the sink (native), else
    // compose's collector.
    let otlp = crate::stack::NativeStack::load(root)?
        .and_then(|s| s.get("OTLP_HTTP_ENDPOINT").map(str::to_string))
        .unwrap_or_else(|| "http://127.0.0.1:4318".to_string());
    if let Err(e) = queries::send_probe(&otlp).await {
        println!(
            "{}",
            style.yellow(&format!(
                "could not send the check's probe spans to {otlp}: {e}"
            ))
        );
    }
    if answered == 0 {
        report.add(
            None,
            format!("the gateway at {} did not answer", options.gateway),
            Cause::GatewayDown,
        );
        return Ok(());
    }
    let spans = queries::wait_for_spans(&url, options.timeout.max(Duration::from_secs(20))).await?;
    println!(
        "{}",
        style.dim(&format!(
            "the spans table holds {spans} spans; running your queries"
        ))
    );
    queries::check(&lesson.dir, spec, &url, report, |ok, line| {
        let mark = if ok {
            style.green("✓")
        } else {
            style.red("✗")
        };
        println!("  {mark} {line}");
    })
    .await
}

/// A failed check with the learner's own settings over the lesson's: those
/// come first, because the services ran with them and the lesson's
/// expectations do not (`env-override`).
pub fn blame_overrides(overrides: &[(&str, String, String, String)], report: &mut Report) {
    if report.passed() {
        return;
    }
    for (i, (service, key, lesson_value, mine)) in overrides.iter().enumerate() {
        report.findings.insert(
            i,
            outcome::Finding::new(
                None,
                format!(
                    "your .lab/{service}.env sets {key}={mine} over this lesson's \
                     {key}={lesson_value}"
                ),
                Cause::EnvOverride {
                    service: service.to_string(),
                    key: key.clone(),
                },
            ),
        );
    }
}

/// The debugging mission: the answers are the check (the learner drives the
/// traffic and reads the traces), and the trace the answer names must show
/// the fault.
async fn check_mission(
    root: &Path,
    lesson: &lessons::Lesson,
    mission: &crate::mission::Mission,
    options: &CheckOptions,
    extra: &RunOptions,
) -> anyhow::Result<bool> {
    let style = Style::for_stdout();
    println!(
        "{}",
        style.bold(&format!("Lesson {:02}: {}", lesson.number, lesson.title()))
    );
    let verdict =
        crate::mission::check(root, lesson, mission, &extra.answers, &options.jaeger).await?;
    print!("{}", verdict.text);
    if let Some(path) = &extra.report_json {
        let causes: Vec<&str> = verdict.cause.into_iter().collect();
        let json = serde_json::json!({ "passed": verdict.passed, "causes": causes });
        std::fs::write(path, json.to_string())
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    Ok(verdict.passed)
}
