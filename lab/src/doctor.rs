//! `cargo lab doctor`: a preflight of everything a check relies on. Each
//! line is a finding; each problem comes with its fix; the exit status is
//! non-zero when there is any problem.
//!
//! Checked, in order: the mode (native, compose, nothing yet; a `docker`
//! CLI without an engine is native), the ports, Postgres and Redis, the
//! trace backend, a test span sent over OTLP and found by id, each
//! service's `/health`, binaries older than their sources, and the
//! environment in force.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::client::JaegerClient;
use crate::model::TraceId;
use crate::stack::{self, Mode, NativeStack, SERVICES};
use crate::style::Style;

/// One finding: fine, or a problem and its fix.
#[derive(Clone, Debug)]
pub struct Finding {
    pub ok: bool,
    pub what: String,
    /// For a problem: what to do.
    pub fix: Option<String>,
}

/// Everything doctor found.
#[derive(Clone, Debug, Default)]
pub struct Diagnosis {
    pub findings: Vec<Finding>,
}

impl Diagnosis {
    fn ok(&mut self, what: impl Into<String>) {
        self.findings.push(Finding {
            ok: true,
            what: what.into(),
            fix: None,
        });
    }

    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding {
            ok: false,
            what: what.into(),
            fix: Some(fix.into()),
        });
    }

    pub fn problems(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| !f.ok)
    }

    pub fn healthy(&self) -> bool {
        self.problems().next().is_none()
    }

    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            if finding.ok {
                out.push_str(&format!("{} {}\n", style.green("✓"), finding.what));
            } else {
                out.push_str(&format!("{} {}\n", style.red("✗"), finding.what));
                if let Some(fix) = &finding.fix {
                    out.push_str(&format!("  {} {fix}\n", style.cyan("fix:")));
                }
            }
        }
        let n = self.problems().count();
        out.push('\n');
        out.push_str(&match n {
            0 => style.green("All good: `cargo lab check 01` is a good next step."),
            1 => style.red("1 problem."),
            n => style.red(&format!("{n} problems.")),
        });
        out.push('\n');
        out
    }
}

/// Where doctor looks: the recorded native stack, else the defaults.
struct Target {
    mode: Mode,
    stack: Option<NativeStack>,
    jaeger: String,
    otlp_http: String,
}

/// Runs every check against the workshop at `root`.
pub async fn run(root: &Path) -> anyhow::Result<Diagnosis> {
    let mut d = Diagnosis::default();
    let target = mode(root, &mut d)?;
    ports(&target, &mut d);
    backing_services(&target, &mut d);
    if backend(&target, &mut d).await {
        test_span(&target, &mut d).await;
    }
    health(&target, &mut d).await;
    if target.mode == Mode::Native {
        stale_binaries(root, &mut d);
    }
    environment(root, &mut d);
    Ok(d)
}

fn mode(root: &Path, d: &mut Diagnosis) -> anyhow::Result<Target> {
    let stack = NativeStack::load(root)?;
    let mode = stack::detect_mode(root);
    let (jaeger, otlp_http) = match &stack {
        Some(s) => (
            s.jaeger()
                .unwrap_or(crate::client::DEFAULT_JAEGER)
                .to_string(),
            s.get("OTLP_HTTP_ENDPOINT")
                .unwrap_or("http://127.0.0.1:4318")
                .to_string(),
        ),
        None => (
            crate::client::DEFAULT_JAEGER.to_string(),
            "http://127.0.0.1:4318".to_string(),
        ),
    };
    let docker_cli = std::process::Command::new("docker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match mode {
        Mode::Native => {
            let s = stack.as_ref().expect("native mode has a stack");
            let base = s
                .get("PORT_BASE")
                .map(|b| format!(", ports from LAB_PORT_BASE={b}"))
                .unwrap_or_default();
            d.ok(format!(
                "native mode: started by scripts/dev-up.sh ({} profile{base}; trace backend: {})",
                s.get("PROFILE").unwrap_or("dev"),
                match s.get("BACKEND") {
                    Some("external") => "one dev-up found running, not its own sink",
                    _ => "lab sink",
                }
            ));
        }
        Mode::Compose => d.ok("compose mode: a Docker engine answers"),
        Mode::Nothing if docker_cli => d.ok(
            "native mode: a `docker` command exists but no Docker engine answers, so the \
             workshop runs natively (scripts/dev-up.sh)",
        ),
        Mode::Nothing => d.ok("native mode: no Docker here; scripts/dev-up.sh runs the workshop"),
    }
    Ok(Target {
        mode,
        stack,
        jaeger,
        otlp_http,
    })
}

fn port_of(target: &Target, service: &str) -> u16 {
    match &target.stack {
        Some(s) => s.port(service),
        None => stack::default_port(service),
    }
}

fn start_fix(target: &Target) -> &'static str {
    match target.mode {
        Mode::Compose => "start the stack: `docker compose up --build -d`",
        _ => "start the workshop: `scripts/dev-up.sh` (or `cargo lab check NN`, which starts it)",
    }
}

