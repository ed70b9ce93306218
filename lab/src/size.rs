//! `cargo lab size`: how much memory the collector's `tail_sampling`
//! processor needs, and the `num_traces` to give it, from the traffic.
//!
//! The processor keeps every span of a trace from the trace's first span
//! until `decision_wait` later, then asks its policies and lets the spans go.
//! So at R new traces a second it holds R × W traces of S spans each.
//! `num_traces` caps how many it holds: when a new trace arrives and the cap
//! is reached, the oldest is dropped before its decision (the processor's
//! README in collector-contrib, "Monitoring and Tuning": "Dropped Traces").
//! What one span costs in memory is not in the processor's documentation,
//! so [`DEFAULT_BYTES_PER_SPAN`] is an assumption and `--bytes-per-span`
//! replaces it.
//!
//! [`estimate`] is the arithmetic alone (its tests are hand-computed);
//! [`Estimate::render`] prints it, `--json` serialises it.

use std::time::Duration;

use serde::Serialize;

use crate::style::Style;

/// Assumed memory of one span held by the processor: 1.5 KiB, the middle of
/// 1–2 KiB for a span with about 15 attributes once decoded into the
/// collector's in-memory form (assumed larger than its OTLP bytes on the
/// wire). An assumption, not a measurement: neither the processor's README
/// nor the collector-contrib issues searched give a per-span figure
/// (docs/sampling.md, "Sizing the tail sampler").
pub const DEFAULT_BYTES_PER_SPAN: u64 = 1536;

/// Default headroom: `num_traces` twice the steady state, for bursts.
pub const DEFAULT_HEADROOM: f64 = 2.0;

/// What the learner told us, already parsed and checked (all above zero).
#[derive(Clone, Debug)]
pub struct SizeInput {
    /// New traces per second reaching this collector.
    pub traces_per_second: f64,
    /// Spans in one trace (an average: may be fractional).
    pub spans_per_trace: f64,
    /// The processor's `decision_wait`, counted from a trace's first span.
    pub decision_wait: Duration,
    /// How long the longest trace keeps sending spans, when known.
    pub longest_trace: Option<Duration>,
    pub bytes_per_span: u64,
    /// Whether `bytes_per_span` is our assumption (not given by the learner).
    pub bytes_assumed: bool,
    /// `num_traces` = steady state × this.
    pub headroom: f64,
    /// A configured `num_traces` to judge.
    pub num_traces: Option<u64>,
}

/// How a configured `num_traces` compares with the steady state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Below R × W: traces are dropped before their decision, all the time.
    TooSmall,
    /// Holds the steady state, with less than the asked headroom.
    NoHeadroom,
    Enough,
}

/// The estimate and every number behind it (the `--json` shape).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub traces_per_second: f64,
    pub spans_per_trace: f64,
    pub decision_wait_seconds: f64,
    pub longest_trace_seconds: Option<f64>,
    pub bytes_per_span: u64,
    pub bytes_per_span_assumed: bool,
    pub headroom: f64,
    /// R × W: traces waiting for their decision at any moment.
    pub traces_held: f64,
    /// traces_held × S.
    pub spans_held: f64,
    /// spans_held × bytes per span.
    pub bytes_held: f64,
    /// ⌈R × W⌉: below this, traces are dropped before their decision.
    pub num_traces_minimum: u64,
    /// ⌈R × W × headroom⌉: the value to configure.
    pub num_traces_suggested: u64,
    /// ⌈R⌉, the processor's `expected_new_traces_per_sec`.
    pub expected_new_traces_per_sec: u64,
    /// The `num_traces` the ceiling below is for: the given one, else the suggested one.
    pub num_traces: u64,
    /// Memory when a burst fills all `num_traces` with undecided traces.
    pub bytes_at_num_traces: f64,
    /// The given `num_traces` judged, when one was given.
    pub num_traces_verdict: Option<Verdict>,
    /// `decision_wait` is shorter than the longest trace.
    pub decision_wait_too_short: bool,
}

