//! The four service binaries, as a learner runs them: configured only
//! through the environment, exporting OTLP (http/protobuf and grpc) to a
//! real receiver (`lab sink`), and flushing every span on SIGTERM.
//!
//! Each service is its own process here, so `service.name` per span is the
//! real thing. The first test to need them runs `cargo build` for the four
//! service binaries (in the test's own profile), so they are never stale.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use integration_tests::{
    database_server_url, drop_databases, drop_streams, free_port, redis_url, unique_name,
};
use lab::sink::{RunningSink, SinkConfig};
use serde_json::{json, Value};
use tempfile::TempDir;

const SERVICES: [&str; 4] = [
    "inventory-service",
    "user-service",
    "order-service",
    "api-gateway",
];

/// The path of a service binary, built (or brought up to date) once per
/// test run: a stale binary would test old code.
fn binary(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let mut command = Command::new(env!("CARGO"));
        command.args(["build", "--quiet", "--bins"]);
        if profile_dir().ends_with("release") {
            command.arg("--release");
        }
        for service in SERVICES {
            command.args(["-p", service]);
        }
        let status = command.status().expect("cargo runs");
        assert!(status.success(), "building the service binaries");
    });
    profile_dir().join(name)
}

/// `target/<profile>/`, from this test's own path
/// (`target/<profile>/deps/binaries-xxxx`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

struct Processes {
    children: Vec<(&'static str, Child)>,
    ports: BTreeMap<&'static str, u16>,
    database: String,
}

impl Processes {
    /// Starts the four services; `extra_env` is given to all of them.
    fn start_with_env(
        otlp_endpoint: &str,
        protocol: &str,
        extra_env: &[(&str, &str)],
    ) -> Processes {
        let ports: BTreeMap<_, _> = SERVICES.iter().map(|s| (*s, free_port())).collect();
        let database = unique_name("ws_bin");
        let server = database_server_url();
        let redis = redis_url();
        let url = |s: &str| format!("http://127.0.0.1:{}", ports[s]);
        let mut children = Vec::new();
        for service in SERVICES {
            let db = match service {
                "order-service" => "orders",
                "user-service" => "users",
                _ => "inventory",
            };
            let mut command = Command::new(binary(service));
            command
                .env_clear()
                .env("PORT", ports[service].to_string())
                .env("DATABASE_URL", format!("{server}/{database}_{db}"))
                .env("REDIS_URL", &redis)
                .env("REDIS_KEY_PREFIX", format!("{database}:"))
                .env("ORDER_SERVICE_URL", url("order-service"))
                .env("USER_SERVICE_URL", url("user-service"))
                .env("INVENTORY_SERVICE_URL", url("inventory-service"))
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_endpoint)
                .env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
                // A long batch delay: spans reach the receiver before it
                // only if shutdown flushes them.
                .env("OTEL_BSP_SCHEDULE_DELAY", "60000")
                .stdout(if integration_tests::show_logs() {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .stderr(Stdio::inherit())
                .envs(extra_env.iter().copied());
            children.push((service, command.spawn().expect("service starts")));
        }
        Processes {
            children,
            ports,
            database,
        }
    }

    fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.ports[service])
    }

