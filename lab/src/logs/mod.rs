//! `cargo lab logs <trace-id>`: every service's log lines of one trace, in
//! time order: what "grep the trace id" becomes when the log lines carry
//! their request's `trace_id` and `span_id` (lesson 13).
//!
//! ```text
//! trace 23bee23b25b8aafecbed9bb1ea5fd152 · 7 log lines · 4 services · .lab/logs/
//!
//! 15:31:33.943  +0 µs    user-service       INFO  355d567a  cache.miss        user.id=4
//! 15:31:33.944  +822 µs  user-service       INFO  355d567a  request finished  elapsed_ms=1 status=200
//! ...
//! ```
//!
//! Where the lines come from ([`LogSource`]): natively, the files
//! `scripts/dev-up.sh` writes (`.lab/logs/<service>.log`); in compose,
//! `docker compose logs`. `lab check` reads a lesson's `logs:` through the
//! same functions. How the rows are printed: [`render`].

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value};

use crate::client::JaegerClient;
use crate::model::TraceId;
use crate::stack::{self, Mode, SERVICES};
use crate::style::Style;

mod render;
pub use render::render;

/// Where the services' log lines are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogSource {
    /// `<dir>/<service>.log`, as dev-up writes them (`.lab/logs/`).
    Files(PathBuf),
    /// `docker compose logs <service>`, run in this workshop root.
    Compose(PathBuf),
}

impl LogSource {
    /// The native stack's log directory under a workshop root.
    pub fn native(root: &Path) -> LogSource {
        LogSource::Files(root.join(".lab").join("logs"))
    }

    /// Where the lines were read, for messages: `.lab/logs/` or
    /// `docker compose logs`.
    pub fn describe(&self, root: &Path) -> String {
        match self {
            LogSource::Files(dir) => {
                let shown = dir.strip_prefix(root).unwrap_or(dir);
                format!("{}/", shown.display())
            }
            LogSource::Compose(_) => "docker compose logs".to_string(),
        }
    }

