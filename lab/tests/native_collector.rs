//! scripts/dev-up.sh with `otelcol-contrib` on PATH (DESIGN, Without
//! Docker). The real binary cannot be downloaded where these tests run, so a
//! stand-in takes its name (`tests/fixtures/otelcol-contrib`: it records its
//! arguments and config and listens like a server), and stand-in services
//! (scripts answering `--health`) take the services' place; `lab sink` is
//! the real one. Proven here: dev-up generates the collector config from
//! config/ with localhost endpoints (checked by stack-check's validators),
//! starts the collector on the OTLP ports with the sink 10000 ports higher,
//! keeps the services exporting to the collector, switches to the lesson's
//! config, refuses a config `otelcol-contrib validate` refuses, and
//! dev-down stops it; `cargo lab doctor` reports it. Without the binary,
//! dev-up says which lessons need it and how to get it.

use std::path::{Path, PathBuf};
use std::process::Command;

use stack_check::native::{check_native_collector, NativePorts};
use tempfile::TempDir;

const SERVICES: [&str; 4] = [
    "api-gateway",
    "order-service",
    "user-service",
    "inventory-service",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A base with P..P+8 and the sink's P+10004, P+10005 free.
fn free_port_base() -> u16 {
    for _ in 0..500 {
        // Below Linux's ephemeral range (32768 and up): a port there can be
        // taken by any outgoing connection between a stop and a restart.
        let base = 20_000 + 10 * (rand::random::<u16>() % 1_270);
        if (base..base + 9).all(free) && free(base + 10_004) && free(base + 10_005) {
            return base;
        }
    }
    panic!("no free port base found");
}

/// A scratch workshop: the scripts, config/, lesson 11's environment, and a
/// bin dir of stand-in services plus the real `lab`.
struct Scratch {
    dir: TempDir,
    bin: PathBuf,
    /// Holds the stand-in `otelcol-contrib` (first on PATH when wanted).
    fakes: PathBuf,
    /// Where the stand-in collector records its calls and config.
    record: PathBuf,
    base: u16,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix(&format!("lab-collector-{name}-"))
            .tempdir()
            .unwrap();
        let root = dir.path();
        let repo = repo();
        for file in [
            "scripts/dev-up.sh",
            "scripts/dev-down.sh",
            "scripts/lib/common.sh",
            "config/otel-collector.yaml",
            "config/otel-collector.tail-sampling.yaml",
            "lessons/11-tail-sampling/env/otel-collector.env",
        ] {
            let to = root.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(repo.join(file), to).unwrap();
        }
        let bin = root.join("stand-in-bin");
        std::fs::create_dir_all(&bin).unwrap();
        for service in SERVICES {
            // `--health` answers healthy; otherwise it runs until SIGTERM.
            let script = "#!/usr/bin/env bash\n[ \"${1:-}\" = --health ] && exit 0\n\
                          trap 'exit 0' TERM INT\nwhile :; do sleep 0.2; done\n";
            write_executable(&bin.join(service), script);
        }
        std::fs::copy(env!("CARGO_BIN_EXE_lab"), bin.join("lab")).unwrap();
        let fakes = root.join("stand-in-path");
        std::fs::create_dir_all(&fakes).unwrap();
        let fake = fakes.join("otelcol-contrib");
        std::fs::copy(repo.join("lab/tests/fixtures/otelcol-contrib"), &fake).unwrap();
        make_executable(&fake);
        let record = root.join("stand-in-record");
        std::fs::create_dir_all(&record).unwrap();
        Scratch {
            dir,
            bin,
            fakes,
            record,
            base: free_port_base(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Runs a script of the scratch copy with the stack's environment.
    fn run(&self, script: &str, collector: bool, extra: &[(&str, &str)]) -> (bool, String) {
        let mut path: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            // A real otelcol-contrib on this machine must not stand in for the stand-in.
            .filter(|dir| !dir.join("otelcol-contrib").exists())
            .collect();
        if collector {
            path.insert(0, self.fakes.clone());
        }
        let database = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let redis =
            std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        // `script` may carry arguments: "scripts/dev-down.sh --wipe".
        let mut words = script.split_whitespace();
        let out = Command::new("bash")
            .arg(self.root().join(words.next().unwrap()))
            .args(words)
            .env("PATH", std::env::join_paths(path).unwrap())
            .env("LAB_PORT_BASE", self.base.to_string())
            // Its own prefix: the sink creates `<prefix>lab`, and the wipe
            // on drop must not touch another test's.
            .env("LAB_DB_PREFIX", format!("standin{}_", self.base))
            .env("LAB_BIN_DIR", &self.bin)
            .env("DATABASE_URL", database)
            .env("REDIS_URL", redis)
            .env("FAKE_OTELCOL_DIR", &self.record)
            .env_remove("LAB_LESSON")
            .env_remove("LAB_NO_COLLECTOR")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .envs(extra.iter().copied())
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.root().join(file)).unwrap_or_default()
    }

    fn ports(&self) -> NativePorts {
        NativePorts {
            otlp_grpc: self.base + 4,
            otlp_http: self.base + 5,
            sink_grpc: self.base + 10_004,
            sink_http: self.base + 10_005,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // `dir` drops after this runs: the stack is stopped before its
        // folder is removed.
        // --wipe: the sink's database (`<prefix>lab`) goes too.
        let _ = self.run("scripts/dev-down.sh --wipe", false, &[]);
    }
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    make_executable(path);
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Running, not a zombie (an exited process nobody reaped yet keeps its /proc entry).
fn pid_alive(pid: &str) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.chars().next());
    matches!(state, Some(c) if c != 'Z' && c != 'X')
}

#[tokio::test]
async fn dev_up_runs_the_collector_in_front_of_the_sink() {
    let s = Scratch::new("up");
    let base = s.base;
    let (ok, text) = s.run("scripts/dev-up.sh", true, &[]);
    assert!(ok, "dev-up with a collector on PATH:\n{text}");
    assert!(
        text.contains(&format!(
            "starting otel-collector ({}/otelcol-contrib, config/otel-collector.yaml): OTLP {} /{} -> lab sink {}/{}",
            s.fakes.display(), base + 4, base + 5, base + 10_004, base + 10_005
        ).replace(" /", "/")),
        "{text}"
    );

    // Started with the generated config, which it was asked to validate first.
    let calls = std::fs::read_to_string(s.record.join("calls")).unwrap();
    let generated = s.root().join(".lab/run/otel-collector.yaml");
    let config_arg = format!("--config={}", generated.display());
    assert_eq!(
        calls.lines().collect::<Vec<_>>(),
        [format!("validate {}.next", config_arg), config_arg.clone()],
        "{calls}"
    );
    let config = std::fs::read_to_string(s.record.join("config.yaml")).unwrap();
    assert!(
        config.starts_with("# Generated by scripts/dev-up.sh from config/otel-collector.yaml"),
        "{config}"
    );
    // Receivers on the OTLP ports, the exporter to the sink, nothing on
    // 0.0.0.0; and the pipeline is the compose one (stack-check's validators).
    let problems = check_native_collector(&config, "otel-collector.yaml", s.ports());
    assert!(problems.is_empty(), "{problems:#?}\n{config}");
    assert!(
        config.contains(&format!("endpoint: 127.0.0.1:{}", base + 7)),
        "{config}"
    );
    assert!(
        config.contains(&format!("endpoint: 127.0.0.1:{}", base + 8)),
        "{config}"
    );
    assert!(
        config.contains("processors: [memory_limiter, resource, attributes, batch]"),
        "{config}"
    );

    // The sink took the +10000 ports and the query port; the stand-in the OTLP ones.
    for port in [base + 10_004, base + 10_005, base + 6, base + 4, base + 5] {
        assert!(listening(port), "nothing listens on {port}");
    }
    // The services still export to the collector's port.
    for service in SERVICES {
        let env = s.read(&format!(".lab/run/{service}.env"));
        assert!(
            env.contains(&format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{}",
                base + 5
            )),
            "{service}: {env}"
        );
    }
    let stack = s.read(".lab/run/stack.env");
    for line in [
        "COLLECTOR=otelcol-contrib".to_string(),
        "COLLECTOR_CONFIG=config/otel-collector.yaml".to_string(),
        format!("SINK_OTLP_HTTP_ENDPOINT=http://127.0.0.1:{}", base + 10_005),
        format!("COLLECTOR_HEALTH_URL=http://127.0.0.1:{}/", base + 7),
    ] {
        assert!(stack.lines().any(|l| l == line), "{line} in:\n{stack}");
    }

    // Doctor names the collector and finds its health check.
    let d = lab::doctor::run(s.root()).await.unwrap();
    let report = d.render(lab::style::Style::plain());
    assert!(
        report.contains("✓ otel-collector: otelcol-contrib (pid ")
            && report.contains("runs config/otel-collector.yaml"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "✓ otel-collector's health check answers at http://127.0.0.1:{}/",
            base + 7
        )),
        "{report}"
    );

    // Run again: nothing changed, nothing restarted.
    let (ok, text) = s.run("scripts/dev-up.sh", true, &[]);
    assert!(
        ok && text.contains("otel-collector is up to date"),
        "{text}"
    );
    let pid = s.read(".lab/run/otelcol.pid");

    // Lesson 11's environment switches it to the tail-sampling config.
    let (ok, text) = s.run(
        "scripts/dev-up.sh",
        true,
        &[("LAB_LESSON", "11-tail-sampling")],
    );
    assert!(
        ok && text.contains(
            "restarting otel-collector: its config changed (config/otel-collector.tail-sampling.yaml)"
        ),
        "{text}"
    );
    assert!(!pid_alive(&pid), "the old collector {pid} was stopped");
    let config = std::fs::read_to_string(s.record.join("config.yaml")).unwrap();
    assert!(config.contains("tail_sampling:"), "{config}");
    let problems = check_native_collector(&config, "tail-sampling", s.ports());
    assert!(problems.is_empty(), "{problems:#?}");
    // Doctor's test span would wait behind the tail sampler: it goes to the sink.
    let d = lab::doctor::run(s.root()).await.unwrap();
    let report = d.render(lab::style::Style::plain());
    assert!(
        report.contains("the collector runs tail sampling"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "a test span sent to http://127.0.0.1:{}/v1/traces was found by id",
            base + 10_005
        )),
        "{report}"
    );

    // dev-down stops it.
    let pid = s.read(".lab/run/otelcol.pid");
    assert!(pid_alive(&pid));
    let (ok, text) = s.run("scripts/dev-down.sh", true, &[]);
    assert!(ok && text.contains("stopping otelcol"), "{text}");
    assert!(!pid_alive(&pid), "the collector {pid} still runs");
    assert!(!listening(base + 5) && !listening(base + 10_005));
}

