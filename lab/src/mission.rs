//! Lesson 15, the debugging mission: `cargo lab start 15 [--seed N]` hides
//! one fault in the running services, and `cargo lab check 15 --answer
//! service=... --answer cause=...` says whether the learner found it.
//!
//! The lesson's `mission.yaml` lists the faults. The answers are stored as
//! hashes, so reading the lesson does not give them away; a wrong answer
//! gets that fault's hint, never the answer. The services learn which fault
//! to run from `WORKSHOP_MISSION` (an opaque code, see
//! `service_kit::mission`), written to `.lab/lesson-<slug>.env`, which
//! `scripts/dev-up.sh` applies to every service while the lesson is active.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::lessons::Lesson;
use crate::progress::{Progress, Result as LessonResult};
use crate::stack;

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
    /// The `WORKSHOP_MISSION` code the services know it by.
    pub code: String,
    /// What the learner is told when the mission starts.
    pub symptom: String,
    /// Printed after a wrong answer.
    pub hint: String,
    /// `answer_hash(code, service, cause)` of the right answer.
    pub answer: String,
    /// `service_hash(code, service)`: a right service with a wrong cause
    /// is told so.
    pub service: String,
}

/// The hash of a whole answer, salted with the fault's code.
pub fn answer_hash(code: &str, service: &str, cause: &str) -> String {
    sha256(&format!("{code}/{service}/{cause}"))
}

/// The hash of the service part alone.
pub fn service_hash(code: &str, service: &str) -> String {
    sha256(&format!("{code}/{service}"))
}

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

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
}

/// `.lab/lesson-<slug>.env`: the environment dev-up adds for every service.
pub fn env_file(root: &Path, lesson: &Lesson) -> PathBuf {
    root.join(".lab")
        .join(format!("lesson-{}.env", lesson.slug))
}

fn seed_file(root: &Path, lesson: &Lesson) -> PathBuf {
    root.join(".lab")
        .join(format!("lesson-{}.seed", lesson.slug))
}

/// The seed of the running mission, if it was started.
pub fn seed(root: &Path, lesson: &Lesson) -> Option<u64> {
    std::fs::read_to_string(seed_file(root, lesson))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `cargo lab start 15 [--seed N]`.
pub fn start(
    root: &Path,
    lesson: &Lesson,
    mission: &Mission,
    seed: Option<u64>,
) -> anyhow::Result<String> {
    let seed = seed.unwrap_or_else(|| rand::random::<u64>() % 1000);
    let fault = mission.fault(seed);
    std::fs::create_dir_all(root.join(".lab"))?;
    let env = env_file(root, lesson);
    std::fs::write(
        &env,
        format!(
            "# Written by `cargo lab start {:02} --seed {seed}` for every service.\n\
             # The code names the hidden fault; the services know what it means.\n\
             WORKSHOP_MISSION={}\n",
            lesson.number, fault.code
        ),
    )
    .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", env.display()))?;
    std::fs::write(seed_file(root, lesson), format!("{seed}\n"))?;
    stack::set_active_lesson(root, Some(&lesson.slug))?;
    let mut progress = Progress::load(root)?;
    progress.record(&lesson.slug, LessonResult::Started);
    progress.save(root)?;
    Ok(format!(
        "Lesson {nn} ({title}) started with seed {seed}.\n\n\
         The report from support:\n  {symptom}\n\n\
         Bring the services up with the fault: scripts/dev-up.sh\n\
         (compose: add WORKSHOP_MISSION={code} to .env, then docker compose up -d)\n\n\
         Find the service and the cause from the traces, then answer:\n  \
         cargo lab check {nn} --answer service=... --answer cause=...\n\
         The words you may use are in lessons/{slug}/README.md.\n",
        nn = format_args!("{:02}", lesson.number),
        title = lesson.title(),
        symptom = fault.symptom,
        code = fault.code,
        slug = lesson.slug,
    ))
}

/// `cargo lab reset 15`: no fault any more.
pub fn reset(root: &Path, lesson: &Lesson) -> anyhow::Result<bool> {
    let mut removed = false;
    for file in [env_file(root, lesson), seed_file(root, lesson)] {
        match std::fs::remove_file(&file) {
            Ok(()) => removed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => anyhow::bail!("cannot remove {}: {e}", file.display()),
        }
    }
    Ok(removed)
}

/// What `check` found: passed, and the lines to print.
pub struct Verdict {
    pub passed: bool,
    pub text: String,
}

/// `cargo lab check 15 --answer service=... --answer cause=...`.
pub fn check(
    root: &Path,
    lesson: &Lesson,
    mission: &Mission,
    answers: &[String],
) -> anyhow::Result<Verdict> {
    let nn = format!("{:02}", lesson.number);
    let Some(seed) = seed(root, lesson) else {
        anyhow::bail!(
            "the mission is not running: `cargo lab start {nn}` hides a fault (add `--seed N` to \
             pick one), then `scripts/dev-up.sh` runs the services with it"
        );
    };
    let fault = mission.fault(seed);
    let given = parse(mission, answers)?;
    let (Some(service), Some(cause)) = (given.get("service"), given.get("cause")) else {
        let mut text = format!(
            "Mission running (seed {seed}). Answer both questions:\n  \
             cargo lab check {nn} --answer service=... --answer cause=...\n"
        );
        for (key, words) in &mission.vocabulary {
            text.push_str(&format!("  {key}: {}\n", words.join(", ")));
        }
        return Ok(Verdict {
            passed: false,
            text,
        });
    };
    let mut progress = Progress::load(root)?;
    let verdict = if answer_hash(&fault.code, service, cause) == fault.answer {
        progress.mark_done(&lesson.slug);
        Verdict {
            passed: true,
            text: format!(
                "✓ {service}, {cause}: that is it. Mission accomplished (seed {seed}).\n\
                 `cargo lab reset {nn}` takes the fault away; `cargo lab start {nn}` hides \
                 another one.\n"
            ),
        }
    } else {
        progress.record(&lesson.slug, LessonResult::Failed);
        let which = if service_hash(&fault.code, service) == fault.service {
            format!("{service} is the right service, but {cause} is not what is wrong with it.")
        } else {
            format!("Not {service}: look again at where the symptom starts.")
        };
        Verdict {
            passed: false,
            text: format!("✗ {which}\nHint: {}\n", fault.hint),
        }
    };
    progress.save(root)?;
    Ok(verdict)
}

/// `KEY=VALUE` answers, each key a question and each value a word of its
/// vocabulary.
fn parse(mission: &Mission, answers: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut given = BTreeMap::new();
    for item in answers {
        let Some((key, value)) = item.split_once('=') else {
            anyhow::bail!(
                "--answer {item:?} is not KEY=VALUE (e.g. --answer service=user-service)"
            );
        };
        let value = value.trim().to_ascii_lowercase();
        let Some(words) = mission.vocabulary.get(key.trim()) else {
            let keys: Vec<&str> = mission.vocabulary.keys().map(String::as_str).collect();
            anyhow::bail!("the mission asks for {}, not {key:?}", keys.join(" and "));
        };
        if !words.contains(&value) {
            anyhow::bail!(
                "{value:?} is not one of the answers for {key}: {}",
                words.join(", ")
            );
        }
        given.insert(key.trim().to_string(), value);
    }
    Ok(given)
}