fn ports(target: &Target, d: &mut Diagnosis) {
    for service in SERVICES.iter().rev() {
        let port = port_of(target, service);
        let open = port_open(port);
        let ours = target.stack.as_ref().and_then(|s| s.pid(service));
        match (open, ours) {
            (true, Some(pid)) => d.ok(format!("port {port}: {service} (pid {pid}, started by dev-up)")),
            (true, None) if target.mode == Mode::Native => d.problem(
                format!("port {port} is held by a process dev-up did not start; {service} cannot use it"),
                format!(
                    "find it with `ss -ltnp 'sport = :{port}'` and stop it (docker compose down?), \
                     then run scripts/dev-up.sh"
                ),
            ),
            (true, None) => d.ok(format!("port {port}: something answers ({service}?)")),
            (false, _) => d.problem(
                format!("nothing listens on port {port} ({service})"),
                start_fix(target),
            ),
        }
    }
}

fn backing_services(target: &Target, d: &mut Diagnosis) {
    let (pg, redis) = match &target.stack {
        Some(s) => (
            s.get("PG_URL")
                .unwrap_or("postgres://postgres@127.0.0.1:5432")
                .to_string(),
            s.get("REDIS_URL")
                .unwrap_or("redis://127.0.0.1:6379")
                .to_string(),
        ),
        None if target.mode == Mode::Compose => (
            "postgres://postgres@127.0.0.1:15432".to_string(),
            "redis://127.0.0.1:16379".to_string(),
        ),
        None => (
            "postgres://postgres@127.0.0.1:5432".to_string(),
            "redis://127.0.0.1:6379".to_string(),
        ),
    };
    match host_port(&pg, 5432).and_then(|a| connect(&a)) {
        Some(_) => d.ok(format!("Postgres answers at {pg}")),
        None => d.problem(
            format!("Postgres does not answer at {pg}"),
            "start it (apt-get install postgresql, or `scripts/dev-up.sh` starts a throwaway one \
             when none runs), or set DATABASE_URL",
        ),
    }
    let pong = host_port(&redis, 6379)
        .and_then(|a| connect(&a))
        .and_then(|mut s| {
            s.write_all(b"PING\r\n").ok()?;
            let mut buf = [0u8; 16];
            let n = s.read(&mut buf).ok()?;
            buf[..n].starts_with(b"+PONG").then_some(())
        });
    match pong {
        Some(()) => d.ok(format!("Redis answers PING at {redis}")),
        None => d.problem(
            format!(
                "Redis does not answer at {redis} (user-service runs degraded, without its cache)"
            ),
            "start it (apt-get install redis-server), or set REDIS_URL",
        ),
    }
}

async fn backend(target: &Target, d: &mut Diagnosis) -> bool {
    match JaegerClient::new(&target.jaeger).services().await {
        Ok(services) => {
            d.ok(format!(
                "trace backend answers at {} ({} services known)",
                target.jaeger,
                services.len()
            ));
            true
        }
        Err(e) => {
            d.problem(
                format!(
                    "the trace backend is not reachable at {} ({e})",
                    target.jaeger
                ),
                match target.mode {
                    Mode::Compose => "start Jaeger: `docker compose up -d jaeger otel-collector`",
                    _ => "run scripts/dev-up.sh: it starts `lab sink` (OTLP in, Jaeger's API out)",
                },
            );
            false
        }
    }
}

/// Sends one span over OTLP/HTTP and looks it up by its trace id.
async fn test_span(target: &Target, d: &mut Diagnosis) {
    let (trace_id, body) = doctor_span();
    let url = format!("{}/v1/traces", target.otlp_http.trim_end_matches('/'));
    let sent = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => {}
        Ok(r) => {
            d.problem(
                format!(
                    "the OTLP receiver at {url} refused a test span ({})",
                    r.status()
                ),
                "is that port an OTLP/HTTP receiver? The services export to it.",
            );
            return;
        }
        Err(e) => {
            d.problem(
                format!(
                    "cannot send a test span to {url} ({})",
                    crate::client::root_cause(&e)
                ),
                "start the receiver (scripts/dev-up.sh starts lab sink; compose: otel-collector)",
            );
            return;
        }
    }
    let client = JaegerClient::new(&target.jaeger);
    let deadline = Instant::now() + Duration::from_secs(8);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = client.trace(&trace_id).await {
            d.ok(format!(
                "a test span sent to {url} was found by id ({trace_id})"
            ));
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    d.problem(
        format!(
            "a test span sent to {url} did not reach {} within 8 s",
            target.jaeger
        ),
        "the receiver and the query API are not the same backend: in compose, check the \
         collector's exporter to Jaeger (config/otel-collector.yaml) and its log",
    );
}

