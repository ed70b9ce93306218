//! A lesson's unit tests (`unit_tests` in check.yaml): run once its traces
//! pass, because some behaviour (a sampler over minutes of traffic) is
//! proven faster and more exactly on a clock the test controls.

use std::path::Path;
use std::process::Command;

use super::diagnosis::Cause;
use super::outcome::Report;
use super::spec::UnitTestsSpec;

/// Runs `cargo test -p <package> --lib -- <filter>` in `root`; a failure
/// (or no test run at all) becomes a finding naming the failed tests.
pub fn run(root: &Path, spec: &UnitTestsSpec, report: &mut Report, say: impl Fn(&str)) {
    let args = ["test", "-p", &spec.package, "--lib", "--", &spec.filter];
    let command = format!("cargo {}", args.join(" "));
    say(&format!("running the lesson's unit tests: {command}"));
    // The failed assertions are the message; a backtrace per test buries them.
    let output = match Command::new("cargo")
        .args(args)
        .current_dir(root)
        .env("RUST_BACKTRACE", "0")
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            report.add(
                None,
                format!("cannot run `{command}`: {e}"),
                Cause::UnitTests,
            );
            return;
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let failed: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test ")?.strip_suffix(" ... FAILED"))
        .collect();
    let ran = stdout
        .lines()
        .any(|l| l.starts_with("test ") && l.ends_with(" ... ok"));
    if output.status.success() && ran {
        return;
    }
    let problem = if !failed.is_empty() {
        format!("`{command}`: failed: {}", failed.join(", "))
    } else if output.status.success() {
        format!(
            "`{command}` ran no test: is the filter `{}` right?",
            spec.filter
        )
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        format!("`{command}` did not run: {last}")
    };
    // The assertion messages of the failed tests, as cargo printed them.
    print!("{}", failure_details(&stdout));
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
