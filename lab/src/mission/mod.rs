//! The debugging mission (the last lesson): `cargo lab start NN [--seed N]`
//! hides one fault in the running services, and `cargo lab check NN --answer
//! service=... --answer cause=... --answer trace=<id>` says whether the
//! learner found it and shows it.
//!
//! The services' source knows nothing of the mission. The lesson's
//! `mission.yaml` lists the faults (symptom, hint, the answer as a hash);
//! each fault's patch and evidence are sealed in `faults/<code>.sealed`
//! ([`seal`]). `start` opens the fault, builds the services with it in a
//! copy of the tree and installs the binaries where dev-up runs them from
//! ([`build`]); `reset` takes them away. `check` accepts the right service
//! and cause only with a trace that shows the fault: the evidence's `trace`
//! shape, checked by the same engine as every lesson's check.

pub mod build;
pub mod seal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::check::engine::{evaluate, Observation, Report};
use crate::check::spec::Spec;
use crate::client::JaegerClient;
use crate::lessons::Lesson;
use crate::model::{Trace, TraceId};
use crate::native::{self, LessonEnv};
use crate::progress::{Progress, Result as LessonResult};
use crate::stack::{self, NativeStack};

/// `lessons/NN-slug/mission.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mission {
    /// The words an answer may use, per question (`service`, `cause`).
    pub vocabulary: BTreeMap<String, Vec<String>>,
    /// Seed N runs `faults[N % faults.len()]`.
    pub faults: Vec<Fault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// An opaque name: the file `faults/<code>.sealed` and the salt of the
    /// answer's hash. Never shown to the learner.
    pub code: String,
    /// What the learner is told when the mission starts.
    pub symptom: String,
    /// Printed from the second wrong answer on.
    pub hint: String,
    /// `answer_hash(code, service, cause)` of the right answer.
    pub answer: String,
}

