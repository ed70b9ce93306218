//! An exporter wrapper that makes lost spans visible.
//!
//! When the collector is down the batch span processor keeps running: its
//! queue is bounded, so memory stays flat and new spans are dropped once it
//! is full. That is the right behaviour (tracing must never slow a request
//! down) but the SDK's own drop counter is private, so a learner would see
//! nothing. This wrapper counts every span of a failed export and logs a
//! warning at most once every [`WARN_EVERY`], and a line when exports
//! succeed again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::resource::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// At most one "export failed" warning per this interval, so a dead
/// collector does not flood the logs.
pub const WARN_EVERY: Duration = Duration::from_secs(10);

/// Counters shared between the exporter (on the batch thread) and whoever
/// wants to read them (tests, a future `/metrics`).
#[derive(Debug, Default)]
pub struct ExportStats {
    /// Spans handed to a successful export.
    pub exported: AtomicU64,
    /// Spans whose export failed: they are gone.
    pub failed: AtomicU64,
}

/// Wraps any [`SpanExporter`] and counts what it could not deliver.
#[derive(Debug)]
pub struct CountingExporter<E> {
    inner: E,
    stats: Arc<ExportStats>,
    /// When we last warned; a `Mutex` is fine: only the batch thread exports.
    last_warning: Mutex<Option<Instant>>,
    /// True while exports are failing, to log once when they recover.
    failing: AtomicBool,
}

impl<E> CountingExporter<E> {
    pub fn new(inner: E, stats: Arc<ExportStats>) -> Self {
        CountingExporter {
            inner,
            stats,
            last_warning: Mutex::new(None),
            failing: AtomicBool::new(false),
        }
    }

    fn warn_rate_limited(&self, spans: usize, error: &dyn std::fmt::Display) {
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
            *last = Some(Instant::now());
            // Runs on the batch processor's thread, outside any span, so this
            // event is only a log line: it cannot become part of a trace.
            tracing::warn!(
                dropped_now = spans,
                dropped_total = self.stats.failed.load(Ordering::Relaxed),
                %error,
                "span export failed, spans dropped (is the collector up?)"
            );
        }
    }
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let count = batch.len() as u64;
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                self.stats.exported.fetch_add(count, Ordering::Relaxed);
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("span export recovered");
                }
            }
            Err(error) => {
                self.stats.failed.fetch_add(count, Ordering::Relaxed);
                self.failing.store(true, Ordering::Relaxed);
                self.warn_rate_limited(count as usize, error);
            }
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
