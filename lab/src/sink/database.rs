//! The sink's second memory: every span also goes into a Postgres table
//! `spans`, so that questions across many traces become SQL (`cargo lab
//! sql`, `cargo lab stats`, docs/traces-as-data.md).
//!
//! The receivers must never wait on Postgres, so they only push spans onto a
//! bounded [`SpanQueue`] and answer the exporter at once. One task, the
//! writer, takes batches off the queue and inserts them. When Postgres is
//! down or slow the spans wait in the queue (the sink says so once), the
//! oldest are dropped when it is full (counted), and the writer catches up
//! when Postgres answers again. The in-memory store never depends on this.
//!
//! The table has the columns of the OpenTelemetry Collector's `clickhouse`
//! exporter, in snake_case, so queries written for that (and the tools built
//! on it) read the same here.

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Map, Value as Json};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection};
use tokio::sync::{watch, Notify};

use crate::model::{Attribute, Span, SpanKind, Status, Value};

/// The table and its indexes. `IF NOT EXISTS` everywhere: the sink runs
/// this on every start, against a new or an existing database.
const SCHEMA: &str = include_str!("spans.sql");

/// Spans per INSERT: large enough to be cheap per span, small enough that
/// one statement stays well under a second.
const BATCH: usize = 1_000;

/// Where the spans go and how long they stay.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `postgres://user@host:port/database`; the database is created if missing.
    pub url: String,
    /// Spans older than this are deleted.
    pub retention: Duration,
    /// At most this many rows are kept; the oldest go first.
    pub max_rows: i64,
    /// Spans waiting for Postgres; beyond this the oldest are dropped.
    pub max_pending: usize,
}

impl DatabaseConfig {
    pub fn new(url: impl Into<String>) -> Self {
        DatabaseConfig {
            url: url.into(),
            retention: Duration::from_secs(24 * 3600),
            max_rows: 1_000_000,
            max_pending: 100_000,
        }
    }

    /// Checks the URL now, so a typo is an error at start, not a silent
    /// stream of failed inserts.
    pub fn options(&self) -> anyhow::Result<PgConnectOptions> {
        if !(self.url.starts_with("postgres://") || self.url.starts_with("postgresql://")) {
            anyhow::bail!(
                "--database-url {:?} is not a Postgres URL; expected \
                 postgres://USER@HOST:PORT/DATABASE",
                self.url
            );
        }
        let options = PgConnectOptions::from_str(&self.url).map_err(|e| {
            anyhow::anyhow!(
                "--database-url {:?} is not a Postgres URL ({e}); expected \
                 postgres://USER@HOST:PORT/DATABASE",
                self.url
            )
        })?;
        if options.get_database().is_none() {
            anyhow::bail!(
                "--database-url {:?} names no database; add one, e.g. .../lab",
                self.url
            );
        }
        // A slow Postgres must not hold a batch forever.
        Ok(options.options([("statement_timeout", "10s")]))
    }
}

/// What the writer has done so far (`/api/database`, the web page).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct DatabaseStatus {
    /// Spans written to the table since the sink started.
    pub written: u64,
    /// Spans waiting in the queue.
    pub pending: usize,
    /// Spans dropped because the queue was full (never written).
    pub dropped: u64,
    /// The last error, while Postgres is failing.
    pub failing: Option<String>,
}

/// Spans on their way to Postgres: bounded, oldest dropped first.
pub struct SpanQueue {
    state: Mutex<QueueState>,
    wake: Notify,
    max: usize,
}

#[derive(Default)]
struct QueueState {
    spans: VecDeque<Span>,
    status: DatabaseStatus,
    /// Whether the "queue is full" sentence was said since the last catch-up.
    said_full: bool,
}

