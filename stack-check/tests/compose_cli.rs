//! The real compose CLI agrees that the files are valid: `docker compose
//! config -q` (Compose v2) and/or Debian's `docker-compose config -q` (v1),
//! whichever is installed. Neither needs a Docker engine for `config`.
//! `scripts/test.sh` (and so CI) installs Debian's docker-compose when
//! neither is there, so this test runs there and can fail; under a bare
//! `cargo test` without either (or `WORKSHOP_NO_INSTALL=1`), it is skipped
//! and says so on stderr.

mod common;

use std::io::Write;
use std::process::Command;

use common::repo_root;

/// The CLIs to try, as program + leading arguments.
const CLIS: &[&[&str]] = &[&["docker", "compose"], &["docker-compose"]];

/// The file combinations learners run.
const VARIANTS: &[&[&str]] = &[
    &["docker-compose.yml"],
    &["docker-compose.yml", "docker-compose.tail-sampling.yml"],
];

fn installed(cli: &[&str]) -> bool {
    Command::new(cli[0])
        .args(&cli[1..])
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Written straight to stderr: the test harness hides `println!` and
/// `eprintln!` output of passing tests, and a skip must not be silent.
fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "\n[compose_cli] {message}");
}

#[test]
fn compose_cli_accepts_the_stack_files() {
    let available: Vec<&[&str]> = CLIS.iter().copied().filter(|c| installed(c)).collect();
    if available.is_empty() {
        note("SKIPPED: neither `docker compose` nor `docker-compose` is installed; only stack-check's own checks ran (apt-get install docker-compose to enable this test)");
        return;
    }
    for cli in available {
        for files in VARIANTS {
            let mut command = Command::new(cli[0]);
            command.args(&cli[1..]).current_dir(repo_root());
            for file in *files {
                command.args(["-f", file]);
            }
            // With the optional profile, so Prometheus is validated too.
            command.args(["--profile", "metrics", "config", "-q"]);
            let output = command.output().expect("run the compose CLI");
            assert!(
                output.status.success(),
                "`{} -f {} config -q` failed:\n{}{}",
                cli.join(" "),
                files.join(" -f "),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        note(&format!(
            "`{} config -q` accepts docker-compose.yml and its tail-sampling override",
            cli.join(" ")
        ));
    }
}
