//! A lesson's unit tests (`unit_tests` in check.yaml), in one of two roles.
//!
//! - The tests judge the learner's code: they run once the traces pass,
//!   because some behaviour (a sampler over minutes of traffic) is proven
//!   faster and more exactly on a clock the test controls (`unit-tests`).
//! - The tests are the learner's work, and the check judges them
//!   (`mutants:`): the test must pass on the code as it is (`no-test`,
//!   `test-fails`), then fail on each small breakage of the code it tests,
//!   applied one at a time (`mutant-survived` names the first it lets
//!   through). A test that asserts nothing passes everywhere; this is how
//!   the check tells it from one that would catch a real regression.
//!
//! A breakage is an exact text replacement, found exactly once in its file
//! (`code-under-test-changed` otherwise): sturdier than a patch against a
//! file the learner may have touched. The file is put back byte for byte
//! after each run, on an error or a panic too (a guard), and a copy waits
//! in `.lab/mutant-backup` meanwhile, so a check killed half-way (Ctrl-C)
//! puts it back at the next start.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::diagnosis::Cause;
use super::outcome::Report;
use super::spec::{MutantSpec, UnitTestsSpec};

/// Where the original of a file under a breakage waits: its
/// repository-relative path, a newline, then its bytes.
pub const BACKUP: &str = ".lab/mutant-backup";

/// How one `cargo test` went.
#[derive(Debug, PartialEq, Eq)]
pub enum TestRun {
    /// Every test the filter selected passed, and there was at least one.
    Passed,
    /// It built and ran, but the filter selected no test.
    NoTest,
    /// These tests failed; `details` holds their assertion messages.
    Failed {
        failed: Vec<String>,
        details: String,
    },
    /// It did not build (or cargo could not run): the compiler's errors.
    DidNotBuild { errors: String },
}

/// Runs the lesson's unit tests in `root`, and with `mutants`, judges them;
/// every problem becomes a finding in `report`.
pub fn run(root: &Path, spec: &UnitTestsSpec, report: &mut Report, say: impl Fn(&str)) {
    if let Some(file) = recover(root) {
        say(&format!(
            "{file} was left broken on purpose by an interrupted check: put back as it was"
        ));
    }
    let command = command_line(spec);
    say(&format!("running the lesson's unit tests: {command}"));
    let outcome = cargo_test(root, spec);
    if spec.mutants.is_empty() {
        judge_code(&command, spec, outcome, report);
        return;
    }
    match outcome {
        TestRun::Passed => {}
        TestRun::NoTest => {
            report.add(
                None,
                format!(
                    "`{command}` ran no test: your test must be named so that `{}` selects it",
                    spec.filter
                ),
                Cause::NoTest,
            );
            return;
        }
        TestRun::Failed { failed, details } => {
            print!("{details}");
            report.add(
                None,
                format!(
                    "your test fails on the code as it is, before anything is broken: {}",
                    failed.join(", ")
                ),
                Cause::TestFails,
            );
            return;
        }
        TestRun::DidNotBuild { errors } => {
            print!("{errors}");
            report.add(
                None,
                format!("`{command}` does not build: the compiler's errors are above"),
                Cause::TestFails,
            );
            return;
        }
    }
    say("your test passes; now it must fail on each breakage of the code it tests");
    let total = spec.mutants.len();
    for (i, mutant) in spec.mutants.iter().enumerate() {
        let outcome = match with_mutant(root, mutant, || cargo_test(root, spec)) {
            Ok(outcome) => outcome,
            Err(problem) => {
                report.add(None, problem, Cause::CodeUnderTestChanged);
                return;
            }
        };
        match outcome {
            TestRun::Failed { details, .. } => {
                say(&format!(
                    "breakage {}/{total} ({}): your test fails, as it should:",
                    i + 1,
                    mutant.name
                ));
                // What the learner's test says about a real regression.
                for line in panic_message(&details) {
                    say(&format!("    {line}"));
                }
            }
            TestRun::Passed => {
                say(&format!(
                    "breakage {}/{total} ({}): your test still passes",
                    i + 1,
                    mutant.name
                ));
                report.add(
                    None,
                    format!("your test still passes when {}", mutant.why),
                    Cause::MutantSurvived {
                        name: mutant.name.clone(),
                    },
                );
                return;
            }
            TestRun::NoTest | TestRun::DidNotBuild { .. } => {
                report.add(
                    None,
                    format!(
                        "the check's breakage `{}` of {} does not build: the code there is not \
                         the lesson's any more",
                        mutant.name, mutant.file
                    ),
                    Cause::CodeUnderTestChanged,
                );
                return;
            }
        }
    }
    say(&format!(
        "your test caught all {total} breakages; {} is back as it was",
        files(&spec.mutants)
    ));
}

/// `cargo test -p <package> --lib -- <filter>`, as the learner would type it.
pub fn command_line(spec: &UnitTestsSpec) -> String {
    format!("cargo test -p {} --lib -- {}", spec.package, spec.filter)
}

