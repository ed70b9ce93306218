//! `queries:` checks: the learner's SQL over the spans table (Traces as
//! data), compared with what the lab computes itself from the same spans.
//!
//! The check first sends its own traffic (good orders, failures in two
//! services, a delayed call, requests continued from an outside
//! `traceparent` as `cargo lab check` sends them), waits until their spans
//! are in the table, then opens one read-only REPEATABLE READ transaction:
//! the learner's query and the lab's own read of the table see the same
//! snapshot, so spans arriving meanwhile cannot make them differ.
//!
//! Each question has its columns and its meaning fixed here ([`Question`]);
//! a difference is reported by file, row and column, with what the spans
//! show, never with the SQL that would produce it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use serde::Deserialize;
use sqlx::postgres::PgConnectOptions;
use sqlx::{Column, ConnectOptions, Connection, Either, Row, ValueRef};

use super::diagnosis::Cause;
use super::outcome::Report;

/// `queries:` in check.yaml: the learner's files, each answering one question.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueriesSpec {
    /// Each `file` (relative to the lesson's folder) and its question.
    pub files: Vec<QueryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryFile {
    pub file: String,
    pub question: Question,
}

/// The questions the lab can answer itself.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Question {
    /// Database queries by statement: `service, query, calls, p95_ms`,
    /// slowest first.
    SlowQueries,
    /// Calls between services: `caller, callee, calls, p95_ms, errors`.
    Dependencies,
    /// Per failed trace, the deepest error span: `trace_id, service, span_name`.
    FailureOrigins,
}

impl Question {
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Question::SlowQueries => &["service", "query", "calls", "p95_ms"],
            Question::Dependencies => &["caller", "callee", "calls", "p95_ms", "errors"],
            Question::FailureOrigins => &["trace_id", "service", "span_name"],
        }
    }
}

/// One span as the questions need it.
#[derive(Clone, Debug)]
struct StoredSpan {
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    service: String,
    name: String,
    kind: String,
    duration_ns: i64,
    error: bool,
    query: Option<String>,
}

/// The learner's result: column name → text, per row.
type Rows = Vec<HashMap<String, Option<String>>>;

/// Sends the check's traffic; returns how many requests were answered.
pub async fn send_traffic(gateway: &str) -> anyhow::Result<usize> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let order = |user: u32, product: &str| serde_json::json!({ "user_id": user.to_string(), "product": product, "quantity": 1 });
    // (query string, continued from an outside traceparent?)
    let mut plan: Vec<(&str, bool)> = Vec::new();
    plan.extend(std::iter::repeat_n(("", false), 12));
    plan.extend(std::iter::repeat_n(("?fail=inventory-service", false), 3));
    plan.extend(std::iter::repeat_n(("?fail=inventory-service", true), 2));
    plan.extend(std::iter::repeat_n(("?fail=user-service", false), 2));
    plan.extend(std::iter::repeat_n(("?fail=user-service", true), 2));
    plan.extend(std::iter::repeat_n(
        ("?delay=250&delay_at=inventory-service", false),
        3,
    ));
    let mut answered = 0;
    for (i, (query, outside)) in plan.into_iter().enumerate() {
        let product = ["Laptop", "Mouse", "Keyboard"][i % 3];
        let mut request = client
            .post(format!("{gateway}/orders{query}"))
            .json(&order(1 + (i as u32 % 5), product));
        if outside {
            // As `cargo lab check` does: a parent span that is never exported,
            // so the gateway's SERVER span is not a root by its parent id.
            let trace: u128 = rand::random::<u128>() | 1;
            let parent: u64 = rand::random::<u64>() | 1;
            request = request.header("traceparent", format!("00-{trace:032x}-{parent:016x}-01"));
        }
        if request.send().await.is_ok() {
            answered += 1;
        }
    }
    Ok(answered)
}