/// An OTLP request with one span of service `lab-doctor`, and its trace id.
fn doctor_span() -> (TraceId, Vec<u8>) {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    use prost::Message;

    let id: u128 = rand::random::<u128>().max(1);
    let now = crate::now_us() * 1_000;
    let span = Span {
        trace_id: id.to_be_bytes().to_vec(),
        span_id: rand::random::<u64>().max(1).to_be_bytes().to_vec(),
        name: "doctor test span".to_string(),
        kind: 1,
        start_time_unix_nano: now,
        end_time_unix_nano: now + 1_000,
        ..Span::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".to_string(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue("lab-doctor".to_string())),
                    }),
                    ..KeyValue::default()
                }],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    };
    let trace_id = TraceId::parse(&format!("{id:032x}")).expect("32 hex digits");
    (trace_id, request.encode_to_vec())
}

async fn health(target: &Target, d: &mut Diagnosis) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .expect("a client with a timeout");
    for service in SERVICES.iter().rev() {
        let port = port_of(target, service);
        let url = format!("http://127.0.0.1:{port}/health");
        match http.get(&url).send().await {
            Ok(r) => {
                let code = r.status().as_u16();
                let body: serde_json::Value = r.json().await.unwrap_or_default();
                let status = body["status"].as_str().unwrap_or("?").to_string();
                match (code, status.as_str()) {
                    (200, "ok") => d.ok(format!("{service} is healthy ({url})")),
                    (200, _) => d.ok(format!("{service} serves, {status} ({body})")),
                    _ => d.problem(
                        format!("{service} answers {code} on /health ({body})"),
                        format!(
                            "its Postgres is unreachable or it is still starting: read its log \
                             ({})",
                            log_hint(target, service)
                        ),
                    ),
                }
            }
            Err(_) => d.problem(
                format!("{service} does not answer at {url}"),
                match target.mode {
                    Mode::Compose => format!(
                        "`docker compose up -d {service}`, then `docker compose logs {service}`"
                    ),
                    _ => format!(
                        "scripts/dev-up.sh starts what is not running; if it stops again, read {}",
                        log_hint(target, service)
                    ),
                },
            ),
        }
    }
}

fn log_hint(target: &Target, service: &str) -> String {
    match target.mode {
        Mode::Compose => format!("`docker compose logs {service}`"),
        _ => format!(".lab/logs/{service}.log"),
    }
}

/// The newest modification time among a crate's sources.
fn newest_source(dir: &Path) -> Option<(SystemTime, PathBuf)> {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "toml" || e == "sql")
            {
                if let Ok(modified) = entry.metadata().and_then(|m| m.modified()) {
                    if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
                        newest = Some((modified, path));
                    }
                }
            }
        }
    }
    newest
}

/// Binaries in `.lab/bin` older than the sources they are built from.
pub fn stale_binaries(root: &Path, d: &mut Diagnosis) {
    let shared: Vec<_> = ["telemetry", "service-kit"]
        .iter()
        .filter_map(|c| newest_source(&root.join(c)))
        .collect();
    for service in SERVICES.iter().rev() {
        let binary = root.join(".lab").join("bin").join(service);
        let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        let newest = newest_source(&root.join(service))
            .into_iter()
            .chain(shared.iter().cloned())
            .max_by_key(|(t, _)| *t);
        match newest {
            Some((changed, file)) if changed > built => d.problem(
                format!(
                    "{service} runs a binary older than its sources ({} changed since)",
                    file.strip_prefix(root).unwrap_or(&file).display()
                ),
                "rebuild and restart what changed: `cargo lab check NN` or scripts/dev-up.sh",
            ),
            _ => d.ok(format!("{service}'s binary is newer than its sources")),
        }
    }
}

/// The lesson environment and the learner's env files, each read as dev-up does.
fn environment(root: &Path, d: &mut Diagnosis) {
    let active = stack::active_lesson(root);
    match &active {
        Some(slug) => d.ok(format!("active lesson environment: lessons/{slug}/env/")),
        None => d.ok("no lesson environment active"),
    }
    for service in SERVICES.iter().rev() {
        for file in stack::env_files(root, active.as_deref(), service) {
            let shown = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            match stack::parse_env_file(&file) {
                Ok(pairs) => {
                    let vars: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    d.ok(format!("{service}: {shown}: {}", vars.join(" ")));
                }
                Err(e) => d.problem(
                    format!("{e:#}"),
                    format!("write that line as KEY=VALUE or a # comment in {shown}"),
                ),
            }
        }
    }
}

fn host_port(url: &str, default: u16) -> Option<SocketAddr> {
    let rest = url.split("://").nth(1)?;
    let rest = rest.rsplit('@').next()?;
    let hostport = rest.split('/').next()?;
    let with_port = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:{default}")
    };
    with_port.to_socket_addrs().ok()?.next()
}

fn connect(addr: &SocketAddr) -> Option<TcpStream> {
    let stream = TcpStream::connect_timeout(addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(stream)
}

fn port_open(port: u16) -> bool {
    connect(&SocketAddr::from(([127, 0, 0, 1], port))).is_some()
}