/// Runs the filtered tests once.
pub fn cargo_test(root: &Path, spec: &UnitTestsSpec) -> TestRun {
    let args = ["test", "-p", &spec.package, "--lib", "--", &spec.filter];
    // The failed assertions are the message; a backtrace per test buries them.
    let output = match Command::new("cargo")
        .args(args)
        .current_dir(root)
        .env("RUST_BACKTRACE", "0")
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            return TestRun::DidNotBuild {
                errors: format!("cannot run cargo: {e}\n"),
            }
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .map(str::to_string)
        .collect();
    let ran = stdout
        .lines()
        .any(|l| l.starts_with("test ") && l.ends_with(" ... ok"));
    if !failed.is_empty() {
        TestRun::Failed {
            failed,
            details: failure_details(&stdout),
        }
    } else if output.status.success() {
        if ran {
            TestRun::Passed
        } else {
            TestRun::NoTest
        }
    } else {
        TestRun::DidNotBuild {
            errors: compiler_errors(&String::from_utf8_lossy(&output.stderr)),
        }
    }
}

/// Runs `test` with `mutant` applied to its file, then puts the file back
/// byte for byte, whatever happens (the guard's drop also runs on a panic).
/// `Err` says why the breakage could not be applied.
pub fn with_mutant<T>(
    root: &Path,
    mutant: &MutantSpec,
    test: impl FnOnce() -> T,
) -> Result<T, String> {
    let path = root.join(&mutant.file);
    let original = std::fs::read(&path).map_err(|e| format!("cannot read {}: {e}", mutant.file))?;
    let text = String::from_utf8_lossy(&original);
    let found = text.matches(mutant.find.as_str()).count();
    if found != 1 {
        let where_ = if found == 0 {
            "is gone"
        } else {
            "is there more than once"
        };
        return Err(format!(
            "the check breaks {} on purpose to see your test fail (`{}`), and the code it \
             changes {where_}: the code under test is not the lesson's any more",
            mutant.file, mutant.name
        ));
    }
    let broken = text.replacen(mutant.find.as_str(), &mutant.replace, 1);
    let _restore = Restore::new(root, &mutant.file, original)?;
    std::fs::write(&path, broken).map_err(|e| format!("cannot write {}: {e}", mutant.file))?;
    // Not the file's old modification time: the next build must see the
    // file as changed again, or cargo would keep the broken build.
    Ok(test())
}

/// Puts a file under a breakage back when dropped, then removes the backup.
struct Restore {
    path: PathBuf,
    backup: PathBuf,
    original: Vec<u8>,
}

impl Restore {
    fn new(root: &Path, file: &str, original: Vec<u8>) -> Result<Restore, String> {
        let backup = root.join(BACKUP);
        let mut saved = format!("{file}\n").into_bytes();
        saved.extend_from_slice(&original);
        if let Some(dir) = backup.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(&backup, saved)
            .map_err(|e| format!("cannot save a copy of {file} in {BACKUP}: {e}"))?;
        Ok(Restore {
            path: root.join(file),
            backup,
            original,
        })
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        match std::fs::write(&self.path, &self.original) {
            Ok(()) => {
                let _ = std::fs::remove_file(&self.backup);
            }
            Err(e) => eprintln!(
                "could not put {} back ({e}); its original is in {}: the first line is its path",
                self.path.display(),
                self.backup.display()
            ),
        }
    }
}

/// A breakage left behind by a check that was killed half-way: puts the
/// file back from `.lab/mutant-backup`; returns its path if it did.
pub fn recover(root: &Path) -> Option<String> {
    let backup = root.join(BACKUP);
    let saved = std::fs::read(&backup).ok()?;
    let newline = saved.iter().position(|b| *b == b'\n')?;
    let file = String::from_utf8_lossy(&saved[..newline]).to_string();
    std::fs::write(root.join(&file), &saved[newline + 1..]).ok()?;
    let _ = std::fs::remove_file(&backup);
    Some(file)
}

/// The lesson's tests judge the learner's code (no mutants): any failure
/// is `unit-tests`.
fn judge_code(command: &str, spec: &UnitTestsSpec, outcome: TestRun, report: &mut Report) {
    let problem = match outcome {
        TestRun::Passed => return,
        TestRun::Failed { failed, details } => {
            // The assertion messages of the failed tests, as cargo printed them.
            print!("{details}");
            format!("`{command}`: failed: {}", failed.join(", "))
        }
        TestRun::NoTest => format!(
            "`{command}` ran no test: is the filter `{}` right?",
            spec.filter
        ),
        TestRun::DidNotBuild { errors } => {
            let last = errors
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            format!("`{command}` did not run: {last}")
        }
    };
    report.add(None, problem, Cause::UnitTests);
}

/// The `---- name stdout ----` sections of a failed run.
fn failure_details(stdout: &str) -> String {
    let start = stdout.find("\nfailures:\n");
    let end = stdout.rfind("\nfailures:\n");
    match (start, end) {
        (Some(start), Some(end)) if end > start => stdout[start..end].to_string(),
        _ => String::new(),
    }
}

/// The first failed test's panic message (at most six lines), without the
/// `panicked at` line and the backtrace note.
fn panic_message(details: &str) -> Vec<&str> {
    details
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .take(6)
        .collect()
}

/// cargo's stderr from the first error on (the `Compiling` lines before it
/// say nothing), or its last lines when there is no `error`.
fn compiler_errors(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    let first = lines
        .iter()
        .position(|l| l.starts_with("error"))
        .unwrap_or(lines.len().saturating_sub(5));
    let mut out = lines[first..].join("\n");
    out.push('\n');
    out
}

/// The files the mutants change, for the last progress line.
fn files(mutants: &[MutantSpec]) -> String {
    let mut files: Vec<&str> = mutants.iter().map(|m| m.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    files.join(", ")
}
