//! The numbers `lab load` prints at the end: status counts, latency
//! percentiles and the slowest requests' trace ids.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Sample;
use crate::style::duration;

/// What `lab load` prints at the end.
#[derive(Clone, Debug)]
pub struct Summary {
    pub count: usize,
    pub elapsed: Duration,
    /// `"201"` → 160, ..., `"no response"` → 2.
    pub statuses: BTreeMap<String, usize>,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// The three slowest requests, slowest first.
    pub slowest: Vec<Sample>,
    /// Requests whose trace was kept, of those that said (`traceresponse`).
    pub kept: (usize, usize),
}

pub fn summarize(samples: &[Sample], elapsed: Duration) -> Summary {
    let mut statuses = BTreeMap::new();
    for sample in samples {
        let key = sample
            .status
            .map_or("no response".to_string(), |s| s.to_string());
        *statuses.entry(key).or_insert(0) += 1;
    }
    let mut by_latency: Vec<&Sample> = samples.iter().collect();
    by_latency.sort_by_key(|s| s.latency);
    let latencies: Vec<Duration> = by_latency.iter().map(|s| s.latency).collect();
    Summary {
        count: samples.len(),
        elapsed,
        statuses,
        p50: percentile(&latencies, 50.0),
        p90: percentile(&latencies, 90.0),
        p99: percentile(&latencies, 99.0),
        max: latencies.last().copied().unwrap_or_default(),
        slowest: by_latency
            .iter()
            .rev()
            .take(3)
            .map(|s| (*s).clone())
            .collect(),
        kept: (
            samples.iter().filter(|s| s.sampled == Some(true)).count(),
            samples.iter().filter(|s| s.sampled.is_some()).count(),
        ),
    }
}

/// Nearest-rank percentile of sorted values: the smallest value that at
/// least `p` percent of the values are less than or equal to.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Summary {
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(0.001);
        let us = |d: Duration| duration(d.as_micros() as u64);
        let statuses: Vec<String> = self
            .statuses
            .iter()
            .map(|(s, n)| format!("{s} × {n}"))
            .collect();
        let mut out = format!(
            "{} requests in {:.1} s ({:.1}/s)\nstatus:  {}\nlatency: p50 {} · p90 {} · p99 {} · max {}\n",
            self.count,
            secs,
            self.count as f64 / secs,
            statuses.join(", "),
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.max)
        );
        let (kept, told) = self.kept;
        if told > 0 {
            out.push_str(&format!(
                "sampled: {kept} of {told} traces kept ({:.0}%, {:.1}/s)\n",
                100.0 * kept as f64 / told as f64,
                kept as f64 / secs
            ));
        }
        if !self.slowest.is_empty() {
            out.push_str("slowest:\n");
            for sample in &self.slowest {
                let trace = sample.trace_id.as_deref().unwrap_or("(no trace id)");
                let note = match sample.sampled {
                    Some(false) => "  (not sampled: no trace)",
                    _ => "",
                };
                out.push_str(&format!(
                    "  {:>9}  {:<17} cargo lab trace {trace}{note}\n",
                    us(sample.latency),
                    sample.request
                ));
            }
        }
        out
    }
}