#[test]
fn a_config_the_collector_refuses_stops_dev_up_with_its_words() {
    let s = Scratch::new("refused");
    let file = s.root().join("config/otel-collector.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "processors: [memory_limiter, resource, attributes, batch]",
            "processors: [memory_limiter, refuse-me, batch]",
        ),
    )
    .unwrap();
    let (ok, text) = s.run("scripts/dev-up.sh", true, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("processors::refuse-me: unknown type")
            && text.contains("otelcol-contrib refuses config/otel-collector.yaml"),
        "{text}"
    );
    assert!(!s.root().join(".lab/run/otelcol.pid").exists());
}

#[test]
fn an_endpoint_dev_up_cannot_map_is_named_with_its_line() {
    let s = Scratch::new("unmapped");
    let file = s.root().join("config/otel-collector.yaml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("endpoint: 0.0.0.0:8889", "endpoint: 0.0.0.0:9999"),
    )
    .unwrap();
    let (ok, text) = s.run("scripts/dev-up.sh", true, &[]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("config/otel-collector.yaml:")
            && text.contains("dev-up cannot run this endpoint natively")
            && text.contains("0.0.0.0:9999"),
        "{text}"
    );
}

#[test]
fn without_the_binary_dev_up_says_which_lessons_need_it() {
    let s = Scratch::new("absent");
    let base = s.base;
    let (ok, text) = s.run("scripts/dev-up.sh", false, &[]);
    assert!(ok, "{text}");
    assert!(
        text.contains("no otelcol-contrib on PATH")
            && text.contains("Lessons 11 (tail sampling)")
            && text.contains("12 (the collector pipeline)")
            && text.contains("opentelemetry-collector-releases"),
        "{text}"
    );
    // The sink takes the OTLP ports itself.
    assert!(listening(base + 5) && !listening(base + 10_005));
    assert!(s.read(".lab/run/stack.env").contains("COLLECTOR=\n"));
}