impl SpanQueue {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(SpanQueue {
            state: Mutex::new(QueueState::default()),
            wake: Notify::new(),
            max: max.max(1),
        })
    }

    /// Called by the receivers: copies the spans in and returns at once.
    pub fn push(&self, spans: &[Span]) {
        if spans.is_empty() {
            return;
        }
        let mut state = self.lock();
        for span in spans {
            if state.spans.len() == self.max {
                state.spans.pop_front();
                state.status.dropped += 1;
                if !state.said_full {
                    state.said_full = true;
                    eprintln!(
                        "lab sink: {} spans are waiting for Postgres; dropping the oldest \
                         (counted, and said again when it catches up)",
                        self.max
                    );
                }
            }
            state.spans.push_back(span.clone());
        }
        drop(state);
        self.wake.notify_one();
    }

    pub fn status(&self) -> DatabaseStatus {
        let state = self.lock();
        DatabaseStatus {
            pending: state.spans.len(),
            ..state.status.clone()
        }
    }

    fn take(&self, n: usize) -> Vec<Span> {
        let mut state = self.lock();
        let n = n.min(state.spans.len());
        state.spans.drain(..n).collect()
    }

    /// A batch that could not be written goes back to the front, in order,
    /// as far as there is room (newer spans arrived meanwhile win).
    fn put_back(&self, batch: Vec<Span>) {
        let mut state = self.lock();
        let room = self.max.saturating_sub(state.spans.len());
        let lost = batch.len().saturating_sub(room);
        state.status.dropped += lost as u64;
        for span in batch.into_iter().skip(lost).rev() {
            state.spans.push_front(span);
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs until `stopped`, then writes what is still queued (for a few
/// seconds at most) and returns.
pub async fn write_spans(
    config: DatabaseConfig,
    options: PgConnectOptions,
    queue: Arc<SpanQueue>,
    mut stopped: watch::Receiver<bool>,
) {
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy_with(options.clone());
    let mut writer = Writer {
        config,
        options,
        pool,
        queue,
        prepared: false,
        last_cleanup: None,
    };
    let mut backoff = Duration::from_millis(250);
    loop {
        if *stopped.borrow() {
            break;
        }
        match writer.step().await {
            Ok(true) => backoff = Duration::from_millis(250),
            Ok(false) => {
                // Nothing queued: sleep until spans arrive or we stop.
                tokio::select! {
                    _ = writer.queue.wake.notified() => {}
                    _ = stopped.changed() => {}
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
            Err(error) => {
                writer.failed(&error);
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = stopped.changed() => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    // Last chance for what is queued; a down Postgres must not hold up the stop.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(2), writer.step()).await {
            Ok(Ok(true)) => continue,
            _ => break,
        }
    }
    let status = writer.queue.status();
    if status.pending > 0 {
        eprintln!(
            "lab sink: stopping with {} spans not written to Postgres",
            status.pending
        );
    }
    writer.pool.close().await;
}

struct Writer {
    config: DatabaseConfig,
    options: PgConnectOptions,
    pool: PgPool,
    queue: Arc<SpanQueue>,
    /// The database and table exist.
    prepared: bool,
    last_cleanup: Option<Instant>,
}

impl Writer {
    /// One batch: `Ok(false)` when nothing was queued.
    async fn step(&mut self) -> Result<bool, sqlx::Error> {
        if !self.prepared {
            prepare(&self.options, &self.pool).await?;
            self.prepared = true;
        }
        self.cleanup().await?;
        let batch = self.queue.take(BATCH);
        if batch.is_empty() {
            return Ok(false);
        }
        if let Err(error) = insert(&self.pool, &batch).await {
            self.queue.put_back(batch);
            return Err(error);
        }
        let mut state = self.queue.lock();
        state.status.written += batch.len() as u64;
        if state.status.failing.take().is_some() {
            eprintln!(
                "lab sink: Postgres answers again; writing the {} queued spans ({} were \
                 dropped while it was away)",
                state.spans.len() + batch.len(),
                state.status.dropped
            );
            state.said_full = false;
        }
        Ok(true)
    }

    /// Says it once per outage: the next success says it is over.
    fn failed(&mut self, error: &sqlx::Error) {
        if matches!(error, sqlx::Error::Database(_)) {
            // The table may have been dropped under us: create it again.
            self.prepared = false;
        }
        let mut state = self.queue.lock();
        if state.status.failing.is_none() {
            eprintln!(
                "lab sink: cannot write spans to Postgres ({error}); they stay in memory and \
                 queue (up to {}) until it answers again",
                self.config.max_pending
            );
        }
        state.status.failing = Some(error.to_string());
    }

    /// Retention, once a minute: by age, then by rows.
    async fn cleanup(&mut self) -> Result<(), sqlx::Error> {
        if self
            .last_cleanup
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60))
        {
            return Ok(());
        }
        self.last_cleanup = Some(Instant::now());
        sqlx::query("DELETE FROM spans WHERE timestamp < now() - make_interval(secs => $1)")
            .bind(self.config.retention.as_secs_f64())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "DELETE FROM spans WHERE timestamp < \
             (SELECT timestamp FROM spans ORDER BY timestamp DESC OFFSET $1 LIMIT 1)",
        )
        .bind(self.config.max_rows)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Creates the database if it is missing, then the table.
async fn prepare(options: &PgConnectOptions, pool: &PgPool) -> Result<(), sqlx::Error> {
    if let Some(name) = options.get_database() {
        let mut maintenance = options.clone().database("postgres").connect().await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(name)
                .fetch_one(&mut maintenance)
                .await?;
        if !exists {
            // Identifiers cannot be bound as parameters; quote it instead.
            let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
            match sqlx::query(sqlx::AssertSqlSafe(create))
                .execute(&mut maintenance)
                .await
            {
                Ok(_) => {}
                // Created by someone else at the same moment: fine.
                Err(sqlx::Error::Database(e))
                    if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
                Err(e) => return Err(e),
            }
        }
        PgConnection::close(maintenance).await?;
    }
    sqlx::raw_sql(SCHEMA).execute(pool).await?;
    Ok(())
}

/// One INSERT for the whole batch: each column travels as one array and
/// `UNNEST` turns the arrays back into rows. A span sent twice (an exporter
/// retrying) is kept once.
async fn insert(pool: &PgPool, spans: &[Span]) -> Result<(), sqlx::Error> {
    let rows: Vec<Row> = spans.iter().map(Row::from).collect();
    macro_rules! column {
        ($field:ident) => {
            rows.iter().map(|r| r.$field.clone()).collect::<Vec<_>>()
        };
    }
    sqlx::query(include_str!("insert_spans.sql"))
        .bind(column!(start_us))
        .bind(column!(trace_id))
        .bind(column!(span_id))
        .bind(column!(parent_span_id))
        .bind(column!(trace_state))
        .bind(column!(span_name))
        .bind(column!(span_kind))
        .bind(column!(service_name))
        .bind(column!(resource_attributes))
        .bind(column!(scope_name))
        .bind(column!(span_attributes))
        .bind(column!(duration_ns))
        .bind(column!(status_code))
        .bind(column!(status_message))
        .bind(column!(events))
        .bind(column!(links))
        .execute(pool)
        .await?;
    Ok(())
}

/// A span as the table's columns (JSON columns as text; Postgres casts).
#[derive(Debug, PartialEq)]
struct Row {
    start_us: i64,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    trace_state: String,
    span_name: String,
    span_kind: String,
    service_name: String,
    resource_attributes: String,
    scope_name: String,
    span_attributes: String,
    duration_ns: i64,
    status_code: String,
    status_message: String,
    events: String,
    links: String,
}

impl From<&Span> for Row {
    fn from(span: &Span) -> Self {
        let mut resource = attributes(&span.process.tags);
        resource.insert("service.name".into(), json!(span.service()));
        let events: Vec<Json> = span
            .events
            .iter()
            .map(|e| {
                json!({
                    "timestamp": crate::time::format_us(e.time_us),
                    "name": e.name,
                    "attributes": attributes(&e.attributes),
                })
            })
            .collect();
        let links: Vec<Json> = span
            .links
            .iter()
            .map(|l| json!({ "trace_id": l.trace_id.as_str(), "span_id": l.span_id }))
            .collect();
        Row {
            start_us: i64::try_from(span.start_us).unwrap_or(i64::MAX),
            trace_id: span.trace_id.to_string(),
            span_id: span.span_id.clone(),
            parent_span_id: span.parent_span_id.clone().unwrap_or_default(),
            trace_state: span.trace_state.clone().unwrap_or_default(),
            span_name: span.name.clone(),
            span_kind: kind_name(span.kind).to_string(),
            service_name: span.service().to_string(),
            resource_attributes: Json::Object(resource).to_string(),
            scope_name: span.scope_name.clone().unwrap_or_default(),
            span_attributes: Json::Object(attributes(&span.attributes)).to_string(),
            duration_ns: i64::try_from(span.duration_us)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000),
            status_code: status_name(span.status).to_string(),
            status_message: span.status_message.clone().unwrap_or_default(),
            events: Json::Array(events).to_string(),
            links: Json::Array(links).to_string(),
        }
    }
}

/// `SPAN_KIND_SERVER`, ...: the names OTLP (and the clickhouse exporter) use.
pub fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Unspecified => "SPAN_KIND_UNSPECIFIED",
        SpanKind::Internal => "SPAN_KIND_INTERNAL",
        SpanKind::Server => "SPAN_KIND_SERVER",
        SpanKind::Client => "SPAN_KIND_CLIENT",
        SpanKind::Producer => "SPAN_KIND_PRODUCER",
        SpanKind::Consumer => "SPAN_KIND_CONSUMER",
    }
}

pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Unset => "STATUS_CODE_UNSET",
        Status::Ok => "STATUS_CODE_OK",
        Status::Error => "STATUS_CODE_ERROR",
    }
}

