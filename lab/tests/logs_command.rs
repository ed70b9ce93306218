//! `cargo lab logs <trace-id>` against the real binaries: a scratch
//! workshop root holding only dev-up's scripts; `scripts/dev-up.sh` starts
//! the four service binaries (built here, in this test's profile, and run
//! through `LAB_BIN_DIR`) on their own ports and databases, writing
//! `.lab/logs/<service>.log` as it does for a learner; one order goes
//! through the gateway; then the real `lab logs` binary reads its lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

const SERVICES: [&str; 4] = [
    "inventory-service",
    "user-service",
    "order-service",
    "api-gateway",
];

/// The directory of this build's `lab` binary, where the service binaries
/// are built too (dev-up's `LAB_BIN_DIR`).
fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_lab"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds (or brings up to date) the four service binaries beside `lab`:
/// a stale binary would test old code.
fn build_services() {
    let dir = bin_dir();
    let mut command = Command::new(env!("CARGO"));
    command
        .args(["build", "--quiet", "--bins"])
        .env("CARGO_TARGET_DIR", dir.parent().unwrap());
    if dir.ends_with("release") {
        command.arg("--release");
    }
    for service in SERVICES {
        command.args(["-p", service]);
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "building the service binaries");
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A base port with seven free ports above it (dev-up's `LAB_PORT_BASE`).
fn free_port_base() -> u16 {
    for _ in 0..200 {
        // Below Linux's ephemeral range (32768 and up): a port there can be
        // taken by any outgoing connection between a stop and a restart.
        let base = 20_000 + 10 * (rand::random::<u16>() % 1_270);
        if (base..base + 7).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return base;
        }
    }
    panic!("no 7 free consecutive ports found");
}

/// A workshop root with only the scripts; `dev-down --wipe` and removal on drop.
struct Scratch {
    dir: TempDir,
    env: Vec<(&'static str, String)>,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lab-logs-{name}-"))
            .tempdir()
            .unwrap();
        let root = dir.path();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        std::fs::create_dir_all(root.join("scripts/lib")).unwrap();
        for file in [
            "scripts/dev-up.sh",
            "scripts/dev-down.sh",
            "scripts/lib/common.sh",
        ] {
            std::fs::copy(repo.join(file), root.join(file)).unwrap();
        }
        let mut env = vec![
            ("LAB_ROOT", root.to_string_lossy().to_string()),
            ("NO_COLOR", "1".to_string()),
        ];
        if let Ok(url) = std::env::var("TEST_DATABASE_URL") {
            env.push(("DATABASE_URL", url));
        }
        if let Ok(url) = std::env::var("TEST_REDIS_URL") {
            env.push(("REDIS_URL", url));
        }
        Scratch { dir, env }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .current_dir(self.root())
            .args(args)
            .env_remove("LAB_LESSON")
            .env_remove("LAB_JAEGER")
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// The real `lab logs ...`, in this root.
    fn lab_logs(&self, args: &[&str]) -> Output {
        let mut all = vec!["logs"];
        all.extend_from_slice(args);
        self.run(env!("CARGO_BIN_EXE_lab"), &all)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // `dir` drops after this runs: the services are stopped before
        // their folder is removed.
        if self.root().join(".lab/run").is_dir() {
            let out = self.run("bash", &["scripts/dev-down.sh", "--wipe"]);
            if !out.status.success() {
                eprintln!("dev-down in {}: {}", self.root().display(), text(&out));
            }
        }
    }
}

/// `POST /orders` at the gateway; returns the response's trace id.
async fn post_order(gateway: &str) -> String {
    post_order_with(gateway, None).await
}

/// `POST /orders` with this `traceparent` header, if any.
async fn post_order_with(gateway: &str, traceparent: Option<&str>) -> String {
    let mut request = reqwest::Client::new().post(format!("{gateway}/orders"));
    if let Some(header) = traceparent {
        request = request.header("traceparent", header);
    }
    let response = request
        .json(&serde_json::json!({"user_id": "5", "product": "Mouse", "quantity": 1}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["trace_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn one_orders_lines_come_from_all_four_services_in_time_order() {
    let started = Instant::now();
    build_services();
    let mut scratch = Scratch::new("order");
    let base = free_port_base();
    scratch.env.push(("LAB_PORT_BASE", base.to_string()));
    scratch
        .env
        .push(("LAB_DB_PREFIX", format!("logs{}_", rand::random::<u32>())));
    scratch
        .env
        .push(("LAB_BIN_DIR", bin_dir().to_string_lossy().to_string()));
    scratch.env.push(("LAB_QUIET", "1".to_string()));
    let out = scratch.run("bash", &["scripts/dev-up.sh"]);
    assert!(out.status.success(), "dev-up:\n{}", text(&out));

    let trace_id = post_order(&format!("http://127.0.0.1:{base}")).await;

    // The lines are written while the request is served; give the last
    // ones (the gateway's, as its response leaves) a moment.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines: Vec<Value> = loop {
        let out = scratch.lab_logs(&[&trace_id, "--json"]);
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("--json prints JSON lines"))
            .collect();
        let services = SERVICES
            .iter()
            .filter(|s| lines.iter().any(|l| l["service"] == **s))
            .count();
        if out.status.success() && services == 4 {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "lab logs {trace_id} --json did not find all four services:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // Every line is the trace's, with a span id, and they come in time order.
    assert!(lines.iter().all(|l| l["trace_id"] == trace_id.as_str()));
    assert!(lines
        .iter()
        .all(|l| l["span_id"].as_str().map(str::len) == Some(16)));
    let times: Vec<u64> = lines
        .iter()
        .map(|l| lab::time::parse_us(l["timestamp"].as_str().unwrap()).unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "not in time order: {lines:#?}"
    );
    // Merged by time, not file by file: user-service is called first and
    // the gateway logs as its response leaves.
    assert_eq!(lines[0]["service"], "user-service", "{lines:#?}");
    assert_eq!(lines[lines.len() - 1]["service"], "api-gateway");

    // The readable form: a header, then one aligned row per line, in the
    // same order.
    let out = scratch.lab_logs(&[&trace_id]);
    let shown = text(&out);
    assert!(out.status.success(), "{shown}");
    assert!(
        shown.starts_with(&format!(
            "trace {trace_id} · {} log lines · 4 services · .lab/logs/\n\n",
            lines.len()
        )),
        "{shown}"
    );
    let rows: Vec<&str> = shown
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), lines.len(), "{shown}");
    for (row, line) in rows.iter().zip(&lines) {
        let service = line["service"].as_str().unwrap();
        let span = &line["span_id"].as_str().unwrap()[..8];
        let message = line["message"].as_str().unwrap();
        assert!(
            row.contains(&format!("  {service} ")) && row.contains(span) && row.contains(message),
            "row {row:?} is not {line}"
        );
    }
    assert!(
        shown.contains(&format!("the trace: cargo lab trace {trace_id}")),
        "{shown}"
    );
    // `latest`: the gateway's newest trace, as the trace backend (the sink
    // dev-up started) knows it once the spans are exported.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = scratch.lab_logs(&["latest"]);
        if text(&out).starts_with(&format!("trace {trace_id} · ")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lab logs latest:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // An unsampled request leaves lines and no trace: the footer says so,
    // and does not send the learner to `cargo lab trace` for it.
    let unsampled = format!("{:032x}", rand::random::<u128>() | 1);
    let header = format!("00-{unsampled}-00f067aa0ba902b7-00");
    let gateway = format!("http://127.0.0.1:{base}");
    assert_eq!(post_order_with(&gateway, Some(&header)).await, unsampled);
    let deadline = Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let out = scratch.lab_logs(&[&unsampled]);
        let shown = text(&out);
        if out.status.success() && shown.contains(" · 4 services · ") {
            break shown;
        }
        assert!(Instant::now() < deadline, "lab logs {unsampled}:\n{shown}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(!shown.contains("cargo lab trace"), "{shown}");
    assert!(
        shown.contains(&format!("no trace {unsampled} at ")) && shown.contains("not sampled"),
        "{shown}"
    );

    // A whole `traceresponse` value works too.
    let header = format!("00-{trace_id}-{}-01", lines[0]["span_id"].as_str().unwrap());
    assert!(scratch.lab_logs(&[&header]).status.success());

    // Bad input: a sentence and a non-zero exit.
    let out = scratch.lab_logs(&["not-a-trace"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("\"not-a-trace\" is not a trace id. A trace id is 32 hexadecimal digits"),
        "{said}"
    );
    let unknown = "0123456789abcdef0123456789abcdef";
    let out = scratch.lab_logs(&[unknown]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!(
            "no log line carries trace_id {unknown} in .lab/logs/"
        )),
        "{said}"
    );
    assert!(said.contains("Sampling is not a reason"), "{said}");

    // Stopped (and wiped), the stack leaves its logs: still readable, with a note.
    let out = scratch.run("bash", &["scripts/dev-down.sh", "--wipe"]);
    assert!(out.status.success(), "dev-down:\n{}", text(&out));
    if !lab::stack::docker_engine() {
        let out = scratch.lab_logs(&[&trace_id]);
        let shown = text(&out);
        assert!(out.status.success(), "{shown}");
        assert!(
            shown.starts_with(
                "no stack is running: reading the logs the last native run left in .lab/logs/\n"
            ),
            "{shown}"
        );
        assert!(
            shown.contains(&format!("{} log lines", lines.len())),
            "{shown}"
        );
    }
    eprintln!(
        "lab logs against the real binaries: {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn with_nothing_running_and_no_logs_it_says_how_to_start() {
    let scratch = Scratch::new("empty");
    // A bad id is refused first, whatever runs.
    let out = scratch.lab_logs(&["xyz"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not a trace id"),
        "{}",
        text(&out)
    );
    let out = scratch.lab_logs(&["4bf92f3577b34da6a3ce929d0e0e4736"]);
    assert!(!out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.starts_with("error: "), "{said}");
    if !lab::stack::docker_engine() {
        assert!(
            said.contains("no workshop runs here") && said.contains("scripts/dev-up.sh"),
            "{said}"
        );
    }
}
