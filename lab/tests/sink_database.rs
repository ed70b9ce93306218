//! Traces as data: the sink writes every span to a real Postgres (a
//! database made for each test, dropped after), `cargo lab sql` and
//! `cargo lab stats` (the real binary) read it back, and a Postgres that is
//! down costs nothing but the delay: the in-memory store has every span,
//! the exporter is answered at once, and the writer catches up.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use lab::model::Trace;
use lab::sink::database::{DatabaseConfig, DatabaseStatus};
use lab::sink::otlp::lock;
use lab::sink::{start, RunningSink, SinkConfig};
use serde_json::Value as Json;
use sqlx::{ConnectOptions, Connection};

/// The server the tests use (scripts/test.sh sets it), without a database.
fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
        .trim_end_matches('/')
        .to_string()
}

/// A database name of its own for one test; dropped by [`Scratch`]'s drop.
struct Scratch {
    url: String,
    name: String,
}

impl Scratch {
    fn new(tag: &str) -> Self {
        let name = format!(
            "lab_spans_{tag}_{}_{}",
            std::process::id(),
            rand::random::<u32>()
        );
        Scratch {
            url: format!("{}/{name}", server_url()),
            name,
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = format!("{}/postgres", server_url());
        // Drop runs outside the test's runtime: a small one of its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                    let _ = c.close().await;
                }
            })
        })
        .join();
    }
}

/// Traces stamped "now", so time windows (stats, /operations) include them:
/// a healthy order, the same order failing in inventory, and a third one.
fn recent_traces() -> Vec<Trace> {
    let now = lab::now_us();
    let mut traces = Vec::new();
    for (n, failing) in [(1u8, false), (2, true), (3, false)] {
        let mut trace = healthy_order();
        trace.trace_id = trace_id(&format!("{n:0>32}"));
        if failing {
            fail(
                find_mut(&mut trace, "inventory-service", "UPDATE products"),
                "deadlock detected",
            );
        }
        let first = trace.start_us();
        for span in trace.spans.iter_mut() {
            span.trace_id = trace.trace_id.clone();
            span.start_us = span.start_us - first + now - 1_000_000 + u64::from(n) * 1000;
        }
        traces.push(trace);
    }
    traces
}

async fn status(sink: &RunningSink) -> DatabaseStatus {
    sink.database.as_ref().expect("a database queue").status()
}

