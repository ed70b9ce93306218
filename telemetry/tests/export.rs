//! A dead collector costs spans, never requests: failed exports are counted
//! and reported, and exporting resumes by itself when the collector is back.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider};
use telemetry::export::{CountingExporter, ExportStats};

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_fail_while_the_collector_is_down_and_resume_when_it_returns() {
    // A port with nothing behind it (yet).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);

    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://127.0.0.1:{port}/v1/traces"))
        .with_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let stats = Arc::new(ExportStats::default());
    let queue_size = 256;
    let processor = BatchSpanProcessor::builder(CountingExporter::new(exporter, stats.clone()))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(queue_size)
                .with_scheduled_delay(Duration::from_millis(100))
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let tracer = provider.tracer("export-test");

    // Far more spans than the queue holds: ending a span never waits for the
    // exporter, the queue just drops what does not fit.
    for i in 0..(queue_size * 20) {
        tracer.in_span(format!("while-down-{i}"), |_| {});
    }
    eventually("failed exports are counted", || {
        stats.failed.load(Ordering::Relaxed) > 0
    })
    .await;
    assert_eq!(stats.exported.load(Ordering::Relaxed), 0);
    // At most a queue's worth (plus one batch in flight) can have been tried.
    let failed = stats.failed.load(Ordering::Relaxed) as usize;
    assert!(
        failed <= queue_size * 2,
        "{failed} spans tried: the queue is bounded"
    );

    // The collector comes back on the same port.
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let app = Router::new().route(
        "/v1/traces",
        post(move |body: axum::body::Bytes| {
            let counter = counter.clone();
            async move {
                assert!(!body.is_empty());
                counter.fetch_add(1, Ordering::Relaxed);
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let mut n = 0;
    eventually("exports succeed again", || {
        n += 1;
        tracer.in_span(format!("after-recovery-{n}"), |_| {});
        stats.exported.load(Ordering::Relaxed) > 0
    })
    .await;
    assert!(received.load(Ordering::Relaxed) > 0);

    tokio::task::spawn_blocking(move || provider.shutdown())
        .await
        .unwrap()
        .unwrap();
    server.abort();
}
