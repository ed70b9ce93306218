//! CLIENT spans for Postgres and Redis.
//!
//! sqlx and redis do not create OpenTelemetry spans, so each query in a
//! service's `db.rs` / `cache.rs` runs inside one of these. The attribute
//! names are the database semantic conventions: Jaeger and the collector
//! know them, and so will every tracing backend a learner meets later.

use std::future::Future;

use opentelemetry_semantic_conventions::attribute::{
    DB_COLLECTION_NAME, DB_NAMESPACE, DB_OPERATION_NAME, DB_QUERY_SUMMARY, DB_QUERY_TEXT,
    DB_SYSTEM_NAME, SERVER_ADDRESS, SERVER_PORT,
};
use tracing::{Instrument, Span};

use crate::errors;

/// Where a database lives, for `server.address` / `server.port`.
/// Built from the connection URL *without* its user or password: no
/// secrets in spans.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    pub address: String,
    pub port: Option<u16>,
    /// Database name (Postgres) or index (Redis): `db.namespace`.
    pub namespace: String,
}

impl Peer {
    /// Reads host, port and database from a `postgres://` or `redis://` URL.
    pub fn from_url(url: &str) -> Self {
        match url::Url::parse(url) {
            Ok(url) => Peer {
                address: url.host_str().unwrap_or("unknown").to_string(),
                port: url.port(),
                namespace: url.path().trim_start_matches('/').to_string(),
            },
            Err(_) => Peer {
                address: "unknown".to_string(),
                ..Peer::default()
            },
        }
    }
}

/// A span for one SQL statement, named like `SELECT users`.
///
/// `query` is the statement text with `$1` placeholders: the values are
/// never in it, so no user data leaks into the trace by accident.
pub fn postgres(operation: &str, table: &str, query: &str, peer: &Peer) -> Span {
    let name = format!("{operation} {table}");
    client_span("postgresql", &name, operation, table, query, peer)
}

/// A span for one Redis command, named like `GET`.
pub fn redis(command: &str, key_family: &str, peer: &Peer) -> Span {
    client_span("redis", command, command, key_family, command, peer)
}

fn client_span(
    system: &str,
    name: &str,
    operation: &str,
    collection: &str,
    query: &str,
    peer: &Peer,
) -> Span {
    let summary = format!("{operation} {collection}");
    tracing::info_span!(
        "db",
        otel.name = name,
        otel.kind = "client",
        { DB_SYSTEM_NAME } = system,
        { DB_OPERATION_NAME } = operation,
        { DB_COLLECTION_NAME } = collection,
        { DB_QUERY_SUMMARY } = %summary,
        { DB_QUERY_TEXT } = query,
        { DB_NAMESPACE } = %peer.namespace,
        { SERVER_ADDRESS } = %peer.address,
        { SERVER_PORT } = peer.port.map(i64::from),
    )
}

/// Runs `work` inside `span` and records a failure on it.
pub async fn traced<T, E, F>(span: Span, work: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let result = work.instrument(span.clone()).await;
    if let Err(error) = &result {
        errors::record_exception(&span, std::any::type_name::<E>(), &error.to_string());
    }
    result
}
