//! The sink's memory: the most recent traces, bounded, oldest evicted first.
//!
//! Spans of one trace arrive in pieces: every service exports its own spans
//! in its own batches, seconds apart. So the store also decides when a trace
//! is *finished* and worth printing:
//!
//! - a trace with a root span (one without a parent) is finished once no new
//!   span has arrived for `quiet` (2 s by default);
//! - a trace without one (its root lives in a service that does not export,
//!   or the trace was continued from outside, as `lab check` does with its
//!   own `traceparent`) is finished after `orphan_wait` of quiet (10 s);
//! - spans that arrive after a trace was printed are printed again as an
//!   update, so nothing is silently lost.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::model::{Span, Trace, TraceId};

/// Limits and timings of a [`Store`].
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// How many traces to keep; the oldest is dropped to make room.
    pub max_traces: usize,
    /// Spans kept per trace: a runaway loop must not eat all memory.
    pub max_spans_per_trace: usize,
    /// Quiet time after which a trace with a root counts as finished.
    pub quiet: Duration,
    /// Quiet time after which a trace without a root is printed anyway.
    pub orphan_wait: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_traces: 10_000,
            max_spans_per_trace: 10_000,
            quiet: Duration::from_secs(2),
            orphan_wait: Duration::from_secs(10),
        }
    }
}

/// How a finished trace should be announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// First print, root present.
    Complete,
    /// First print, no root span arrived.
    NoRoot,
    /// Printed before; this many spans arrived since.
    Update(usize),
}

struct Entry {
    spans: Vec<Span>,
    last_span_at: Instant,
    /// Spans already printed; less than `spans.len()` means news to print.
    printed: usize,
}

/// Recent traces by id, plus their arrival order for eviction.
pub struct Store {
    config: StoreConfig,
    traces: HashMap<TraceId, Entry>,
    /// Trace ids by arrival of their first span, oldest at the front.
    order: VecDeque<TraceId>,
    /// Spans dropped because their trace was full.
    pub dropped_spans: u64,
}

impl Store {
    pub fn new(config: StoreConfig) -> Self {
        Store {
            config,
            traces: HashMap::new(),
            order: VecDeque::new(),
            dropped_spans: 0,
        }
    }

    /// Adds spans (from one export request) at time `now`.
    pub fn insert(&mut self, spans: Vec<Span>, now: Instant) {
        for span in spans {
            let id = span.trace_id.clone();
            if !self.traces.contains_key(&id) {
                self.make_room();
                self.order.push_back(id.clone());
            }
            let entry = self.traces.entry(id).or_insert_with(|| Entry {
                spans: Vec::new(),
                last_span_at: now,
                printed: 0,
            });
            if entry.spans.len() >= self.config.max_spans_per_trace {
                self.dropped_spans += 1;
                continue;
            }
            entry.spans.push(span);
            entry.last_span_at = now;
        }
    }

    fn make_room(&mut self) {
        while self.traces.len() >= self.config.max_traces.max(1) {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.traces.remove(&oldest);
                }
                None => break,
            }
        }
    }

    pub fn len(&self) -> usize {
        self.traces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.traces.is_empty()
    }

    /// A copy of one trace, if we have it.
    pub fn get(&self, id: &TraceId) -> Option<Trace> {
        self.traces.get(id).map(|e| Trace {
            trace_id: id.clone(),
            spans: e.spans.clone(),
        })
    }

    /// Every service that sent a span we still hold, sorted.
    pub fn services(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .traces
            .values()
            .flat_map(|e| e.spans.iter().map(|s| s.service().to_string()))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Traces with a span of `service` (and of `operation`, if given) that
    /// started within `[start_us, end_us]`, most recent first.
    pub fn search(&self, query: &Search) -> Vec<Trace> {
        // Rank by start time first and copy only the traces returned: a
        // full store holds thousands of traces.
        let mut found: Vec<(u64, &TraceId)> = self
            .traces
            .iter()
            .filter(|(_, e)| {
                e.spans.iter().any(|s| {
                    s.service() == query.service
                        && query.operation.as_ref().is_none_or(|op| &s.name == op)
                })
            })
            .map(|(id, e)| (e.spans.iter().map(|s| s.start_us).min().unwrap_or(0), id))
            .filter(|(start, _)| {
                query.start_us.is_none_or(|min| *start >= min)
                    && query.end_us.is_none_or(|max| *start <= max)
            })
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.truncate(query.limit);
        found
            .into_iter()
            .filter_map(|(_, id)| self.get(id))
            .collect()
    }

    /// Up to `limit` traces, the most recently started first (the web page).
    pub fn recent(&self, limit: usize) -> Vec<Trace> {
        let mut found: Vec<(u64, &TraceId)> = self
            .traces
            .iter()
            .map(|(id, e)| (e.spans.iter().map(|s| s.start_us).min().unwrap_or(0), id))
            .collect();
        found.sort_by(|a, b| b.cmp(a));
        found.truncate(limit);
        found
            .into_iter()
            .filter_map(|(_, id)| self.get(id))
            .collect()
    }

    /// Traces that became finished by `now` (see the module docs); each is
    /// returned once, or again as an update when late spans arrive.
    pub fn take_finished(&mut self, now: Instant) -> Vec<(Trace, Finished)> {
        let mut done = Vec::new();
        for (id, entry) in self.traces.iter_mut() {
            if entry.printed >= entry.spans.len() {
                continue;
            }
            let quiet_for = now.saturating_duration_since(entry.last_span_at);
            let has_root = entry.spans.iter().any(|s| s.parent_span_id.is_none());
            let wait = if has_root || entry.printed > 0 {
                self.config.quiet
            } else {
                self.config.orphan_wait
            };
            if quiet_for < wait {
                continue;
            }
            let how = match (entry.printed, has_root) {
                (0, true) => Finished::Complete,
                (0, false) => Finished::NoRoot,
                (printed, _) => Finished::Update(entry.spans.len() - printed),
            };
            entry.printed = entry.spans.len();
            let trace = Trace {
                trace_id: id.clone(),
                spans: entry.spans.clone(),
            };
            done.push((trace, how));
        }
        done.sort_by_key(|(t, _)| t.start_us());
        done
    }
}

/// The filters of `GET /api/traces?service=...`.
#[derive(Clone, Debug)]
pub struct Search {
    pub service: String,
    pub operation: Option<String>,
    pub start_us: Option<u64>,
    pub end_us: Option<u64>,
    pub limit: usize,
}
