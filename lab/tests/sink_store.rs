//! The sink's store: bounded, oldest evicted, and its "finished" rule,
//! driven with explicit instants so no test sleeps.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lab::model::TraceId;
use lab::sink::store::{Finished, Search, Store, StoreConfig};

fn config(max_traces: usize) -> StoreConfig {
    StoreConfig {
        max_traces,
        ..StoreConfig::default()
    }
}

fn with_id(n: u8) -> lab::model::Span {
    let mut span = span(
        1,
        None,
        "api-gateway",
        "POST /orders",
        lab::model::SpanKind::Server,
        n as f64,
        1.0,
    );
    span.trace_id = TraceId::parse(&format!("{n:032x}")).unwrap();
    span
}

#[test]
fn oldest_trace_is_evicted_first() {
    let mut store = Store::new(config(2));
    let now = Instant::now();
    for n in 1..=3 {
        store.insert(vec![with_id(n)], now);
    }
    assert_eq!(store.len(), 2);
    assert!(store.get(&TraceId::parse("1").unwrap()).is_none());
    assert!(store.get(&TraceId::parse("3").unwrap()).is_some());
}

#[test]
fn spans_per_trace_are_capped() {
    let mut store = Store::new(StoreConfig {
        max_spans_per_trace: 3,
        ..StoreConfig::default()
    });
    let spans = healthy_order().spans;
    let total = spans.len() as u64;
    store.insert(spans, Instant::now());
    assert_eq!(store.get(&trace_id(TRACE_ID)).unwrap().spans.len(), 3);
    assert_eq!(store.dropped_spans, total - 3);
}

#[test]
fn a_trace_is_finished_after_a_quiet_period() {
    let mut store = Store::new(StoreConfig::default());
    let t0 = Instant::now();
    let mut spans = healthy_order().spans;
    let total = spans.len();
    spans[0].parent_span_id = None; // a real root
    let late = spans.split_off(10);
    let late_count = late.len();
    store.insert(spans, t0);
    assert!(store
        .take_finished(t0 + Duration::from_millis(1_900))
        .is_empty());
    let done = store.take_finished(t0 + Duration::from_secs(2));
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].1, Finished::Complete);
    assert!(
        store.take_finished(t0 + Duration::from_secs(5)).is_empty(),
        "printed once"
    );

    // Late spans: printed again as an update.
    store.insert(late, t0 + Duration::from_secs(6));
    let done = store.take_finished(t0 + Duration::from_secs(8));
    assert_eq!(done[0].1, Finished::Update(late_count));
    assert_eq!(done[0].0.spans.len(), total);
}

#[test]
fn a_trace_without_root_waits_longer() {
    let mut store = Store::new(StoreConfig::default());
    let t0 = Instant::now();
    store.insert(healthy_order().spans, t0); // root's parent is lab check's
    assert!(store.take_finished(t0 + Duration::from_secs(5)).is_empty());
    let done = store.take_finished(t0 + Duration::from_secs(10));
    assert_eq!(done[0].1, Finished::NoRoot);
}

#[test]
fn search_filters_by_service_operation_and_time() {
    let mut store = Store::new(StoreConfig::default());
    store.insert(healthy_order().spans, Instant::now());
    store.insert(vec![with_id(9)], Instant::now());
    let search = |service: &str, operation: Option<&str>, start_us: Option<u64>| Search {
        service: service.to_string(),
        operation: operation.map(str::to_string),
        start_us,
        end_us: None,
        limit: 10,
    };
    assert_eq!(store.search(&search("user-service", None, None)).len(), 1);
    assert_eq!(store.search(&search("api-gateway", None, None)).len(), 2);
    assert_eq!(
        store
            .search(&search("api-gateway", Some("format_response"), None))
            .len(),
        1
    );
    assert_eq!(
        store
            .search(&search("api-gateway", None, Some(T0 + 5_000)))
            .len(),
        1
    );
    assert_eq!(
        store.services(),
        [
            "api-gateway",
            "inventory-service",
            "order-service",
            "user-service"
        ]
    );
}