/// Attributes as a JSON object, keeping their types (`->>` reads them as
/// text, `(… ->> 'k')::int` as numbers).
fn attributes(list: &[Attribute]) -> Map<String, Json> {
    list.iter()
        .map(|a| {
            let value = match &a.value {
                Value::Str(s) => json!(s),
                Value::Bool(b) => json!(b),
                Value::Int(i) => json!(i),
                Value::Float(x) => json!(x),
                Value::Binary(b) => json!(crate::model::hex(b)),
            };
            (a.key.clone(), value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Process, TraceId};

    fn span(n: u64) -> Span {
        Span {
            trace_id: TraceId::parse("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            span_id: format!("{n:016x}"),
            name: format!("span {n}"),
            ..Span::default()
        }
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_counts_them() {
        let queue = SpanQueue::new(3);
        queue.push(&[span(1), span(2), span(3), span(4)]);
        let status = queue.status();
        assert_eq!((status.pending, status.dropped), (3, 1));
        let names: Vec<String> = queue.take(10).into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["span 2", "span 3", "span 4"]);
    }

    #[test]
    fn a_failed_batch_goes_back_in_front_as_far_as_there_is_room() {
        let queue = SpanQueue::new(3);
        queue.push(&[span(1), span(2)]);
        let batch = queue.take(2);
        queue.push(&[span(3), span(4)]);
        queue.put_back(batch);
        let names: Vec<String> = queue.take(10).into_iter().map(|s| s.name).collect();
        // Only one of the two old spans fits: the newer of them stays.
        assert_eq!(names, ["span 2", "span 3", "span 4"]);
        assert_eq!(queue.status().dropped, 1);
    }

    #[test]
    fn a_row_has_the_clickhouse_exporters_shapes() {
        let mut s = span(7);
        s.kind = SpanKind::Server;
        s.status = Status::Error;
        s.start_us = 1_700_000_000_000_001;
        s.duration_us = 1_500;
        s.attributes = vec![
            Attribute::new("http.response.status_code", Value::Int(502)),
            Attribute::new("http.route", Value::Str("/orders".into())),
        ];
        s.events = vec![Event {
            time_us: 1_700_000_000_000_002,
            name: "exception".into(),
            attributes: vec![Attribute::new("exception.type", Value::Str("E".into()))],
        }];
        s.process = Process {
            service: "api-gateway".into(),
            tags: vec![],
        };
        let row = Row::from(&s);
        assert_eq!(row.span_kind, "SPAN_KIND_SERVER");
        assert_eq!(row.status_code, "STATUS_CODE_ERROR");
        assert_eq!(row.parent_span_id, "", "a root has '' for its parent");
        assert_eq!(row.duration_ns, 1_500_000);
        assert_eq!(
            row.span_attributes,
            r#"{"http.response.status_code":502,"http.route":"/orders"}"#
        );
        assert_eq!(row.resource_attributes, r#"{"service.name":"api-gateway"}"#);
        assert!(row
            .events
            .contains(r#""timestamp":"2023-11-14T22:13:20.000002Z""#));
    }
}