/// Two small traces sent straight to the OTLP endpoint, whose root spans
/// share one span id: span ids are unique only within a trace, so a join
/// on the parent span id alone pairs each child with both roots. (Random
/// 64-bit ids almost never collide in a small table; at scale they do.)
pub async fn send_probe(otlp_http: &str) -> anyhow::Result<()> {
    use crate::model::{Process, Span, SpanKind, Trace, TraceId};
    let now = crate::now_us();
    let shared: u64 = rand::random::<u64>() | 1;
    let span = |trace: &TraceId, id: u64, parent: Option<u64>, service: &str, start: u64| Span {
        trace_id: trace.clone(),
        span_id: format!("{id:016x}"),
        parent_span_id: parent.map(|p| format!("{p:016x}")),
        name: "lab check probe".to_string(),
        kind: SpanKind::Server,
        start_us: start,
        duration_us: 1_000,
        process: Process {
            service: service.to_string(),
            tags: Vec::new(),
        },
        ..Span::default()
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()?;
    for n in 0..2u64 {
        let trace_id = TraceId::parse(&format!("{:032x}", rand::random::<u128>() | 1))?;
        let child: u64 = rand::random::<u64>() | 1;
        let trace = Trace {
            trace_id: trace_id.clone(),
            spans: vec![
                span(&trace_id, shared, None, "api-gateway", now + n),
                span(
                    &trace_id,
                    child,
                    Some(shared),
                    "order-service",
                    now + n + 100,
                ),
            ],
        };
        let body = serde_json::to_string(&crate::model::otlp::to_otlp(&trace))?;
        client
            .post(format!("{}/v1/traces", otlp_http.trim_end_matches('/')))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(())
}

/// Waits until the table stops growing (the spans of the traffic arrived),
/// at most `timeout`.
pub async fn wait_for_spans(url: &str, timeout: Duration) -> anyhow::Result<i64> {
    let mut connection = connect(url).await?;
    let deadline = Instant::now() + timeout;
    let (mut last, mut since) = (-1i64, Instant::now());
    loop {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM spans")
            .fetch_one(&mut connection)
            .await
            .unwrap_or(0);
        if count != last {
            (last, since) = (count, Instant::now());
        } else if count > 0 && since.elapsed() >= Duration::from_secs(3) {
            break;
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = connection.close().await;
    Ok(last)
}

async fn connect(url: &str) -> anyhow::Result<sqlx::PgConnection> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("{url:?} is not a Postgres URL: {e}"))?;
    options.connect().await.map_err(|e| {
        anyhow::anyhow!(
            "cannot reach the spans database at {url} ({e}): is the sink running with its \
             database (scripts/dev-up.sh starts it so)?"
        )
    })
}

/// Runs each file in one snapshot beside the lab's own read of the table;
/// prints a line per file and adds a finding per problem.
pub async fn check(
    lesson_dir: &Path,
    spec: &QueriesSpec,
    url: &str,
    report: &mut Report,
    mut say: impl FnMut(bool, String),
) -> anyhow::Result<()> {
    let mut connection = connect(url).await?;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut connection)
        .await?;
    let spans = read_spans(&mut connection).await?;
    for entry in &spec.files {
        let path = lesson_dir.join(&entry.file);
        let shown = format!("queries/{}", file_name(&entry.file));
        let sql = std::fs::read_to_string(&path).unwrap_or_default();
        if strip_comments(&sql).trim().is_empty() {
            say(false, format!("{shown}: no query yet"));
            report.add(
                Some(shown.clone()),
                format!("{shown} holds no query (only comments, or nothing)"),
                Cause::QueryMissing,
            );
            continue;
        }
        // A savepoint per file: an error in one leaves the others runnable.
        sqlx::raw_sql("SAVEPOINT learner")
            .execute(&mut connection)
            .await?;
        let rows = match run(&mut connection, &sql).await {
            Ok(rows) => rows,
            Err(message) => {
                sqlx::raw_sql("ROLLBACK TO SAVEPOINT learner")
                    .execute(&mut connection)
                    .await?;
                say(false, format!("{shown}: Postgres refused it"));
                report.add(
                    Some(shown.clone()),
                    format!("{shown}: {message}"),
                    Cause::QueryError,
                );
                continue;
            }
        };
        let missing: Vec<&str> = entry
            .question
            .columns()
            .iter()
            .copied()
            .filter(|c| rows.first().is_some_and(|r| !r.contains_key(*c)))
            .collect();
        if !missing.is_empty() {
            say(false, format!("{shown}: columns missing"));
            report.add(
                Some(shown.clone()),
                format!(
                    "{shown} has no column {}; the question asks for {} (name them with AS)",
                    missing.join(", "),
                    entry.question.columns().join(", ")
                ),
                Cause::QueryColumns,
            );
            continue;
        }
        let problems = match entry.question {
            Question::SlowQueries => compare_slow_queries(&spans, &rows),
            Question::Dependencies => compare_dependencies(&spans, &rows),
            Question::FailureOrigins => compare_failure_origins(&spans, &rows),
        };
        match problems.first() {
            None => say(
                true,
                format!("{shown}: {} rows, as the spans say", rows.len()),
            ),
            Some(first) => {
                let n = problems.len();
                let noun = if n == 1 { "difference" } else { "differences" };
                say(
                    false,
                    format!("{shown}: {n} {noun} from what the spans say"),
                );
                let more = match problems.len() {
                    1 => String::new(),
                    n => format!(" ({} more like it)", n - 1),
                };
                report.add(
                    Some(shown.clone()),
                    format!("{shown}: {first}{more}"),
                    Cause::QueryRows,
                );
            }
        }
    }
    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut connection).await;
    let _ = connection.close().await;
    Ok(())
}