    async fn wait_healthy(&self, client: &reqwest::Client) {
        for service in SERVICES {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
            loop {
                let health = client
                    .get(format!("{}/health", self.url(service)))
                    .send()
                    .await;
                if health.is_ok_and(|r| r.status() == 200) {
                    break;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{service} never became healthy"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// SIGTERM to every service; each must exit 0 within `limit`.
    fn terminate(&mut self, limit: Duration) {
        for (_, child) in &self.children {
            let status = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
        let deadline = std::time::Instant::now() + limit;
        for (service, child) in &mut self.children {
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "{service} exited with {status}");
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{service} still running after SIGTERM"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let names = ["orders", "users", "inventory"].map(|db| format!("{}_{db}", self.database));
        drop_databases(names.to_vec());
        drop_streams(&format!("{}:", self.database));
    }
}

/// Waits until the sink holds `trace_id` with spans from all four services
/// and at least `min_spans` spans; returns (service → span names).
async fn wait_for_trace(
    sink: &RunningSink,
    trace_id: &str,
    min_spans: usize,
) -> BTreeMap<String, Vec<String>> {
    let url = format!("http://{}/api/traces/{trace_id}", sink.query_addr);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    loop {
        if let Ok(response) = reqwest::get(&url).await {
            if response.status() == 200 {
                let body: Value = response.json().await.unwrap();
                let trace = &body["data"][0];
                let mut by_service: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for span in trace["spans"].as_array().unwrap() {
                    let process = span["processID"].as_str().unwrap();
                    let service = trace["processes"][process]["serviceName"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    by_service
                        .entry(service)
                        .or_default()
                        .push(span["operationName"].as_str().unwrap().to_string());
                }
                let total: usize = by_service.values().map(Vec::len).sum();
                if by_service.len() == 4 && total >= min_spans {
                    return by_service;
                }
                last = format!("{by_service:?}");
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trace {trace_id} incomplete in the sink: {last}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tests here pick free ports and hand them to child processes; running
/// them one at a time keeps two tests from being handed the same port.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One test's workshop: a sink, the four services exporting to it over
/// `protocol` (with `extra_env` for all four), healthy, and a client.
struct Workshop {
    _turn: tokio::sync::MutexGuard<'static, ()>,
    sink: RunningSink,
    processes: Processes,
    client: reqwest::Client,
}

async fn start_workshop(protocol: &str, extra_env: &[(&str, &str)]) -> Workshop {
    let turn = ONE_AT_A_TIME.lock().await;
    let sink = lab::sink::start(SinkConfig::ephemeral()).await.unwrap();
    let endpoint = match protocol {
        "grpc" => format!("http://{}", sink.grpc_addr),
        _ => format!("http://{}", sink.http_addr),
    };
    let processes = Processes::start_with_env(&endpoint, protocol, extra_env);
    let client = reqwest::Client::new();
    processes.wait_healthy(&client).await;
    Workshop {
        _turn: turn,
        sink,
        processes,
        client,
    }
}

/// `POST /orders` at the gateway; returns the trace id.
async fn post_order(processes: &Processes, client: &reqwest::Client, product: &str) -> String {
    let response = client
        .post(format!("{}/orders", processes.url("api-gateway")))
        .json(&json!({"user_id": "7", "product": product, "quantity": 1}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["trace_id"].as_str().unwrap().to_string()
}

async fn full_trace_per_order_and_flush_on_sigterm(protocol: &str) {
    let Workshop {
        _turn,
        sink,
        mut processes,
        client,
    } = start_workshop(protocol, &[]).await;

    let mut trace_ids = Vec::new();
    for product in ["Laptop", "Mouse"] {
        trace_ids.push(post_order(&processes, &client, product).await);
    }

    // Answered, not yet exported (the batch delay is a minute): SIGTERM must
    // flush them.
    processes.terminate(Duration::from_secs(10));

    let first = wait_for_trace(&sink, &trace_ids[0], 16).await;
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        [
            "api-gateway",
            "inventory-service",
            "order-service",
            "user-service"
        ]
    );
    for (service, name) in [
        ("api-gateway", "POST /orders"),
        ("api-gateway", "format_response"),
        ("order-service", "POST /orders"),
        ("order-service", "save_order"),
        ("order-service", "INSERT orders"),
        ("user-service", "GET /users/{id}"),
        ("user-service", "SELECT users"),
        ("inventory-service", "POST /inventory/reservations"),
        ("inventory-service", "UPDATE products"),
    ] {
        assert!(
            first[service].iter().any(|n| n == name),
            "{service} {name} missing: {first:?}"
        );
    }
    // The second order (a cache hit) is complete too.
    let second = wait_for_trace(&sink, &trace_ids[1], 14).await;
    assert!(second["user-service"].iter().any(|n| n == "GET"));
    sink.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_export_complete_traces_over_http_protobuf() {
    full_trace_per_order_and_flush_on_sigterm("http/protobuf").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binaries_export_complete_traces_over_grpc() {
    full_trace_per_order_and_flush_on_sigterm("grpc").await;
}

/// The order's event crosses two processes through Redis and stays in the
/// order's trace; each span is labelled with the process that made it, and
/// SIGTERM stops the relay and the consumer quickly, then flushes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_order_event_is_traced_across_processes_and_flushed_on_sigterm() {
    let Workshop {
        _turn,
        sink,
        mut processes,
        client,
    } = start_workshop("http/protobuf", &[]).await;
    let trace_id = post_order(&processes, &client, "Keyboard").await;

    // Wait until user-service has counted the order (user 7).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let user: Value = client
            .get(format!("{}/users/7", processes.url("user-service")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if user["orders_count"] == 1 {
            assert_eq!(user["points"], 79, "Keyboard: 7900 cents, 79 points");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not counted: {user}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let stopping = std::time::Instant::now();
    processes.terminate(Duration::from_secs(10));
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "idle relay and consumer stop at once: {:?}",
        stopping.elapsed()
    );
    let trace = wait_for_trace(&sink, &trace_id, 21).await;
    for (service, name) in [
        ("order-service", "INSERT order_events"),
        ("order-service", "send orders"),
        ("user-service", "process orders"),
        ("user-service", "UPDATE users"),
        ("user-service", "DEL"),
    ] {
        assert!(
            trace[service].iter().any(|n| n == name),
            "{service} {name} missing: {trace:?}"
        );
    }
    sink.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_sdk_disabled_nothing_is_exported_but_trace_ids_still_flow() {
    let Workshop {
        _turn,
        sink,
        mut processes,
        client,
    } = start_workshop("http/protobuf", &[("OTEL_SDK_DISABLED", "true")]).await;
    let response = client
        .post(format!("{}/orders", processes.url("api-gateway")))
        .json(&json!({"user_id": "2", "product": "Mouse", "quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let traceresponse = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .to_string();
    let body: Value = response.json().await.unwrap();
    let trace_id = body["trace_id"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert_ne!(trace_id, "0".repeat(32));
    assert!(
        traceresponse.starts_with(&format!("00-{trace_id}-")),
        "{traceresponse}"
    );
    // After a clean shutdown (which would flush anything queued) the sink
    // has received nothing.
    processes.terminate(Duration::from_secs(10));
    let services = reqwest::get(format!("http://{}/api/services", sink.query_addr))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(services["data"], json!([]), "{services}");
    sink.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_samplers_work_on_the_binaries_from_the_environment() {
    let rules = tempfile::Builder::new()
        .prefix("rules-")
        .suffix(".yaml")
        .tempfile()
        .unwrap();
    std::fs::write(
        rules.path(),
        "default: always_on\nrules:\n  - name: no-new-orders\n    match:\n      span_name: { equals: \"POST /orders\" }\n    sample: always_off\n",
    )
    .unwrap();
    let rules_path = rules.path().to_str().unwrap().to_string();
    let Workshop {
        _turn,
        sink,
        mut processes,
        client,
    } = start_workshop(
        "http/protobuf",
        &[
            ("OTEL_TRACES_SAMPLER", "rules"),
            ("OTEL_TRACES_SAMPLER_ARG", &rules_path),
        ],
    )
    .await;

    let dropped = post_order(&processes, &client, "Keyboard").await;
    let response = client
        .get(format!("{}/orders/1", processes.url("api-gateway")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let kept: Value = response.json().await.unwrap();
    let kept = kept["trace_id"].as_str().unwrap().to_string();
    processes.terminate(Duration::from_secs(10));

    let url = |id: &str| format!("http://{}/api/traces/{id}", sink.query_addr);
    let response = reqwest::get(url(&dropped)).await.unwrap();
    assert_eq!(
        response.status(),
        404,
        "POST /orders is sampled out in every service"
    );
    let trace: Value = reqwest::get(url(&kept))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spans = trace["data"][0]["spans"].as_array().unwrap();
    let root = spans
        .iter()
        .find(|s| s["references"].as_array().is_some_and(|r| r.is_empty()))
        .expect("a root span");
    assert_eq!(root["operationName"], "GET /orders/{id}");
    let rule = root["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == "sampling.rule");
    assert_eq!(rule.map(|t| &t["value"]), Some(&json!("default")), "{root}");
    sink.shutdown().await;
}

#[test]
fn a_bad_sampler_setting_stops_the_service_with_a_sentence() {
    let output = Command::new(binary("api-gateway"))
        .env_clear()
        .env("PORT", free_port().to_string())
        .env("OTEL_TRACES_SAMPLER", "traceidratio")
        .env("OTEL_TRACES_SAMPLER_ARG", "1.5")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("OTEL_TRACES_SAMPLER_ARG"), "{stderr}");
}

#[test]
fn a_service_url_that_does_not_parse_stops_start_up_naming_the_variable() {
    let output = Command::new(binary("order-service"))
        .env_clear()
        .env("PORT", free_port().to_string())
        .env("INVENTORY_SERVICE_URL", "inventory-service:8083")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("INVENTORY_SERVICE_URL=\"inventory-service:8083\" is not valid"),
        "{stderr}"
    );
}

/// A scratch "repository" holding the real lessons (so the learner's own
/// progress file is not touched), removed when it drops, and check options
/// aimed at `processes` and `sink`.
fn lab_setup(
    processes: &Processes,
    sink: &RunningSink,
) -> (TempDir, lab::check::scenario::CheckOptions) {
    let root = tempfile::Builder::new()
        .prefix("lab-root-")
        .tempdir()
        .unwrap();
    let lessons = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lessons");
    std::os::unix::fs::symlink(lessons.canonicalize().unwrap(), root.path().join("lessons"))
        .unwrap();
    let options = lab::check::scenario::CheckOptions {
        gateway: processes.url("api-gateway"),
        jaeger: format!("http://{}", sink.query_addr),
        timeout: Duration::from_secs(20),
        control: Default::default(),
    };
    (root, options)
}

/// `cargo lab check` passes on main for the lessons whose check runs on the
/// default configuration, and `cargo lab load` drives the real services.
/// (Lesson 01 stops a service mid-check, so it runs in the lesson gate,
/// against a stack started by dev-up.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_checks_pass_and_load_runs_against_the_real_services() {
    let Workshop {
        _turn,
        sink,
        processes,
        client: _,
    } = start_workshop("http/protobuf", &[("OTEL_BSP_SCHEDULE_DELAY", "200")]).await;

    let (root, options) = lab_setup(&processes, &sink);
    for lesson in ["05", "07", "08"] {
        let passed = lab::check::run(root.path(), lesson, &options)
            .await
            .unwrap();
        assert!(passed, "lesson {lesson}'s check fails on main");
    }
    // Checking a lesson that was not started checks the finished version
    // and records nothing.
    let progress =
        std::fs::read_to_string(root.path().join(".lab/progress.json")).unwrap_or_default();
    assert!(!progress.contains("08-"), "{progress}");

    let summary = lab::load::run(
        &lab::load::LoadConfig {
            gateway: processes.url("api-gateway"),
            rps: 50.0,
            stop: lab::load::Stop::Requests(60),
            mix: lab::load::Mix { orders: 8, get: 2 },
            delay_ms: None,
            fail: None,
            max_in_flight: 8,
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(summary.count, 60, "{}", summary.render());
    let ok: usize = summary
        .statuses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(ok, 60, "every request succeeds: {:?}", summary.statuses);
    assert_eq!(summary.slowest.len(), 3);
    assert!(summary.slowest.iter().all(|s| s.trace_id.is_some()));
    sink.shutdown().await;
}

/// Lesson 09 asks the learner to sample a quarter of the traces at the
/// gateway; with that setting, its check passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lesson_09_passes_with_the_sampler_it_asks_for() {
    let Workshop {
        _turn,
        sink,
        processes,
        client: _,
    } = start_workshop(
        "http/protobuf",
        &[
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ],
    )
    .await;
    let (root, options) = lab_setup(&processes, &sink);
    let passed = lab::check::run(root.path(), "09", &options).await.unwrap();
    assert!(passed, "lesson 09's check fails with traceidratio 0.25");
    sink.shutdown().await;
}