impl Estimate {
    /// False when a value the learner asked about is wrong: a `num_traces`
    /// below the steady state, or a `decision_wait` shorter than the longest
    /// trace (the command then exits 1, like a failed check).
    pub fn ok(&self) -> bool {
        !self.decision_wait_too_short && self.num_traces_verdict != Some(Verdict::TooSmall)
    }
}

/// The arithmetic: traces, spans and bytes held, and `num_traces`.
pub fn estimate(input: &SizeInput) -> anyhow::Result<Estimate> {
    let wait = input.decision_wait.as_secs_f64();
    let traces_held = input.traces_per_second * wait;
    let spans_held = traces_held * input.spans_per_trace;
    let bytes_held = spans_held * input.bytes_per_span as f64;
    let suggested = (traces_held * input.headroom).ceil();
    // Past 2^53 an f64 no longer counts traces one by one: far beyond any
    // collector, so refuse rather than print a rounded number.
    if !(bytes_held.is_finite() && suggested < 9.0e15 && bytes_held < 9.0e18) {
        anyhow::bail!(
            "{} traces/s × {} spans for {wait} s is too large to estimate: check the numbers",
            input.traces_per_second,
            input.spans_per_trace
        );
    }
    let num_traces = input.num_traces.unwrap_or(suggested as u64);
    let minimum = traces_held.ceil() as u64;
    let verdict = input.num_traces.map(|n| {
        if n < minimum {
            Verdict::TooSmall
        } else if n < suggested as u64 {
            Verdict::NoHeadroom
        } else {
            Verdict::Enough
        }
    });
    Ok(Estimate {
        traces_per_second: input.traces_per_second,
        spans_per_trace: input.spans_per_trace,
        decision_wait_seconds: wait,
        longest_trace_seconds: input.longest_trace.map(|d| d.as_secs_f64()),
        bytes_per_span: input.bytes_per_span,
        bytes_per_span_assumed: input.bytes_assumed,
        headroom: input.headroom,
        traces_held,
        spans_held,
        bytes_held,
        num_traces_minimum: minimum,
        num_traces_suggested: suggested as u64,
        expected_new_traces_per_sec: input.traces_per_second.ceil() as u64,
        num_traces,
        bytes_at_num_traces: num_traces as f64
            * input.spans_per_trace
            * input.bytes_per_span as f64,
        num_traces_verdict: verdict,
        decision_wait_too_short: input.longest_trace.is_some_and(|l| l > input.decision_wait),
    })
}

