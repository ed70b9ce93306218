//! scripts/dev-up.sh's own refusals, which happen before it builds or
//! starts anything: an environment line it cannot read names its file and
//! line; a bad LAB_PORT_BASE or lesson is a sentence. And what it shows of
//! a service that exits at start-up: a panic's message, not its backtrace.

use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

/// A scratch root holding only the scripts (dev-up needs nothing else to
/// refuse), removed when it drops.
fn scratch(name: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("lab-devup-{name}-"))
        .tempdir()
        .unwrap();
    let root = dir.path();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::create_dir_all(root.join("scripts/lib")).unwrap();
    for file in ["scripts/dev-up.sh", "scripts/lib/common.sh"] {
        std::fs::copy(repo.join(file), root.join(file)).unwrap();
    }
    std::fs::create_dir_all(root.join(".lab")).unwrap();
    dir
}

fn dev_up(root: &Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = Command::new("bash")
        .arg(root.join("scripts/dev-up.sh"))
        .env_remove("LAB_LESSON")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn an_unreadable_env_line_names_its_file_and_line() {
    let dir = scratch("env");
    let root = dir.path();
    std::fs::write(
        root.join(".lab/order-service.env"),
        "# mine\nOTEL_TRACES_SAMPLER=always_on\n\nexport RUST_LOG=debug\n",
    )
    .unwrap();
    let (ok, text) = dev_up(root, &[]);
    assert!(!ok);
    assert!(
        text.contains(
            ".lab/order-service.env:4: cannot read \"export RUST_LOG=debug\": expected KEY=VALUE"
        ),
        "{text}"
    );
    assert!(
        !text.contains("building"),
        "it stops before building: {text}"
    );
}

#[test]
fn a_lesson_env_line_is_read_the_same_way() {
    let dir = scratch("lesson");
    let root = dir.path();
    let env = root.join("lessons/09-head-sampling/env");
    std::fs::create_dir_all(&env).unwrap();
    std::fs::write(
        env.join("api-gateway.env"),
        "OTEL_TRACES_SAMPLER parentbased_traceidratio\n",
    )
    .unwrap();
    std::fs::write(root.join(".lab/lesson"), "09-head-sampling\n").unwrap();
    let (ok, text) = dev_up(root, &[]);
    assert!(!ok);
    assert!(
        text.contains("lessons/09-head-sampling/env/api-gateway.env:1: cannot read"),
        "{text}"
    );

    let (ok, text) = dev_up(root, &[("LAB_LESSON", "42-nothing")]);
    assert!(!ok);
    assert!(
        text.contains("lesson 42-nothing (from .lab/lesson or LAB_LESSON) does not exist"),
        "{text}"
    );
}

#[test]
fn a_bad_port_base_or_prefix_is_refused() {
    let dir = scratch("base");
    let root = dir.path();
    let (ok, text) = dev_up(root, &[("LAB_PORT_BASE", "80")]);
    assert!(
        !ok && text.contains("LAB_PORT_BASE=80 is not a port number between 1024 and 65000"),
        "{text}"
    );
    let (ok, text) = dev_up(root, &[("LAB_DB_PREFIX", "Bad-Prefix")]);
    assert!(
        !ok && text.contains("may hold only a-z, 0-9 and _"),
        "{text}"
    );
}

/// dev-up's `new_log_lines`, run on its own over `log` (what a service
/// wrote since it was started).
fn new_log_lines(name: &str, log: &str) -> String {
    let dir = scratch(name);
    let root = dir.path();
    std::fs::write(root.join("svc.log"), log).unwrap();
    let script = format!(
        "declare -A LOG_OFFSET=(); LOGS={}; eval \"$(sed -n '/^new_log_lines() {{/,/^}}/p' {})\"; new_log_lines svc",
        root.display(),
        root.join("scripts/dev-up.sh").display()
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_service_that_panics_at_start_up_shows_the_message_not_the_backtrace() {
    let mut log = String::from("{\"message\":\"starting\"}\n");
    log.push_str("thread 'main' panicked at inventory-service/src/main.rs:36:5:\n");
    log.push_str("Unable to install global subscriber: SetGlobalDefaultError\n");
    log.push_str("stack backtrace:\n");
    for frame in 0..60 {
        log.push_str(&format!("  {frame}: some::frame\n"));
    }
    let shown = new_log_lines("panic", &log);
    assert!(shown.contains("{\"message\":\"starting\"}"), "{shown}");
    assert!(
        shown.contains("panicked at inventory-service/src/main.rs:36:5"),
        "{shown}"
    );
    assert!(
        shown.contains("Unable to install global subscriber"),
        "{shown}"
    );
    assert!(!shown.contains("some::frame"), "{shown}");

    // No panic: the last 40 lines, as before.
    let log: String = (1..=50).map(|n| format!("line {n}\n")).collect();
    let shown = new_log_lines("tail", &log);
    assert_eq!(shown.lines().count(), 40, "{shown}");
    assert_eq!(shown.lines().next(), Some("line 11"));
}