/// The hash of a whole answer, salted with the fault's code.
pub fn answer_hash(code: &str, service: &str, cause: &str) -> String {
    Sha256::digest(format!("{code}/{service}/{cause}").as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The questions an answer needs, besides the vocabulary's.
pub const TRACE_KEY: &str = "trace";

impl Mission {
    pub fn file(lesson: &Lesson) -> PathBuf {
        lesson.dir.join("mission.yaml")
    }

    /// The lesson's mission, if it is one.
    pub fn load(lesson: &Lesson) -> anyhow::Result<Option<Mission>> {
        let path = Mission::file(lesson);
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let mission: Mission = serde_yaml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a valid mission file: {e}", path.display()))?;
        anyhow::ensure!(
            !mission.faults.is_empty(),
            "{} lists no faults",
            path.display()
        );
        for key in ["service", "cause"] {
            anyhow::ensure!(
                mission.vocabulary.contains_key(key),
                "{} has no `vocabulary.{key}`",
                path.display()
            );
        }
        Ok(Some(mission))
    }

    /// The fault a seed runs.
    pub fn fault(&self, seed: u64) -> &Fault {
        &self.faults[(seed % self.faults.len() as u64) as usize]
    }

    /// The right answer of `fault`, found by trying the vocabulary (tests).
    pub fn solve(&self, fault: &Fault) -> Option<(String, String)> {
        let services = &self.vocabulary["service"];
        let causes = &self.vocabulary["cause"];
        services.iter().find_map(|s| {
            causes
                .iter()
                .find(|c| answer_hash(&fault.code, s, c) == fault.answer)
                .map(|c| (s.clone(), c.clone()))
        })
    }

    /// Every fault's code, in seed order.
    pub fn codes(&self) -> Vec<String> {
        self.faults.iter().map(|f| f.code.clone()).collect()
    }
}

impl Fault {
    /// Its patch and evidence, opened.
    pub fn open(&self, lesson: &Lesson) -> anyhow::Result<seal::Sealed> {
        seal::load(lesson, &self.code)
    }

    /// Its evidence, as a check spec.
    pub fn evidence(&self, lesson: &Lesson) -> anyhow::Result<Spec> {
        self.open(lesson)?.evidence()
    }
}

fn lab_file(root: &Path, lesson: &Lesson, ext: &str) -> PathBuf {
    root.join(".lab")
        .join(format!("lesson-{}.{ext}", lesson.slug))
}

/// The seed of the running mission, if it was started.
pub fn seed(root: &Path, lesson: &Lesson) -> Option<u64> {
    std::fs::read_to_string(lab_file(root, lesson, "seed"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Wrong answers given to the running mission (`.lab/lesson-<slug>.tries`).
fn tries(root: &Path, lesson: &Lesson) -> u32 {
    std::fs::read_to_string(lab_file(root, lesson, "tries"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

fn remove(file: &Path) -> anyhow::Result<bool> {
    match std::fs::remove_file(file) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => anyhow::bail!("cannot remove {}: {e}", file.display()),
    }
}

/// The native stack, if dev-up started one here.
fn native_stack(root: &Path) -> Option<NativeStack> {
    NativeStack::load(root).ok().flatten()
}

/// Stops every service dev-up runs, then dev-up starts them all again: a
/// new mission restarts all four, so which ones changed says nothing.
fn restart_all(root: &Path, stack: &NativeStack) -> anyhow::Result<()> {
    for service in stack::SERVICES.iter().rev() {
        if stack.pid(service).is_some() {
            native::stop_service(root, service)?;
        }
    }
    match native::dev_up(root, LessonEnv::Active)? {
        native::UpToDate::Ready => Ok(()),
        native::UpToDate::BuildFailed => anyhow::bail!(
            "the workshop does not compile (cargo's errors are above); the services are stopped"
        ),
    }
}

/// `cargo lab start NN [--seed N]`.
pub fn start(
    root: &Path,
    lesson: &Lesson,
    mission: &Mission,
    seed: Option<u64>,
) -> anyhow::Result<String> {
    let nn = format!("{:02}", lesson.number);
    let seed = seed.unwrap_or_else(|| rand::random::<u64>() % 1000);
    let fault = mission.fault(seed);
    let sealed = fault.open(lesson)?;
    let stack = native_stack(root);
    let release = stack.as_ref().and_then(|s| s.get("PROFILE")) == Some("release");
    let started = std::time::Instant::now();
    println!(
        "Lesson {nn} ({}): hiding a fault (seed {seed}) in a copy of the services and building \
         it; the first time takes a few minutes, later ones well under one ...",
        lesson.title()
    );
    std::fs::create_dir_all(root.join(".lab"))?;
    build::build(root, lesson, &sealed, release)?;
    println!("built in {:.0} s", started.elapsed().as_secs_f64());
    remove(&lab_file(root, lesson, "tries"))?;
    std::fs::write(lab_file(root, lesson, "seed"), format!("{seed}\n"))?;
    stack::set_active_lesson(root, Some(&lesson.slug))?;
    let mut progress = Progress::load(root)?;
    progress.record(&lesson.slug, LessonResult::Started);
    progress.save(root)?;

    let running = match &stack {
        Some(stack) => {
            restart_all(root, stack)?;
            format!(
                "The services run with the fault now (scripts/dev-up.sh keeps them so until \
                 `cargo lab reset {nn}`)."
            )
        }
        None if stack::detect_mode(root) == stack::Mode::Compose => format!(
            "The mission runs the services natively. Stop compose's four services \
             (`docker compose stop api-gateway order-service user-service inventory-service`; \
             Jaeger and the collector can stay), then `scripts/dev-up.sh`: it runs them with \
             the fault and uses compose's trace backend. `cargo lab reset {nn}` and \
             `docker compose start` afterwards."
        ),
        None => {
            "Bring the services up: scripts/dev-up.sh (it runs them with the fault).".to_string()
        }
    };
    Ok(format!(
        "Lesson {nn} ({title}) started with seed {seed}.\n\n\
         The report from support:\n  {symptom}\n\n\
         {running}\n\n\
         Find the service and the cause from the traces, and a trace that shows them, then:\n  \
         cargo lab check {nn} --answer service=... --answer cause=... --answer trace=<trace id>\n\
         The words you may use are in lessons/{slug}/README.md.\n",
        title = lesson.title(),
        symptom = fault.symptom,
        slug = lesson.slug,
    ))
}

/// `cargo lab reset NN`: no fault any more; the services run the
/// workshop's own code again.
pub fn reset(root: &Path, lesson: &Lesson) -> anyhow::Result<String> {
    let mut removed = false;
    for ext in ["seed", "tries"] {
        removed |= remove(&lab_file(root, lesson, ext))?;
    }
    let had_binaries = build::remove_binaries(root, lesson)?;
    removed |= had_binaries;
    if stack::active_lesson(root).as_deref() == Some(lesson.slug.as_str()) {
        stack::set_active_lesson(root, None)?;
    }
    let mut progress = Progress::load(root)?;
    progress.forget_started(&lesson.slug);
    progress.save(root)?;
    let nn = format!("{:02}", lesson.number);
    if !removed {
        return Ok(format!("Lesson {nn} was not running: nothing to reset.\n"));
    }
    match native_stack(root) {
        Some(stack) if had_binaries => {
            restart_all(root, &stack)?;
            Ok(format!(
                "Lesson {nn}'s fault is gone: the services run the workshop's own code again.\n"
            ))
        }
        _ => Ok(format!(
            "Lesson {nn}'s fault is gone; the next `scripts/dev-up.sh` runs the services \
             without it.\n"
        )),
    }
}

/// What `check` found: passed, the lines to print, and why it failed
/// (`wrong-answer`, `no-evidence`, `no-trace`, `unanswered`).
pub struct Verdict {
    pub passed: bool,
    pub text: String,
    pub cause: Option<&'static str>,
}

impl Verdict {
    fn failed(cause: &'static str, text: String) -> Verdict {
        Verdict {
            passed: false,
            text,
            cause: Some(cause),
        }
    }
}

/// `cargo lab check NN --answer service=... --answer cause=... --answer
/// trace=<id>`: the trace is read from the backend at `jaeger`.
pub async fn check(
    root: &Path,
    lesson: &Lesson,
    mission: &Mission,
    answers: &[String],
    jaeger: &str,
) -> anyhow::Result<Verdict> {
    let nn = format!("{:02}", lesson.number);
    let Some(seed) = seed(root, lesson) else {
        anyhow::bail!(
            "the mission is not running: `cargo lab start {nn}` hides a fault (add `--seed N` to \
             pick one)"
        );
    };
    let fault = mission.fault(seed);
    let given = parse(mission, answers)?;
    let (Some(service), Some(cause), Some(trace_id)) = (
        given.get("service"),
        given.get("cause"),
        given.get(TRACE_KEY),
    ) else {
        let mut text = format!(
            "Mission running (seed {seed}). Answer with the service, the cause and a trace that \
             shows it:\n  cargo lab check {nn} --answer service=... --answer cause=... \
             --answer trace=<trace id>\n"
        );
        for (key, words) in &mission.vocabulary {
            text.push_str(&format!("  {key}: {}\n", words.join(", ")));
        }
        text.push_str(
            "  trace: the 32-digit id of a trace that shows the fault (from `cargo lab trace \
             latest`, the trace list on the backend's page, or a response's trace_id)\n",
        );
        return Ok(Verdict::failed("unanswered", text));
    };
    let id = TraceId::parse(trace_id).map_err(|_| {
        anyhow::anyhow!(
            "--answer trace={trace_id}: not a trace id (32 hexadecimal digits, as `cargo lab \
             trace latest` prints them)"
        )
    })?;
    let client = JaegerClient::new(jaeger);
    let Some(trace) = client.trace(&id).await? else {
        return Ok(Verdict::failed(
            "no-trace",
            format!(
                "✗ The trace backend at {} has no trace {id}. Give the id of a trace you saw \
                 (`cargo lab trace latest` prints the newest; the backend keeps recent ones \
                 only), then answer again. Nothing was counted.\n",
                client.base()
            ),
        ));
    };

    let mut progress = Progress::load(root)?;
    let verdict = if answer_hash(&fault.code, service, cause) != fault.answer {
        let tries = tries(root, lesson) + 1;
        std::fs::write(lab_file(root, lesson, "tries"), format!("{tries}\n"))?;
        let mut text = format!("✗ {service} with {cause}: that is not the fault.\n");
        if tries >= 2 {
            text.push_str(&format!("Hint: {}\n", fault.hint));
        } else {
            text.push_str(&format!(
                "Look again (`cargo lab hint {nn}` has general advice); from the next wrong \
                 answer on, a hint about this fault comes with it.\n"
            ));
        }
        Verdict::failed("wrong-answer", text)
    } else {
        let evidence = fault.evidence(lesson)?;
        let report = evidence_report(&evidence, &trace);
        if report.passed() {
            Verdict {
                passed: true,
                text: format!(
                    "✓ {service}, {cause}, and trace {id} shows it. Mission accomplished \
                     (seed {seed}).\n`cargo lab reset {nn}` takes the fault away; `cargo lab \
                     start {nn}` hides another one.\n"
                ),
                cause: None,
            }
        } else {
            let mut text = format!(
                "✗ Not accepted: trace {id} does not show {cause} in {service}. An answer \
                 needs a trace where it can be seen; in this one:\n"
            );
            let mut seen = Vec::new();
            for finding in &report.findings {
                let line = match &finding.span {
                    Some(span) => format!("{span}: {}", finding.problem),
                    None => finding.problem.clone(),
                };
                if !seen.contains(&line) {
                    text.push_str(&format!("  - {line}\n"));
                    seen.push(line);
                }
            }
            text.push_str(
                "Send the requests the report talks about, open a trace where the fault \
                 shows, and answer with its id.\n",
            );
            Verdict::failed("no-evidence", text)
        }
    };
    if verdict.passed {
        progress.mark_done(&lesson.slug);
    } else if !progress.is_done(&lesson.slug) {
        // A wrong answer after a pass does not turn the pass into a failure.
        progress.record(&lesson.slug, LessonResult::Failed);
    }
    progress.save(root)?;
    Ok(verdict)
}

/// The evidence's trace shape checked against one trace: no findings means
/// the trace shows the fault.
pub fn evidence_report(evidence: &Spec, trace: &Trace) -> Report {
    let observation = Observation {
        expected_status: None,
        trace: Some(trace.clone()),
        ..Observation::answered(
            &format!("trace {}", trace.trace_id),
            200,
            Some(trace.trace_id.clone()),
        )
    };
    evaluate(evidence, &[observation])
}

/// Whether any of a scenario's traces shows the fault: the evidence of a
/// fault is one trace (the one the learner names), not all of them.
pub fn shows(evidence: &Spec, observations: &[Observation]) -> Option<Trace> {
    observations
        .iter()
        .filter_map(|o| o.trace.as_ref())
        .find(|trace| evidence_report(evidence, trace).passed())
        .cloned()
}

/// `KEY=VALUE` answers: `service` and `cause` from the vocabulary, `trace` a
/// trace id. Values are trimmed and compared in lower case.
fn parse(mission: &Mission, answers: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut given = BTreeMap::new();
    for item in answers {
        let Some((key, value)) = item.split_once('=') else {
            anyhow::bail!(
                "--answer {item:?} is not KEY=VALUE (e.g. --answer service=user-service)"
            );
        };
        let key = key.trim().to_ascii_lowercase();
        let value = value.trim().to_ascii_lowercase();
        if key == TRACE_KEY {
            given.insert(key, value);
            continue;
        }
        let Some(words) = mission.vocabulary.get(&key) else {
            let mut keys: Vec<&str> = mission.vocabulary.keys().map(String::as_str).collect();
            keys.push(TRACE_KEY);
            anyhow::bail!("the mission asks for {}, not {key:?}", keys.join(", "));
        };
        // Natural spellings: `n+1`, `N_PLUS_ONE`, `slow query`.
        let spelled = value
            .replace(['_', ' '], "-")
            .replace("+1", "-plus-one")
            .replace('+', "-plus-");
        let Some(word) = words.iter().find(|w| **w == value || **w == spelled) else {
            anyhow::bail!(
                "{value:?} is not one of the answers for {key}: {}",
                words.join(", ")
            );
        };
        given.insert(key, word.clone());
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mission() -> Mission {
        serde_yaml::from_str(
            "vocabulary:\n  service: [order-service, user-service]\n  cause: [n-plus-one, slow-query]\n\
             faults: [{code: x, symptom: s, hint: h, answer: a}]\n",
        )
        .unwrap()
    }

    #[test]
    fn answers_accept_natural_spellings() {
        let m = mission();
        let answers = [
            "service=Order-Service".to_string(),
            "cause=N+1".to_string(),
            "trace=ABC".to_string(),
        ];
        let given = parse(&m, &answers).unwrap();
        assert_eq!(given["service"], "order-service");
        assert_eq!(given["cause"], "n-plus-one");
        assert_eq!(given["trace"], "abc");
        let given = parse(&m, &["cause=slow query".to_string()]).unwrap();
        assert_eq!(given["cause"], "slow-query");
        assert!(parse(&m, &["cause=slowness".to_string()]).is_err());
        assert!(parse(&m, &["where=here".to_string()]).is_err());
    }
}
