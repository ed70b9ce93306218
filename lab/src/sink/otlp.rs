//! The two ways spans reach the sink, the same two a collector offers:
//!
//! - OTLP/gRPC on port 4317: a tonic server implementing the `TraceService`
//!   that `opentelemetry-proto` generates from the OTLP `.proto` files;
//! - OTLP/HTTP on port 4318: `POST /v1/traces` with a protobuf body
//!   (`application/x-protobuf`, what `http/protobuf` sends) or an OTLP/JSON
//!   body (`application/json`).
//!
//! Both decode an `ExportTraceServiceRequest`, convert it and hand the spans
//! to the shared [`Store`] and, when the sink keeps a database, to the queue
//! that feeds it ([`SpanQueue`]: copying in never waits on Postgres).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

use super::convert::convert;
use super::database::SpanQueue;
use super::store::Store;

/// The store, shared by the receivers, the query API and the printer. A
/// `std` mutex is right here: every critical section is a short, in-memory
/// update that never waits on I/O, so no `.await` happens while it is held.
pub type SharedStore = Arc<Mutex<Store>>;

/// Where received spans go: the in-memory store, and the database queue
/// when there is one.
#[derive(Clone)]
pub struct Intake {
    pub store: SharedStore,
    pub database: Option<Arc<SpanQueue>>,
}

/// OTLP batches can be large (512 spans by default, with attributes); a
/// collector accepts bodies far over axum's 2 MB default, and so do we.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// Converts a request, stores its spans, and builds the OTLP answer:
/// a "partial success" when some spans had unusable ids.
pub fn accept(intake: &Intake, request: ExportTraceServiceRequest) -> ExportTraceServiceResponse {
    let converted = convert(request);
    let rejected = converted.rejected;
    if let Some(queue) = &intake.database {
        queue.push(&converted.spans);
    }
    lock(&intake.store).insert(converted.spans, Instant::now());
    let partial_success = (rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: rejected as i64,
        error_message: format!("{rejected} spans had a missing or malformed trace id or span id"),
    });
    ExportTraceServiceResponse { partial_success }
}

/// Locks the store. A panic while holding the lock (a bug) poisons it; the
/// data inside is still consistent enough to keep serving, so carry on.
pub fn lock(store: &SharedStore) -> std::sync::MutexGuard<'_, Store> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The gRPC `TraceService`.
pub struct GrpcReceiver {
    pub intake: Intake,
}

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        Ok(tonic::Response::new(accept(
            &self.intake,
            request.into_inner(),
        )))
    }
}

/// The OTLP/HTTP router: `POST /v1/traces`.
pub fn http_router(intake: Intake) -> Router {
    Router::new()
        .route("/v1/traces", post(export_http))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(intake)
}

async fn export_http(State(intake): State<Intake>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(encoding) = headers.get(header::CONTENT_ENCODING) {
        if encoding.as_bytes() != b"identity" {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "lab sink does not decompress OTLP bodies: unset OTEL_EXPORTER_OTLP_COMPRESSION",
            );
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_json = content_type.starts_with("application/json");
    let is_protobuf = content_type.starts_with("application/x-protobuf")
        || content_type.starts_with("application/protobuf");

    let request = if is_json {
        serde_json::from_slice::<ExportTraceServiceRequest>(&body).map_err(|e| e.to_string())
    } else if is_protobuf {
        ExportTraceServiceRequest::decode(body).map_err(|e| e.to_string())
    } else {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send application/x-protobuf (OTLP http/protobuf) or application/json (OTLP/JSON)",
        );
    };
    let request = match request {
        Ok(request) => request,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("not an OTLP ExportTraceServiceRequest: {e}"),
            )
        }
    };
    let response = accept(&intake, request);
    if is_json {
        // OTLP/JSON leaves unset fields out: `{}` means "all accepted".
        let body = match response.partial_success {
            Some(_) => serde_json::to_value(&response).unwrap_or_default(),
            None => serde_json::json!({}),
        };
        axum::Json(body).into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            response.encode_to_vec(),
        )
            .into_response()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "message": message })),
    )
        .into_response()
}
