//! Two traces compared span by span: `cargo lab diff <a> <b>` and the sink's
//! `/diff/{a}/{b}` page both print this.
//!
//! Spans are matched by service and *path*: the names from the root down to
//! the span (`POST /orders › POST › POST /orders › GET`). Spans with the same
//! service and path are paired in start order, so a loop that makes five
//! `GET` calls where the other trace made one shows one pair and four spans
//! "only in b": an N+1 stands out.
//!
//! Each pair's change is measured twice: its duration, and its *self time*
//! (the duration minus the time covered by its children). A delay shows up
//! in the duration of every span above it, but in the self time of only the
//! span where it happens, so pairs are sorted by how much their self time
//! changed: the first line is where the time went.
//!
//! [`render`] (in `render.rs`) is the terminal form; the web page's is in
//! `sink/web/diff.rs`.

use std::collections::HashMap;

mod render;

pub use render::render;

use crate::model::{Span, Status, Trace, TraceId};
use crate::style;

/// One span's side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Side {
    pub span_id: String,
    pub duration_us: u64,
    /// The duration minus the union of its children's intervals.
    pub self_us: u64,
    pub status: Status,
}

/// A span present in both traces.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub service: String,
    pub path: Vec<String>,
    pub a: Side,
    pub b: Side,
}

impl Pair {
    pub fn duration_delta_us(&self) -> i64 {
        self.b.duration_us as i64 - self.a.duration_us as i64
    }

    pub fn self_delta_us(&self) -> i64 {
        self.b.self_us as i64 - self.a.self_us as i64
    }

    pub fn status_changed(&self) -> bool {
        self.a.status != self.b.status
    }
}

/// A span present in one trace only.
#[derive(Clone, Debug, PartialEq)]
pub struct Single {
    pub service: String,
    pub path: Vec<String>,
    pub side: Side,
}

/// The whole comparison of trace `a` (usually the fast one) with `b`.
#[derive(Clone, Debug, PartialEq)]
pub struct Diff {
    pub a: TraceId,
    pub b: TraceId,
    pub a_duration_us: u64,
    pub b_duration_us: u64,
    /// Sorted by how much the span's self time changed, largest first.
    pub pairs: Vec<Pair>,
    pub only_a: Vec<Single>,
    pub only_b: Vec<Single>,
}

impl Diff {
    pub fn status_changes(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter().filter(|p| p.status_changed())
    }
}

/// Compares two traces (see the module docs).
pub fn compare(a: &Trace, b: &Trace) -> Diff {
    let mut left = keyed(a);
    let mut pairs = Vec::new();
    let mut only_b = Vec::new();
    for (key, b_sides) in keyed_in_order(b) {
        let a_sides = left.remove(&key).unwrap_or_default();
        let (service, path) = key;
        let mut a_iter = a_sides.into_iter();
        for b_side in b_sides {
            match a_iter.next() {
                Some(a_side) => pairs.push(Pair {
                    service: service.clone(),
                    path: path.clone(),
                    a: a_side,
                    b: b_side,
                }),
                None => only_b.push(Single {
                    service: service.clone(),
                    path: path.clone(),
                    side: b_side,
                }),
            }
        }
        left.insert((service, path), a_iter.collect());
    }
    let mut only_a: Vec<Single> = keyed_in_order(a)
        .into_iter()
        .flat_map(|(key, _)| {
            let rest = left.remove(&key).unwrap_or_default();
            rest.into_iter().map(move |side| Single {
                service: key.0.clone(),
                path: key.1.clone(),
                side,
            })
        })
        .collect();
    pairs
        .sort_by_key(|p| std::cmp::Reverse((p.self_delta_us().abs(), p.duration_delta_us().abs())));
    only_a.sort_by_key(|s| std::cmp::Reverse(s.side.duration_us));
    only_b.sort_by_key(|s| std::cmp::Reverse(s.side.duration_us));
    Diff {
        a: a.trace_id.clone(),
        b: b.trace_id.clone(),
        a_duration_us: a.duration_us(),
        b_duration_us: b.duration_us(),
        pairs,
        only_a,
        only_b,
    }
}

type Key = (String, Vec<String>);

fn keyed(trace: &Trace) -> HashMap<Key, Vec<Side>> {
    keyed_in_order(trace).into_iter().collect()
}

/// Spans grouped by (service, path), groups in order of their first span,
/// each group in start order.
fn keyed_in_order(trace: &Trace) -> Vec<(Key, Vec<Side>)> {
    let mut spans: Vec<&Span> = trace.spans.iter().collect();
    spans.sort_by_key(|s| (s.start_us, s.span_id.clone()));
    let mut groups: Vec<(Key, Vec<Side>)> = Vec::new();
    let mut index: HashMap<Key, usize> = HashMap::new();
    for span in spans {
        let key = (span.service().to_string(), path(trace, span));
        let side = Side {
            span_id: span.span_id.clone(),
            duration_us: span.duration_us,
            self_us: self_time(trace, span),
            status: span.status,
        };
        match index.get(&key) {
            Some(&i) => groups[i].1.push(side),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![side]));
            }
        }
    }
    groups
}

/// Names from the top-most ancestor in the trace down to the span. Stops
/// on a parent cycle (bad data) instead of looping.
pub fn path(trace: &Trace, span: &Span) -> Vec<String> {
    let mut names = vec![span.name.clone()];
    let mut current = span;
    while let Some(parent) = trace.parent_of(current) {
        if names.len() > trace.spans.len() || parent.span_id == current.span_id {
            break;
        }
        names.push(parent.name.clone());
        current = parent;
    }
    names.reverse();
    names
}

/// The span's duration minus the time its children cover (overlapping
/// children counted once, each clipped to the span).
pub fn self_time(trace: &Trace, span: &Span) -> u64 {
    let mut intervals: Vec<(u64, u64)> = trace
        .spans
        .iter()
        .filter(|c| c.parent_span_id.as_deref() == Some(&span.span_id) && c.span_id != span.span_id)
        .map(|c| {
            (
                c.start_us.clamp(span.start_us, span.end_us()),
                c.end_us().clamp(span.start_us, span.end_us()),
            )
        })
        .collect();
    intervals.sort();
    let mut covered = 0;
    let mut reach = span.start_us;
    for (start, end) in intervals {
        let start = start.max(reach);
        if end > start {
            covered += end - start;
            reach = end;
        }
    }
    span.duration_us.saturating_sub(covered)
}

/// `POST /orders › POST › GET`
pub fn path_text(path: &[String]) -> String {
    path.join(" › ")
}

/// `+1.50 s`, `-3.0 ms`, `±0`
pub fn signed_duration(us: i64) -> String {
    match us {
        0 => "±0".to_string(),
        d if d > 0 => format!("+{}", style::duration(d as u64)),
        d => format!("-{}", style::duration(d.unsigned_abs())),
    }
}

/// Singles with the same service and path as one line: count, total duration.
pub fn grouped(singles: &[Single]) -> Vec<(&str, &[String], usize, u64)> {
    let mut groups: Vec<(&str, &[String], usize, u64)> = Vec::new();
    for single in singles {
        match groups
            .iter_mut()
            .find(|g| g.0 == single.service && g.1 == single.path.as_slice())
        {
            Some(group) => {
                group.2 += 1;
                group.3 += single.side.duration_us;
            }
            None => groups.push((&single.service, &single.path, 1, single.side.duration_us)),
        }
    }
    groups
}