fn file_name(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

/// SQL without its `--` comments (a file of comments only holds no query).
fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The learner's statement, every value as text (the simple protocol).
async fn run(connection: &mut sqlx::PgConnection, sql: &str) -> Result<Rows, String> {
    let mut rows = Vec::new();
    let mut statements = 0;
    // The learner's own SQL, run as written: that is the point of the check
    // (read-only, inside the check's snapshot), hence `AssertSqlSafe`.
    let mut stream =
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).fetch_many(&mut *connection);
    loop {
        match stream.try_next().await {
            Ok(Some(Either::Right(row))) => {
                let mut values = HashMap::new();
                for (i, column) in row.columns().iter().enumerate() {
                    let value = row.try_get_raw(i).ok().and_then(|raw| {
                        (!raw.is_null()).then(|| raw.as_str().unwrap_or("").to_string())
                    });
                    values.insert(column.name().to_string(), value);
                }
                rows.push(values);
            }
            Ok(Some(Either::Left(_))) => statements += 1,
            Ok(None) => break,
            Err(error) => {
                let text = match error.as_database_error() {
                    Some(db) => format!("ERROR: {}", db.message()),
                    None => error.to_string(),
                };
                return Err(format!(
                    "{text} (run it with `cargo lab sql -f` to see where)"
                ));
            }
        }
    }
    if statements > 1 {
        return Err(format!(
            "the file holds {statements} statements; the check reads one SELECT"
        ));
    }
    Ok(rows)
}

async fn read_spans(connection: &mut sqlx::PgConnection) -> anyhow::Result<Vec<StoredSpan>> {
    let rows = sqlx::query(
        "SELECT trace_id, span_id, parent_span_id, service_name, span_name, span_kind, \
                duration_ns, status_code = 'STATUS_CODE_ERROR', \
                CASE WHEN span_attributes ? 'db.system.name' \
                     THEN coalesce(span_attributes ->> 'db.query.text', '') END \
         FROM spans",
    )
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredSpan {
            trace_id: r.get(0),
            span_id: r.get(1),
            parent_span_id: r.get(2),
            service: r.get(3),
            name: r.get(4),
            kind: r.get(5),
            duration_ns: r.get(6),
            error: r.get(7),
            query: r.get(8),
        })
        .collect())
}

/// `percentile_cont`: linear interpolation between the two nearest ranks,
/// as Postgres computes it.
pub fn percentile_cont(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let at = p * (sorted.len() - 1) as f64;
    let (low, high) = (at.floor() as usize, at.ceil() as usize);
    let fraction = at - low as f64;
    sorted[low] as f64 + (sorted[high] - sorted[low]) as f64 * fraction
}

