//! RED metrics from spans: for each operation a service serves (its SERVER
//! and CONSUMER spans), the **R**ate of calls, the share that were
//! **E**rrors, and the **D**uration percentiles p50/p95/p99, each with an
//! exemplar: the trace of the call that sits at that percentile, so a
//! number on a dashboard is one click from a trace that shows it.
//!
//! One computation for both places that show it: the sink's operations page
//! (spans from memory) and `cargo lab stats` (spans from Postgres). This is
//! what the collector's span metrics connector does in compose (counters and
//! histograms from spans, which Jaeger's Monitor tab reads), computed here
//! from the spans themselves: exact percentiles instead of histogram buckets.
//!
//! Spans are what the sampler kept: with a 10 % head sampler the counts and
//! the rate are a tenth of the traffic. `sampling_ratio` divides them back
//! (an estimate); the error share and the percentiles need no correction,
//! since a ratio sampler keeps every trace with the same probability.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{SpanKind, Status, Trace};

/// One served call: what the percentiles and rates are made of.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub service: String,
    pub kind: SpanKind,
    pub operation: String,
    /// Microseconds since the Unix epoch.
    pub start_us: u64,
    pub duration_us: u64,
    pub error: bool,
    pub trace_id: String,
}

/// The calls in some traces: every SERVER and CONSUMER span.
pub fn calls(traces: &[Trace]) -> Vec<Call> {
    traces
        .iter()
        .flat_map(|t| &t.spans)
        .filter(|s| matches!(s.kind, SpanKind::Server | SpanKind::Consumer))
        .map(|s| Call {
            service: s.service().to_string(),
            kind: s.kind,
            operation: s.name.clone(),
            start_us: s.start_us,
            duration_us: s.duration_us,
            error: s.status == Status::Error,
            trace_id: s.trace_id.to_string(),
        })
        .collect()
}

/// A duration at a percentile and the trace of the call that has it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentile {
    pub us: u64,
    pub trace_id: String,
}

/// RED for one operation of one service.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Operation {
    pub service: String,
    /// `server` or `consumer`.
    pub kind: &'static str,
    pub operation: String,
    /// Calls seen (spans kept by the sampler).
    pub calls: u64,
    /// Calls per second over the window, divided by the sampling ratio.
    pub rate_per_s: f64,
    pub errors: u64,
    /// errors / calls, 0.0 to 1.0.
    pub error_share: f64,
    pub p50: Percentile,
    pub p95: Percentile,
    pub p99: Percentile,
}

/// Groups calls by (service, kind, operation), sorted by service then
/// operation. `window_s` is what the rate is over; `sampling_ratio` (0–1]
/// scales calls back to traffic.
pub fn operations(calls: &[Call], window_s: f64, sampling_ratio: f64) -> Vec<Operation> {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&Call>> = BTreeMap::new();
    for call in calls {
        groups
            .entry((&call.service, call.kind.as_str(), &call.operation))
            .or_default()
            .push(call);
    }
    groups
        .into_iter()
        .map(|((service, kind, operation), mut group)| {
            group.sort_by_key(|c| c.duration_us);
            let errors = group.iter().filter(|c| c.error).count() as u64;
            let n = group.len() as u64;
            let at = |p: f64| {
                let call = group[nearest_rank(p, group.len())];
                Percentile {
                    us: call.duration_us,
                    trace_id: call.trace_id.clone(),
                }
            };
            Operation {
                service: service.to_string(),
                kind: if kind == "consumer" {
                    "consumer"
                } else {
                    "server"
                },
                operation: operation.to_string(),
                calls: n,
                rate_per_s: n as f64 / window_s.max(1e-9) / sampling_ratio,
                errors,
                error_share: errors as f64 / n as f64,
                p50: at(0.50),
                p95: at(0.95),
                p99: at(0.99),
            }
        })
        .collect()
}

/// The nearest-rank percentile's index in `n` sorted values: the smallest
/// value with at least `p` of all values at or below it. It is always a
/// value that happened, so it has a trace to show.
pub fn nearest_rank(p: f64, n: usize) -> usize {
    ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1
}

/// `5m`, `30s`, `1h`, `1.5s`: a window as the learner would write it.
pub fn window_label(window: std::time::Duration) -> String {
    let s = window.as_secs_f64();
    if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s >= 60.0 && s % 60.0 == 0.0 {
        format!("{}m", s / 60.0)
    } else {
        format!("{s}s")
    }
}