impl Estimate {
    /// The estimate as the learner reads it: each number with the sum behind it.
    pub fn render(&self, style: Style) -> String {
        let e = self;
        let wait = seconds(e.decision_wait_seconds);
        let minimum = count(e.num_traces_minimum as f64);
        let mut out = format!(
            "{}\n\n",
            style.bold("Tail sampler memory (the collector's `tail_sampling` processor)")
        );
        out.push_str(&format!(
            "  traces held   {:>10}  = {} traces/s × decision_wait {wait}\n",
            count(e.traces_held),
            number(e.traces_per_second)
        ));
        out.push_str(&format!(
            "  spans held    {:>10}  = {} traces × {} spans\n",
            count(e.spans_held),
            count(e.traces_held),
            number(e.spans_per_trace)
        ));
        let assumed = if e.bytes_per_span_assumed {
            " (assumed)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  memory        {:>10}  = {} spans × {} per span{assumed}\n",
            bytes(e.bytes_held),
            count(e.spans_held),
            bytes(e.bytes_per_span as f64)
        ));
        out.push_str(&format!(
            "  num_traces    {:>10}  = {} traces × {} headroom (at least {minimum})\n",
            count(e.num_traces_suggested as f64),
            count(e.traces_held),
            number(e.headroom)
        ));
        out.push_str(&format!(
            "  at most       {:>10}  = {} traces × {} spans × {} (num_traces full)\n",
            bytes(e.bytes_at_num_traces),
            count(e.num_traces as f64),
            number(e.spans_per_trace),
            bytes(e.bytes_per_span as f64)
        ));
        out.push_str(&format!(
            "\n  tail_sampling:\n    decision_wait: {}\n    num_traces: {}\n    \
             expected_new_traces_per_sec: {}\n",
            yaml_duration(e.decision_wait_seconds),
            e.num_traces_suggested,
            e.expected_new_traces_per_sec
        ));
        out.push('\n');
        if let Some(verdict) = e.num_traces_verdict {
            let given = count(e.num_traces as f64);
            let (mark, says) = match verdict {
                Verdict::TooSmall => (
                    style.red("✗"),
                    format!("num_traces {given} is too small: it must hold at least {minimum}."),
                ),
                Verdict::NoHeadroom => (
                    style.yellow("!"),
                    format!(
                        "num_traces {given} holds the steady state ({minimum}) but leaves less \
                         than {}× for bursts.",
                        number(e.headroom)
                    ),
                ),
                Verdict::Enough => (
                    style.green("✓"),
                    format!(
                        "num_traces {given} holds the steady state ({minimum}) with room for \
                         bursts."
                    ),
                ),
            };
            out.push_str(&format!("{mark} {}", wrap(&says)));
        }
        if let Some(longest) = e.longest_trace_seconds {
            let longest = seconds(longest);
            if e.decision_wait_too_short {
                let says = format!(
                    "decision_wait {wait} is shorter than the longest trace ({longest}): such a \
                     trace is decided {wait} after its first span, on the spans that arrived by \
                     then (a latency policy sees it short, an error in a later span is missed); \
                     its later spans follow that decision while the processor still holds it, \
                     else they start a new trace. Raise decision_wait to at least {longest}."
                );
                out.push_str(&format!("{} {}", style.red("✗"), wrap(&says)));
            } else {
                let says = format!("decision_wait {wait} covers the longest trace ({longest}).");
                out.push_str(&format!("{} {}", style.green("✓"), wrap(&says)));
            }
        }
        if e.num_traces_verdict.is_some() || e.longest_trace_seconds.is_some() {
            out.push('\n');
        }
        out.push_str(&wrap(&format!(
            "Too small a num_traces: below {minimum}, each new trace pushes out the oldest \
             before its decision_wait is over; that trace is dropped unsampled \
             (otelcol_processor_tail_sampling_sampling_trace_dropped_too_early counts it) and \
             its later spans start a new trace, decided without the dropped ones."
        )));
        let size = if e.bytes_per_span_assumed {
            format!(
                " The {} per span is an assumption (docs/sampling.md says why): measure yours \
                 and pass --bytes-per-span.",
                bytes(e.bytes_per_span as f64)
            )
        } else {
            String::new()
        };
        out.push_str(&wrap(&format!(
            "Not counted: the collector's own memory, its queues, the Go heap's slack.{size}"
        )));
        out
    }
}

/// Words wrapped at 76 columns, later lines indented by two; ends with a newline.
fn wrap(text: &str) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if line > 0 && line + 1 + len > 76 {
            out.push_str("\n  ");
            line = 2;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += len;
    }
    out.push('\n');
    out
}

/// A positive, finite number (`100`, `0.5`), for rates and counts.
pub fn positive_number(text: &str, what: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        Ok(_) => Err(format!("{what} must be above zero, got {text}")),
        Err(_) => Err(format!(
            "{what} must be a number such as 100 or 0.5, got {text:?}"
        )),
    }
}

/// A positive whole number (`num_traces`).
pub fn positive_integer(text: &str, what: &str) -> Result<u64, String> {
    match text.trim().replace('_', "").parse::<i128>() {
        Ok(n) if n > 0 => u64::try_from(n).map_err(|_| format!("{what} {text} is too large")),
        Ok(_) => Err(format!("{what} must be above zero, got {text}")),
        Err(_) => Err(format!(
            "{what} must be a whole number such as 50000, got {text:?}"
        )),
    }
}