/// The 95th percentile in milliseconds, both ways Postgres computes one:
/// `percentile_cont` (interpolated) and `percentile_disc` (a value that
/// occurred, nearest rank). Either is a right answer.
fn p95_ms(durations: &mut [i64]) -> (f64, f64) {
    durations.sort_unstable();
    let disc = durations
        .get(crate::red::nearest_rank(0.95, durations.len()))
        .copied()
        .unwrap_or(0);
    (percentile_cont(durations, 0.95) / 1e6, disc as f64 / 1e6)
}

/// Close enough for a rounded figure: 0.02 ms or 2 %, to either percentile.
fn near(got: f64, (cont, disc): (f64, f64)) -> bool {
    [cont, disc]
        .iter()
        .any(|want| (got - want).abs() <= 0.02_f64.max(want.abs() * 0.02))
}

fn text<'a>(row: &'a HashMap<String, Option<String>>, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_deref()).unwrap_or("")
}

fn number(row: &HashMap<String, Option<String>>, column: &str) -> Option<f64> {
    text(row, column).trim().parse().ok()
}

fn compare_slow_queries(spans: &[StoredSpan], rows: &Rows) -> Vec<String> {
    let mut expected: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
    for span in spans.iter().filter(|s| s.kind == "SPAN_KIND_CLIENT") {
        if let Some(query) = &span.query {
            expected
                .entry((span.service.clone(), query.clone()))
                .or_default()
                .push(span.duration_ns);
        }
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut previous: Option<f64> = None;
    for row in rows {
        let key = (
            text(row, "service").to_string(),
            text(row, "query").to_string(),
        );
        let short = format!("{} {:?}", key.0, shorten(&key.1));
        let Some(durations) = expected.get(&key) else {
            problems.push(format!(
                "the row {short} is not a database query of the spans (a CLIENT span with \
                 db.system.name and this db.query.text)"
            ));
            continue;
        };
        seen.insert(key.clone());
        let calls = number(row, "calls");
        if calls != Some(durations.len() as f64) {
            problems.push(format!(
                "{short}: calls is {}, the spans hold {} such queries",
                text(row, "calls"),
                durations.len()
            ));
        }
        let p95 = p95_ms(&mut durations.clone());
        match number(row, "p95_ms") {
            Some(got) if near(got, p95) => {}
            _ => problems.push(format!(
                "{short}: p95_ms is {}, the spans' 95th percentile is {:.2} ms (95 % of \
                 these queries took at most that long)",
                text(row, "p95_ms"),
                p95.0
            )),
        }
        if let (Some(before), Some(now)) = (previous, number(row, "p95_ms")) {
            if now > before + 1e-9 {
                problems.push(format!(
                    "{short} comes after a faster query: the question asks for the slowest first"
                ));
            }
        }
        previous = number(row, "p95_ms").or(previous);
    }
    for (key, durations) in &expected {
        if !seen.contains(key) {
            problems.push(format!(
                "no row for {} {:?} ({} calls in the spans)",
                key.0,
                shorten(&key.1),
                durations.len()
            ));
        }
    }
    problems
}

fn shorten(text: &str) -> String {
    match text.char_indices().nth(50) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

fn compare_dependencies(spans: &[StoredSpan], rows: &Rows) -> Vec<String> {
    let by_id: HashMap<(&str, &str), &StoredSpan> = spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    let mut expected: BTreeMap<(String, String), (Vec<i64>, usize)> = BTreeMap::new();
    for child in spans {
        let Some(parent) = by_id.get(&(child.trace_id.as_str(), child.parent_span_id.as_str()))
        else {
            continue;
        };
        if parent.service == child.service {
            continue;
        }
        let edge = expected
            .entry((parent.service.clone(), child.service.clone()))
            .or_default();
        edge.0.push(child.duration_ns);
        edge.1 += usize::from(child.error);
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows {
        let key = (
            text(row, "caller").to_string(),
            text(row, "callee").to_string(),
        );
        let edge = format!("{} → {}", key.0, key.1);
        let Some((durations, errors)) = expected.get(&key) else {
            problems.push(format!(
                "{edge} is not a call in the spans: no span of {} has a parent span of {}",
                key.1, key.0
            ));
            continue;
        };
        seen.insert(key.clone());
        if number(row, "calls") != Some(durations.len() as f64) {
            problems.push(format!(
                "{edge}: calls is {}, the spans show {} calls (one per span of {} whose parent \
                 span is in {})",
                text(row, "calls"),
                durations.len(),
                key.1,
                key.0
            ));
        }
        if number(row, "errors") != Some(*errors as f64) {
            problems.push(format!(
                "{edge}: errors is {}, {} of those calls' spans have status ERROR",
                text(row, "errors"),
                errors
            ));
        }
        let p95 = p95_ms(&mut durations.clone());
        match number(row, "p95_ms") {
            Some(got) if near(got, p95) => {}
            _ => problems.push(format!(
                "{edge}: p95_ms is {}, the 95th percentile of the callee's span durations is \
                 {:.2} ms",
                text(row, "p95_ms"),
                p95.0
            )),
        }
    }
    for (key, (durations, _)) in &expected {
        if !seen.contains(key) {
            problems.push(format!(
                "no row for {} → {} ({} calls in the spans)",
                key.0,
                key.1,
                durations.len()
            ));
        }
    }
    problems
}

fn compare_failure_origins(spans: &[StoredSpan], rows: &Rows) -> Vec<String> {
    let by_id: HashMap<(&str, &str), &StoredSpan> = spans
        .iter()
        .map(|s| ((s.trace_id.as_str(), s.span_id.as_str()), s))
        .collect();
    // Depth from the trace's root: the span whose parent is not in the table.
    let depth = |span: &StoredSpan| -> usize {
        let mut depth = 0;
        let mut at = span;
        while let Some(parent) = by_id.get(&(at.trace_id.as_str(), at.parent_span_id.as_str())) {
            depth += 1;
            at = parent;
            if depth > 10_000 {
                break;
            }
        }
        depth
    };
    // Per failed trace: the error spans at the greatest depth (any of them
    // is a right answer), as (service, span name).
    type Deepest<'a> = (usize, Vec<(&'a str, &'a str)>);
    let mut expected: BTreeMap<&str, Deepest> = BTreeMap::new();
    for span in spans.iter().filter(|s| s.error) {
        let d = depth(span);
        let entry = expected.entry(&span.trace_id).or_insert((d, Vec::new()));
        if d > entry.0 {
            *entry = (d, Vec::new());
        }
        if d == entry.0 {
            entry.1.push((&span.service, &span.name));
        }
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    for row in rows {
        let trace = text(row, "trace_id");
        let (service, name) = (text(row, "service"), text(row, "span_name"));
        let Some((depth, origins)) = expected.get(trace) else {
            problems.push(format!(
                "trace {trace} has no span with status ERROR: it did not fail"
            ));
            continue;
        };
        if !seen.insert(trace.to_string()) {
            problems.push(format!("trace {trace} has more than one row"));
            continue;
        }
        if !origins.contains(&(service, name)) {
            let (want_service, want_name) = origins[0];
            problems.push(format!(
                "trace {trace}: the row names {service} {name:?}, but the deepest span with \
                 status ERROR is {want_service} {want_name:?}, {depth} levels below the root"
            ));
        }
    }
    let missing: Vec<&&str> = expected.keys().filter(|t| !seen.contains(**t)).collect();
    if let Some(first) = missing.first() {
        problems.push(format!(
            "{} failed traces have no row, e.g. {first}: every trace with a span of status \
             ERROR has one (whatever its root looks like)",
            missing.len()
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_cont_interpolates_like_postgres() {
        // SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY x)
        //   FROM unnest(ARRAY[10, 20, 30, 40]) x;  →  38.5
        assert_eq!(percentile_cont(&[10, 20, 30, 40], 0.95), 38.5);
        assert_eq!(percentile_cont(&[7], 0.95), 7.0);
        assert_eq!(percentile_cont(&[10, 20], 0.5), 15.0);
    }

    #[test]
    fn comments_alone_are_no_query() {
        assert!(strip_comments("-- write it here\n  -- and here\n")
            .trim()
            .is_empty());
        assert_eq!(strip_comments("SELECT 1 -- one").trim(), "SELECT 1");
    }
}