/// The table `cargo lab stats` prints.
pub fn render(operations: &[Operation], window: &str, sampling_ratio: f64) -> String {
    if operations.is_empty() {
        return format!(
            "No SERVER or CONSUMER spans in the last {window}: send some traffic \
             (cargo lab load) and try again.\n"
        );
    }
    let duration = crate::style::duration;
    let rows: Vec<[String; 8]> = operations
        .iter()
        .map(|o| {
            [
                o.service.clone(),
                format!("{} {}", o.kind.to_uppercase(), o.operation),
                o.calls.to_string(),
                format!("{:.2}", o.rate_per_s),
                format!("{:.1} %", o.error_share * 100.0),
                duration(o.p50.us),
                duration(o.p95.us),
                duration(o.p99.us),
            ]
        })
        .collect();
    let header = [
        "service",
        "operation",
        "calls",
        "rate/s",
        "errors",
        "p50",
        "p95",
        "p99",
    ];
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let text: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i < 2 {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        text.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    let scaled = if sampling_ratio < 1.0 {
        format!(", rate divided by the sampling ratio {sampling_ratio}")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "(last {window}{scaled}; percentiles are nearest-rank over the calls seen; \
         --json gives each one's trace)\n"
    ));
    out
}

/// The calls of the last `since` from the spans table (`cargo lab stats`),
/// optionally of one service.
pub async fn calls_from_database(
    url: &str,
    since: std::time::Duration,
    service: Option<&str>,
) -> anyhow::Result<Vec<Call>> {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| anyhow::anyhow!("{url:?} is not a Postgres URL: {e}"))?;
    let mut connection = options.connect().await.map_err(|e| {
        anyhow::anyhow!("cannot reach the spans database at {url} ({e}); is the stack running?")
    })?;
    let rows: Vec<(String, String, String, i64, i64, String, String)> = sqlx::query_as(
        "SELECT service_name, span_kind, span_name, \
                (extract(epoch FROM timestamp) * 1000000)::int8, duration_ns, status_code, trace_id \
         FROM spans \
         WHERE span_kind IN ('SPAN_KIND_SERVER', 'SPAN_KIND_CONSUMER') \
           AND timestamp > now() - make_interval(secs => $1) \
           AND ($2::text IS NULL OR service_name = $2)",
    )
    .bind(since.as_secs_f64())
    .bind(service)
    .fetch_all(&mut connection)
    .await
    .map_err(|e| anyhow::anyhow!("cannot read the spans table at {url}: {e}"))?;
    Ok(rows
        .into_iter()
        .map(
            |(service, kind, operation, start_us, duration_ns, status, trace_id)| Call {
                service,
                kind: if kind == "SPAN_KIND_CONSUMER" {
                    SpanKind::Consumer
                } else {
                    SpanKind::Server
                },
                operation,
                start_us: u64::try_from(start_us).unwrap_or(0),
                duration_us: u64::try_from(duration_ns / 1000).unwrap_or(0),
                error: status == "STATUS_CODE_ERROR",
                trace_id,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(operation: &str, ms: u64, error: bool) -> Call {
        Call {
            service: "api-gateway".into(),
            kind: SpanKind::Server,
            operation: operation.into(),
            start_us: 0,
            duration_us: ms * 1000,
            error,
            trace_id: format!("trace-{ms}"),
        }
    }

    #[test]
    fn windows_read_as_written() {
        use std::time::Duration;
        assert_eq!(window_label(Duration::from_secs(300)), "5m");
        assert_eq!(window_label(Duration::from_secs(7200)), "2h");
        assert_eq!(window_label(Duration::from_secs(90)), "90s");
        assert_eq!(window_label(Duration::from_millis(1500)), "1.5s");
    }

    #[test]
    fn nearest_rank_is_a_value_that_happened() {
        assert_eq!(nearest_rank(0.5, 1), 0);
        assert_eq!(nearest_rank(0.5, 4), 1);
        assert_eq!(nearest_rank(0.95, 100), 94);
        assert_eq!(nearest_rank(0.99, 100), 98);
        assert_eq!(nearest_rank(0.99, 10), 9);
    }

    #[test]
    fn rate_errors_and_percentiles_with_their_traces() {
        let mut calls: Vec<Call> = (1..=100)
            .map(|ms| call("POST /orders", ms, ms > 90))
            .collect();
        calls.push(call("GET /health", 1, false));
        let ops = operations(&calls, 50.0, 1.0);
        assert_eq!(ops.len(), 2);
        let orders = ops.iter().find(|o| o.operation == "POST /orders").unwrap();
        assert_eq!(orders.calls, 100);
        assert_eq!(orders.rate_per_s, 2.0);
        assert_eq!((orders.errors, orders.error_share), (10, 0.1));
        assert_eq!(orders.p50.us, 50_000);
        assert_eq!(
            orders.p95,
            Percentile {
                us: 95_000,
                trace_id: "trace-95".into()
            }
        );
        assert_eq!(orders.p99.us, 99_000);
    }

    #[test]
    fn a_ten_percent_sampler_shows_a_tenth_unless_weighted() {
        let calls: Vec<Call> = (1..=10).map(|ms| call("POST /orders", ms, false)).collect();
        let seen = operations(&calls, 10.0, 1.0);
        let weighted = operations(&calls, 10.0, 0.1);
        assert_eq!(seen[0].rate_per_s, 1.0);
        assert!((weighted[0].rate_per_s - 10.0).abs() < 1e-9);
        assert_eq!(
            seen[0].p95, weighted[0].p95,
            "percentiles need no weighting"
        );
    }
}