/// A duration above zero: `30s`, `500ms`, `2m`, or plain seconds (`30`).
pub fn positive_duration(text: &str, what: &str) -> Result<Duration, String> {
    if text.trim().starts_with('-') {
        return Err(format!("{what} cannot be negative, got {text}"));
    }
    let duration = crate::load::parse_duration(text).map_err(|e| format!("{what}: {e}"))?;
    if duration.is_zero() {
        return Err(format!("{what} must be longer than zero, got {text}"));
    }
    Ok(duration)
}

/// Bytes: `1536`, `1536B`, `1.5KiB`, `2KiB`, `1MiB`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit() && c != '.' && c != '-')
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "bytes per span: unknown unit {other:?} in {text:?} (use a number of bytes, KiB or MiB)"
            ))
        }
    };
    let n = positive_number(number, "bytes per span")? * scale;
    if !(1.0..=1e12).contains(&n) {
        return Err(format!(
            "bytes per span {text} is out of range (1 B to 1 TB)"
        ));
    }
    Ok(n.round() as u64)
}

/// `3,000`: rounded up, with thousands separators.
fn count(n: f64) -> String {
    let digits = format!("{}", n.ceil() as u64);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `100`, `0.5`, `12.5`: as typed (Rust prints an f64 without trailing zeros).
fn number(n: f64) -> String {
    format!("{n}")
}

/// `30 s`, `0.5 s`.
fn seconds(s: f64) -> String {
    format!("{} s", number(s))
}

/// The collector's duration syntax: `30s`, `1.5s`.
fn yaml_duration(s: f64) -> String {
    format!("{}s", number(s))
}

/// `52.7 MiB`: binary units, one decimal above a KiB.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if n < 1024.0 {
        return format!("{} B", n.round() as u64);
    }
    let mut value = n / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", number((value * 10.0).round() / 10.0), UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(rate: f64, spans: f64, wait_s: u64) -> SizeInput {
        SizeInput {
            traces_per_second: rate,
            spans_per_trace: spans,
            decision_wait: Duration::from_secs(wait_s),
            longest_trace: None,
            bytes_per_span: DEFAULT_BYTES_PER_SPAN,
            bytes_assumed: true,
            headroom: DEFAULT_HEADROOM,
            num_traces: None,
        }
    }

    #[test]
    fn hand_computed_estimate() {
        // 100 traces/s × 30 s = 3,000 traces; × 12 spans = 36,000 spans;
        // × 1,536 B = 55,296,000 B. num_traces: 3,000 × 2 = 6,000, and a full
        // buffer holds 6,000 × 12 × 1,536 = 110,592,000 B.
        let e = estimate(&input(100.0, 12.0, 30)).unwrap();
        assert_eq!(e.traces_held, 3_000.0);
        assert_eq!(e.spans_held, 36_000.0);
        assert_eq!(e.bytes_held, 55_296_000.0);
        assert_eq!(e.num_traces_minimum, 3_000);
        assert_eq!(e.num_traces_suggested, 6_000);
        assert_eq!(e.expected_new_traces_per_sec, 100);
        assert_eq!(e.num_traces, 6_000);
        assert_eq!(e.bytes_at_num_traces, 110_592_000.0);
        assert_eq!(e.num_traces_verdict, None);
        assert!(!e.decision_wait_too_short);
        assert!(e.ok());
    }

    #[test]
    fn fractional_rate_rounds_up() {
        // 2.5 traces/s × 10 s = 25 traces; × 1.5 headroom = 37.5 → 38.
        let mut i = input(2.5, 4.0, 10);
        i.headroom = 1.5;
        i.bytes_per_span = 1000;
        let e = estimate(&i).unwrap();
        assert_eq!(e.traces_held, 25.0);
        assert_eq!(e.spans_held, 100.0);
        assert_eq!(e.bytes_held, 100_000.0);
        assert_eq!(e.num_traces_suggested, 38);
        assert_eq!(e.expected_new_traces_per_sec, 3);
    }

    #[test]
    fn the_workshop_collector() {
        // config/otel-collector.tail-sampling.yaml: decision_wait 15s,
        // num_traces 20000; 50 traces/s of POST /orders (22 spans).
        // 50 × 15 = 750 traces, × 22 = 16,500 spans, × 1,536 = 25,344,000 B;
        // 20,000 × 22 × 1,536 = 675,840,000 B when all 20,000 are undecided.
        let mut i = input(50.0, 22.0, 15);
        i.num_traces = Some(20_000);
        i.longest_trace = Some(Duration::from_secs(10));
        let e = estimate(&i).unwrap();
        assert_eq!(e.bytes_held, 25_344_000.0);
        assert_eq!(e.num_traces, 20_000);
        assert_eq!(e.bytes_at_num_traces, 675_840_000.0);
        assert_eq!(e.num_traces_verdict, Some(Verdict::Enough));
        assert!(e.ok());
    }

    #[test]
    fn num_traces_judged_against_the_steady_state() {
        let judge = |n| {
            let mut i = input(100.0, 10.0, 30);
            i.num_traces = Some(n);
            estimate(&i).unwrap().num_traces_verdict.unwrap()
        };
        assert_eq!(judge(2_999), Verdict::TooSmall);
        assert_eq!(judge(3_000), Verdict::NoHeadroom);
        assert_eq!(judge(5_999), Verdict::NoHeadroom);
        assert_eq!(judge(6_000), Verdict::Enough);
    }

    #[test]
    fn decision_wait_shorter_than_the_longest_trace_is_flagged() {
        let mut i = input(10.0, 5.0, 10);
        i.longest_trace = Some(Duration::from_secs(30));
        let e = estimate(&i).unwrap();
        assert!(e.decision_wait_too_short);
        assert!(!e.ok());
        assert!(e
            .render(Style::plain())
            .contains("shorter than the longest trace (30 s)"));
        i.longest_trace = Some(Duration::from_secs(10));
        assert!(!estimate(&i).unwrap().decision_wait_too_short);
    }

    #[test]
    fn absurd_numbers_are_refused() {
        assert!(estimate(&input(1e300, 1e300, 30)).is_err());
    }

    #[test]
    fn render_shows_the_sums() {
        let text = estimate(&input(100.0, 12.0, 30))
            .unwrap()
            .render(Style::plain());
        assert!(text.contains("traces held        3,000  = 100 traces/s × decision_wait 30 s"));
        assert!(
            text.contains("memory          52.7 MiB  = 36,000 spans × 1.5 KiB per span (assumed")
        );
        assert!(text.contains("    num_traces: 6000\n"));
    }

    #[test]
    fn parsers_explain_bad_input() {
        assert_eq!(positive_number("0.5", "rate"), Ok(0.5));
        assert!(positive_number("0", "rate")
            .unwrap_err()
            .contains("above zero"));
        assert!(positive_number("-3", "rate")
            .unwrap_err()
            .contains("above zero"));
        assert!(positive_number("lots", "rate")
            .unwrap_err()
            .contains("a number"));
        assert!(positive_number("inf", "rate").is_err());
        assert_eq!(positive_integer("50_000", "num_traces"), Ok(50_000));
        assert!(positive_integer("0", "num_traces").is_err());
        assert_eq!(positive_duration("30s", "w"), Ok(Duration::from_secs(30)));
        assert_eq!(positive_duration("10", "w"), Ok(Duration::from_secs(10)));
        assert!(positive_duration("0s", "w")
            .unwrap_err()
            .contains("longer than zero"));
        assert!(positive_duration("-5s", "w")
            .unwrap_err()
            .contains("negative"));
        assert!(positive_duration("soon", "w")
            .unwrap_err()
            .contains("not a duration"));
        assert_eq!(parse_bytes("1536"), Ok(1536));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert_eq!(parse_bytes("2 KiB"), Ok(2048));
        assert!(parse_bytes("2KB").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("0").is_err());
    }

    #[test]
    fn numbers_print_as_people_write_them() {
        assert_eq!(count(1_234_567.0), "1,234,567");
        assert_eq!(count(999.2), "1,000");
        assert_eq!(number(12.5), "12.5");
        assert_eq!(number(100.0), "100");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(110_592_000.0), "105.5 MiB");
    }
}
