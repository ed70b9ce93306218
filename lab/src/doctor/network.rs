//! Doctor's network checks: ports, Postgres and Redis, the trace backend
//! and a test span sent through it, each service's `/health`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{Diagnosis, Target};
use crate::client::JaegerClient;
use crate::model::TraceId;
use crate::stack::{self, Mode, SERVICES};

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

pub(super) fn ports(target: &Target, d: &mut Diagnosis) {
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

/// The native collector: running as dev-up recorded it, its health check
/// answering; or none, and what that means for lessons 11 and 12.
pub(super) async fn collector(target: &Target, d: &mut Diagnosis) {
    let Some(stack) = &target.stack else { return };
    let on_path = crate::check::collector::otelcol_on_path();
    let Some(config) = stack.collector_config() else {
        if on_path {
            d.problem(
                "otelcol-contrib is on PATH, but the running stack has no collector (it was started \
                 before, or a backend dev-up did not start holds the OTLP ports)",
                "run scripts/dev-up.sh again: it starts the collector in front of lab sink",
            );
        } else {
            d.ok(
                "no collector runs natively (otelcol-contrib is not on PATH): the services export \
                 straight to lab sink, and lessons 11 and 12 check their collector configs \
                 statically. To run it: put otelcol-contrib on PATH and run scripts/dev-up.sh",
            );
        }
        return;
    };
    let otlp = stack.get("OTLP_HTTP_ENDPOINT").unwrap_or("?");
    let sink = stack.get("SINK_OTLP_HTTP_ENDPOINT").unwrap_or("?");
    match stack.pid("otelcol") {
        Some(pid) => d.ok(format!(
            "otel-collector: otelcol-contrib (pid {pid}, started by dev-up) runs {config} \
             (generated: .lab/run/otel-collector.yaml); OTLP in at {otlp}, out to lab sink at {sink}"
        )),
        None => {
            d.problem(
                format!("otel-collector (otelcol-contrib, {config}) is not running; the services' spans go nowhere"),
                "read .lab/logs/otel-collector.log; scripts/dev-up.sh starts it again",
            );
            return;
        }
    }
    let Some(health) = stack.get("COLLECTOR_HEALTH_URL") else {
        return;
    };
    let answer = reqwest::Client::new()
        .get(health)
        .timeout(Duration::from_secs(3))
        .send()
        .await;
    match answer {
        Ok(r) if r.status().is_success() => {
            d.ok(format!("otel-collector's health check answers at {health}"))
        }
        Ok(r) => d.problem(
            format!(
                "otel-collector's health check at {health} answers {}",
                r.status()
            ),
            "its pipelines are not running: read .lab/logs/otel-collector.log",
        ),
        Err(_) => d.problem(
            format!("otel-collector's health check does not answer at {health}"),
            format!(
                "is the health_check extension still in {config}? Else read \
                 .lab/logs/otel-collector.log"
            ),
        ),
    }
}

pub(super) fn backing_services(target: &Target, d: &mut Diagnosis) {
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

pub(super) async fn backend(target: &Target, d: &mut Diagnosis) -> bool {
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
pub(super) async fn test_span(target: &Target, d: &mut Diagnosis) {
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

pub(super) async fn health(target: &Target, d: &mut Diagnosis) {
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