/// Polls `status` until `done` holds; the timeout only bounds a broken run.
async fn wait_for(sink: &RunningSink, what: &str, done: impl Fn(&DatabaseStatus) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = status(sink).await;
        if done(&now) {
            return;
        }
        assert!(Instant::now() < deadline, "waited 30 s for {what}: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the real `lab` binary.
fn lab(args: &[&str], database_url: &str) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(args)
        .env("LAB_DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn sink_config(url: &str) -> SinkConfig {
    SinkConfig {
        database: Some(DatabaseConfig::new(url)),
        ..SinkConfig::ephemeral()
    }
}

#[tokio::test]
async fn every_span_lands_in_postgres_and_sql_reads_what_the_sink_holds() {
    let db = Scratch::new("sql");
    let sink = start(sink_config(&db.url)).await.unwrap();
    let traces = recent_traces();
    for trace in &traces {
        send_otlp(sink.http_addr, trace).await;
    }
    // The first trace again: an exporter retrying must not double it.
    send_otlp(sink.http_addr, &traces[0]).await;
    let total: usize = traces.iter().map(|t| t.spans.len()).sum();
    wait_for(&sink, "every span written", |s| {
        s.pending == 0 && s.written as usize >= total
    })
    .await;

    // Spans per service: the table and the in-memory store agree.
    let url = db.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        lab(
            &[
                "sql",
                "--json",
                "SELECT service_name, count(*) AS spans FROM spans GROUP BY 1 ORDER BY 1",
            ],
            &url,
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    let rows: Json = serde_json::from_str(&out).unwrap();
    let from_sql: BTreeMap<String, i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["service_name"].as_str().unwrap().to_string(),
                r["spans"].as_i64().unwrap(),
            )
        })
        .collect();
    // (The store keeps what arrived, the resent trace twice; the table
    // keeps each span once.)
    let mut stored = lock(&sink.store).recent(100);
    for trace in stored.iter_mut() {
        let mut seen = std::collections::HashSet::new();
        trace.spans.retain(|s| seen.insert(s.span_id.clone()));
    }
    let mut from_memory: BTreeMap<String, i64> = BTreeMap::new();
    for span in stored.iter().flat_map(|t| &t.spans) {
        *from_memory.entry(span.service().to_string()).or_default() += 1;
    }
    assert_eq!(from_sql, from_memory);

    // The dependency query of docs/traces-as-data.md: the same edges and
    // call counts as the sink's service map (HTTP calls between services).
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/traces-as-data.md"
    ))
    .unwrap();
    let dependency_sql = sql_block(&docs, "dependencies");
    let url = db.url.clone();
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || lab(&["sql", "--json", &dependency_sql], &url))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let rows: Json = serde_json::from_str(&out).unwrap();
    let from_sql: BTreeMap<(String, String), i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                (
                    r["caller"].as_str().unwrap().to_string(),
                    r["callee"].as_str().unwrap().to_string(),
                ),
                r["calls"].as_i64().unwrap(),
            )
        })
        .collect();
    let from_map: BTreeMap<(String, String), i64> = lab::sink::web::map::edges(&stored)
        .into_iter()
        .filter(|((_, callee), _)| callee.ends_with("-service") || callee == "api-gateway")
        .map(|(k, e)| (k, e.calls as i64))
        .collect();
    assert!(!from_map.is_empty());
    assert_eq!(from_sql, from_map);

    // Stats from Postgres: the same numbers as the operations page computes
    // from memory.
    let from_db = lab::red::calls_from_database(&db.url, Duration::from_secs(300), None)
        .await
        .unwrap();
    let mut from_db = lab::red::operations(&from_db, 300.0, 1.0);
    let mut from_mem = lab::red::operations(&lab::red::calls(&stored), 300.0, 1.0);
    for ops in [&mut from_db, &mut from_mem] {
        for op in ops.iter_mut() {
            // Which of two equally long calls is the exemplar may differ.
            op.p50.trace_id.clear();
            op.p95.trace_id.clear();
            op.p99.trace_id.clear();
        }
    }
    assert_eq!(from_db, from_mem);
    let gateway = from_db.iter().find(|o| o.service == "api-gateway").unwrap();
    assert_eq!(gateway.calls, 3);
    let url = db.url.clone();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        lab(&["stats", "--service", "inventory-service"], &url)
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    assert!(
        out.contains("inventory-service") && !out.contains("api-gateway"),
        "{out}"
    );

    // A mistake is Postgres's sentence with a caret, and a non-zero exit.
    let url = db.url.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || lab(&["sql", "SELECT span_nme FROM spans"], &url))
            .await
            .unwrap();
    assert!(!ok);
    assert!(err.contains(r#"column "span_nme" does not exist"#), "{err}");
    assert!(
        err.contains("LINE 1: SELECT span_nme FROM spans\n               ^"),
        "{err}"
    );
    // A statement that changes data is refused without --write.
    let url = db.url.clone();
    let (ok, _, err) =
        tokio::task::spawn_blocking(move || lab(&["sql", "DELETE FROM spans"], &url))
            .await
            .unwrap();
    assert!(!ok);
    assert!(err.contains("--write"), "{err}");
    let count = scalar(&db.url, "SELECT count(*) FROM spans").await;
    assert_eq!(count, total as i64, "nothing was deleted");

    sink.shutdown().await;
}

#[tokio::test]
async fn postgres_down_loses_nothing_and_the_writer_catches_up() {
    let db = Scratch::new("down");
    // A port where nothing listens yet: Postgres is "down".
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let real = url::Url::parse(&server_url()).unwrap();
    let (real_host, real_port) = (
        real.host_str().unwrap().to_string(),
        real.port().unwrap_or(5432),
    );
    let down_url = format!(
        "postgres://{}@127.0.0.1:{port}/{}",
        if real.username().is_empty() {
            "postgres"
        } else {
            real.username()
        },
        db.name
    );
    let sink = start(sink_config(&down_url)).await.unwrap();
    let traces = recent_traces();
    let mut slowest = Duration::ZERO;
    for trace in &traces {
        slowest = slowest.max(send_otlp(sink.http_addr, trace).await);
    }
    let total: usize = traces.iter().map(|t| t.spans.len()).sum();
    // Every span is in memory and queued; the writer says Postgres fails.
    let stored: usize = lock(&sink.store)
        .recent(100)
        .iter()
        .map(|t| t.spans.len())
        .sum();
    assert_eq!(stored, total);
    wait_for(&sink, "the failure noticed", |s| {
        s.failing.is_some() && s.pending == total && s.written == 0
    })
    .await;
    // The exporter was answered without waiting for Postgres (the writer
    // retries for seconds; one answer taking that long would show it).
    assert!(
        slowest < Duration::from_secs(2),
        "an export waited {slowest:?}"
    );

    // Postgres "comes back": a forwarder on that port to the real server.
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let forward = tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = format!("{real_host}:{real_port}");
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    wait_for(&sink, "the queue written after the outage", |s| {
        s.failing.is_none() && s.pending == 0 && s.written as usize == total
    })
    .await;
    assert_eq!(status(&sink).await.dropped, 0);
    assert_eq!(
        scalar(&db.url, "SELECT count(*) FROM spans").await,
        total as i64
    );
    sink.shutdown().await;
    forward.abort();
}

#[tokio::test]
async fn a_bad_database_url_is_a_sentence_at_start() {
    let config = sink_config("mysql://somewhere/lab");
    let error = start(config).await.err().expect("refused").to_string();
    assert!(error.contains("is not a Postgres URL"), "{error}");
    let config = sink_config("postgres://postgres@127.0.0.1:5432");
    let error = start(config).await.err().expect("refused").to_string();
    assert!(error.contains("names no database"), "{error}");
}

#[test]
fn sql_without_a_database_says_where_to_get_one() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("lessons")).unwrap();
    std::fs::write(root.path().join("Cargo.toml"), "").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lab"))
        .args(["sql", "SELECT 1"])
        .env_remove("LAB_DATABASE_URL")
        .env("LAB_ROOT", root.path())
        // No Docker engine answers: `docker` is not found on this PATH.
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no spans database"), "{err}");
}

/// The fenced ```sql block right after a `<!-- query: NAME -->` marker.
fn sql_block(markdown: &str, name: &str) -> String {
    let marker = format!("<!-- query: {name} -->");
    let after = &markdown[markdown
        .find(&marker)
        .unwrap_or_else(|| panic!("no {marker}"))..];
    let start = after.find("```sql\n").unwrap() + "```sql\n".len();
    let end = after[start..].find("```").unwrap();
    after[start..start + end].to_string()
}

async fn scalar(url: &str, sql: &'static str) -> i64 {
    let mut c = url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .connect()
        .await
        .unwrap();
    let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut c).await.unwrap();
    let _ = c.close().await;
    n
}