    /// One service's whole log; empty when a native service never wrote one.
    pub fn read(&self, service: &str) -> anyhow::Result<String> {
        match self {
            LogSource::Files(dir) => {
                let path = dir.join(format!("{service}.log"));
                match std::fs::read(&path) {
                    // A line cut by a crash may not be UTF-8: keep the rest.
                    Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
                    Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
                }
            }
            LogSource::Compose(root) => {
                let out = Command::new("docker")
                    .args(["compose", "logs", "--no-color", "--no-log-prefix", service])
                    .current_dir(root)
                    .output()
                    .map_err(|e| anyhow::anyhow!("cannot run docker compose ({e})"))?;
                if !out.status.success() {
                    anyhow::bail!(
                        "`docker compose logs {service}` failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
        }
    }
}

/// One JSON log line of a trace.
#[derive(Clone, Debug)]
pub struct LogLine {
    pub service: String,
    /// `timestamp`, in microseconds since the epoch (`None`: unreadable).
    pub time_us: Option<u64>,
    /// The line as the service wrote it.
    pub raw: String,
    pub fields: Map<String, Value>,
}

impl LogLine {
    /// A field as text (`span_id`, `message`, `level`).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    /// `line` as a log line of `service`, if it is a JSON object.
    fn parse(service: &str, line: &str) -> Option<LogLine> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) else {
            return None;
        };
        Some(LogLine {
            service: service.to_string(),
            time_us: fields
                .get("timestamp")
                .and_then(Value::as_str)
                .and_then(crate::time::parse_us),
            raw: line.to_string(),
            fields,
        })
    }
}

/// The JSON lines of `text` whose `trace_id` field is `trace_id`, in the
/// order written. Other lines (start-up banners, other traces, lines that
/// mention the id only in their message) are not the trace's.
pub fn lines_of(service: &str, text: &str, trace_id: &TraceId) -> Vec<LogLine> {
    let id = trace_id.as_str();
    text.lines()
        // Cheap first: most lines are of other traces.
        .filter(|line| line.contains(id))
        .filter_map(|line| LogLine::parse(service, line))
        .filter(|line| line.text("trace_id") == Some(id))
        .collect()
}

/// The JSON lines of `text` that hold `trace_id` somewhere else than in a
/// `trace_id` field of that exact text: under another name (`trace.id`,
/// `traceId`, nested), or in another form (uppercase). Nobody finds those
/// by trace id; `lab check` says where the id went.
pub fn mentions_of(service: &str, text: &str, trace_id: &TraceId) -> Vec<LogLine> {
    let id = trace_id.as_str();
    text.lines()
        .filter(|line| line.to_ascii_lowercase().contains(id))
        .filter_map(|line| LogLine::parse(service, line))
        .filter(|line| line.text("trace_id") != Some(id))
        .collect()
}

/// Every service's lines of the trace, merged in time order (a stable
/// sort: lines of one service with the same time keep their order).
pub fn collect(source: &LogSource, trace_id: &TraceId) -> anyhow::Result<Collected> {
    let mut lines = Vec::new();
    let mut read = 0;
    for service in SERVICES {
        let text = source.read(service)?;
        read += text.lines().count();
        lines.extend(lines_of(service, &text, trace_id));
    }
    lines.sort_by_key(|l| l.time_us.unwrap_or(u64::MAX));
    Ok(Collected { lines, read })
}

/// A trace's log lines and how many lines were read to find them.
pub struct Collected {
    pub lines: Vec<LogLine>,
    pub read: usize,
}

/// Parses what the learner typed: a trace id (32 hex digits, or Jaeger's
/// 16 when the high half is zero) or a whole `traceparent` /
/// `traceresponse` header value, whose second part is the trace id.
pub fn parse_trace_id(text: &str) -> anyhow::Result<TraceId> {
    let text = text.trim();
    let parts: Vec<&str> = text.split('-').collect();
    let candidate = match parts.as_slice() {
        [_, id, _, _] => id,
        _ => text,
    };
    let ok = matches!(candidate.len(), 16 | 32) && candidate.chars().all(|c| c.is_ascii_hexdigit());
    match TraceId::parse(candidate) {
        Ok(id) if ok => Ok(id),
        _ => anyhow::bail!(
            "{text:?} is not a trace id. A trace id is 32 hexadecimal digits (0-9, a-f), not all \
             zeros, like 4bf92f3577b34da6a3ce929d0e0e4736: the `trace_id` of a gateway response, \
             the `trace_id` field of a log line, or the middle of a `traceresponse` header. \
             `cargo lab logs latest` takes the newest trace."
        ),
    }
}

/// `cargo lab logs <id|latest>`: the trace's lines, rendered (or raw, one
/// JSON object per line, with `json`).
pub async fn run(
    root: &Path,
    which: &str,
    jaeger: &str,
    json: bool,
    style: Style,
) -> anyhow::Result<String> {
    // A bad id is a mistake whatever runs: say so before looking anywhere.
    let given = (which != "latest")
        .then(|| parse_trace_id(which))
        .transpose()?;
    let (source, note) = source(root)?;
    let trace_id = match given {
        Some(id) => id,
        None => latest(jaeger).await?,
    };
    let collected = collect(&source, &trace_id)?;
    if collected.lines.is_empty() {
        anyhow::bail!(
            "{}",
            nothing_found(root, &source, &trace_id, collected.read)
        );
    }
    if json {
        let mut out = String::new();
        for line in &collected.lines {
            out.push_str(&line.raw);
            out.push('\n');
        }
        return Ok(out);
    }
    let mut out = String::new();
    if let Some(note) = note {
        out.push_str(&style.dim(&note));
        out.push('\n');
    }
    out.push_str(&render(
        &trace_id,
        &collected.lines,
        &source.describe(root),
        style,
    ));
    let silent: Vec<&str> = SERVICES
        .iter()
        .rev() // callers first, as people read a request
        .filter(|s| !collected.lines.iter().any(|l| l.service == **s))
        .copied()
        .collect();
    if !silent.is_empty() {
        out.push_str(&format!(
            "\n{}\n",
            style.dim(&format!(
                "no line from {}: not on this request's path, or its RUST_LOG hides these levels",
                silent.join(", ")
            ))
        ));
    }
    let newest_us = collected.lines.iter().filter_map(|l| l.time_us).max();
    let footer = match trace_kept(jaeger, &trace_id, newest_us).await {
        TraceKept::Yes => format!("the trace: cargo lab trace {trace_id}"),
        TraceKept::No(base) => format!(
            "no trace {trace_id} at {base}: its request was not sampled (the services write \
             these lines, with the ids, either way), or its spans were lost on the way"
        ),
        TraceKept::Unknown(base) => format!(
            "no trace backend answers at {base}: whether this request left a trace is not known \
             here"
        ),
    };
    out.push_str(&format!("\n{}\n", style.dim(&footer)));
    Ok(out)
}

/// Whether the trace backend holds the trace of the lines just printed.
enum TraceKept {
    Yes,
    /// The backend answers and has no such trace (its base URL).
    No(String),
    /// No backend answers there.
    Unknown(String),
}

/// How long after a request its spans may still be on their way: the
/// batch export waits up to 5 s in compose (1 s natively), plus a margin.
const EXPORT_WINDOW_US: u64 = 6_000_000;

/// Asks the backend for the trace. Lines written less than an export
/// window ago may have been written before their spans left the services,
/// so for them it asks again until the window has passed: a trace that
/// comes late is not reported as "not sampled".
async fn trace_kept(jaeger: &str, id: &TraceId, newest_us: Option<u64>) -> TraceKept {
    let client = JaegerClient::new(jaeger);
    let until_us = newest_us.map_or(0, |t| t.saturating_add(EXPORT_WINDOW_US));
    loop {
        match client.trace(id).await {
            Ok(Some(_)) => return TraceKept::Yes,
            Ok(None) if crate::now_us() < until_us => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Ok(None) => return TraceKept::No(client.base().to_string()),
            Err(_) => return TraceKept::Unknown(client.base().to_string()),
        }
    }
}

/// Which logs to read: the native stack's files, compose's logs, or the
/// files a stopped native stack left (with a note saying so).
fn source(root: &Path) -> anyhow::Result<(LogSource, Option<String>)> {
    match stack::detect_mode(root) {
        Mode::Native => Ok((LogSource::native(root), None)),
        Mode::Compose => Ok((LogSource::Compose(root.to_path_buf()), None)),
        Mode::Nothing => {
            let native = LogSource::native(root);
            let LogSource::Files(dir) = &native else {
                unreachable!("native logs are files")
            };
            let any = SERVICES
                .iter()
                .any(|s| dir.join(format!("{s}.log")).is_file());
            if !any {
                anyhow::bail!(
                    "no workshop runs here ({}), and no native run left logs in {}. Start it \
                     (`scripts/dev-up.sh`, or `docker compose up --build -d`), send a request, \
                     then ask for its trace id's lines.",
                    root.display(),
                    native.describe(root)
                );
            }
            let note = format!(
                "no stack is running: reading the logs the last native run left in {}",
                native.describe(root)
            );
            Ok((native, Some(note)))
        }
    }
}

/// The newest trace of the gateway, from the trace backend.
async fn latest(jaeger: &str) -> anyhow::Result<TraceId> {
    let client = JaegerClient::new(jaeger);
    let newest = client
        .find("api-gateway", 20, None)
        .await?
        .into_iter()
        .next();
    newest.map(|t| t.trace_id).ok_or_else(|| {
        anyhow::anyhow!(
            "{} has no traces of api-gateway yet, so there is no `latest`. Send a request, or \
             give a trace id (every response's `trace_id`).",
            client.base()
        )
    })
}

/// The error when no line carries the id: where it looked, and why that
/// may be.
fn nothing_found(root: &Path, source: &LogSource, id: &TraceId, read: usize) -> String {
    let place = match source {
        LogSource::Files(_) => format!(
            "{} ({} lines read from {})",
            source.describe(root),
            read,
            SERVICES
                .iter()
                .map(|s| format!("{s}.log"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        LogSource::Compose(_) => format!(
            "docker compose logs of {} ({read} lines)",
            SERVICES.join(", ")
        ),
    };
    format!(
        "no log line carries trace_id {id} in {place}. Likely reasons:\n  \
         - the id comes from another stack (compose vs native, another checkout);\n  \
         - the lines are gone (the log files were removed, or the containers recreated);\n  \
         - the services' log format writes no `trace_id` (lesson 13: telemetry/src/logging.rs).\n\
         Sampling is not a reason: a service writes the ids into its log lines whether or not \
         the trace was kept."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    #[test]
    fn only_json_lines_whose_trace_id_field_is_the_id_count() {
        let id = TraceId::parse(ID).unwrap();
        let text = format!(
            "--- started Wed Dec  2 15:09:34 UTC 2026 ---\n\
             {{\"timestamp\":\"2026-12-02T15:09:36.000002Z\",\"trace_id\":\"{ID}\",\"message\":\"b\"}}\n\
             {{\"message\":\"retrying {ID}\"}}\n\
             not json {ID}\n\
             {{\"timestamp\":\"2026-12-02T15:09:36.000001Z\",\"trace_id\":\"{}\",\"message\":\"a\"}}\n",
            ID.to_uppercase()
        );
        let lines = lines_of("order-service", &text, &id);
        let messages: Vec<_> = lines.iter().map(|l| l.text("message").unwrap()).collect();
        assert_eq!(
            messages,
            ["b"],
            "ids are lowercase hex (W3C): an uppercase one is another text"
        );
    }

    #[test]
    fn a_trace_id_is_32_or_16_hex_digits_or_a_header_value() {
        assert_eq!(parse_trace_id(ID).unwrap().as_str(), ID);
        assert_eq!(parse_trace_id(&ID.to_uppercase()).unwrap().as_str(), ID);
        let header = format!("00-{ID}-00f067aa0ba902b7-01");
        assert_eq!(parse_trace_id(&header).unwrap().as_str(), ID);
        assert_eq!(
            parse_trace_id("a3ce929d0e0e4736").unwrap().as_str(),
            "0000000000000000a3ce929d0e0e4736"
        );
        for bad in ["", "xyz", "4bf92f", &"0".repeat(32), &format!("{ID}0")] {
            let error = parse_trace_id(bad).unwrap_err().to_string();
            assert!(error.contains("32 hexadecimal digits"), "{bad}: {error}");
        }
    }
}
