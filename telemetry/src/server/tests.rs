//! Unit tests of the SERVER span's status: requests run through
//! [`trace_requests`] on a router of their own, under a tracer provider with
//! the SDK's in-memory exporter, and the finished span is read back. No
//! network, no collector. Lesson 04's check runs them (`cargo test -p
//! telemetry --lib -- server::tests`): its scenario cannot send a request
//! that makes a 5xx nobody described, so they cover that case.
//!
//! Each test has its own provider and subscriber, the default on its own
//! thread only (a current-thread runtime runs the request there too), so
//! tests running side by side never see each other's spans.

use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tower::ServiceExt;

use super::{trace_requests, Failure};

/// Sends `GET /` to a router whose handler answers `response`, and returns
/// the SERVER span it made.
fn server_span_for<F>(response: F) -> SpanData
where
    F: Fn() -> Response + Clone + Send + Sync + 'static,
{
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let telemetry = crate::Telemetry::from_provider(provider, Default::default());
    let dispatch = crate::logging::dispatch("test", "off", telemetry.tracer(), std::io::sink);
    let router = Router::new()
        .route(
            "/",
            get(move || {
                let response = response.clone();
                async move { response() }
            }),
        )
        .layer(axum::middleware::from_fn(trace_requests));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    tracing::dispatcher::with_default(&dispatch, || {
        runtime.block_on(async {
            let request = Request::get("/").body(axum::body::Body::empty()).unwrap();
            router.oneshot(request).await.expect("a response");
        })
    });
    telemetry.provider().force_flush().expect("flush");
    let mut spans = exporter.get_finished_spans().expect("the exporter's spans");
    assert_eq!(spans.len(), 1, "one SERVER span per request: {spans:#?}");
    spans.remove(0)
}

fn events(span: &SpanData) -> Vec<&str> {
    span.events.iter().map(|e| e.name.as_ref()).collect()
}

/// A 5xx is a failure of this server, even one no handler described (a
/// panic caught by a layer, a timeout): status ERROR, with no exception
/// event, since nothing says what was thrown.
#[test]
fn an_undescribed_5xx_is_an_error_without_an_exception() {
    let span = server_span_for(|| StatusCode::BAD_GATEWAY.into_response());
    assert!(
        matches!(span.status, Status::Error { .. }),
        "a 502 nobody described: the SERVER span's status is {:?}, not Error",
        span.status
    );
    assert!(
        !events(&span).contains(&"exception"),
        "a 502 nobody described has no exception to record: events {:?}",
        events(&span)
    );
}

/// A described 5xx: status ERROR and an `exception` event with its type.
#[test]
fn a_described_5xx_is_an_error_with_its_exception() {
    let span = server_span_for(|| {
        let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        response
            .extensions_mut()
            .insert(Failure::new("TestFailure", "the test failed on purpose"));
        response
    });
    assert!(
        matches!(span.status, Status::Error { .. }),
        "status {:?}",
        span.status
    );
    let exception = span
        .events
        .iter()
        .find(|e| e.name == "exception")
        .unwrap_or_else(|| panic!("no exception event: events {:?}", events(&span)));
    let has = |key: &str, value: &str| {
        exception
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == key && kv.value.as_str() == value)
    };
    assert!(has("exception.type", "TestFailure"), "{exception:?}");
    assert!(
        has("exception.message", "the test failed on purpose"),
        "{exception:?}"
    );
}

/// A 4xx is the client's mistake, not this server's failure.
#[test]
fn a_4xx_is_not_an_error_on_a_server_span() {
    for status in [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND] {
        let span = server_span_for(move || status.into_response());
        assert_eq!(span.status, Status::Unset, "{status}");
    }
}
