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
    /// A Redis URL without a path selects database 0 (`redis://host:6379`
    /// is `redis://host:6379/0`).
    pub fn from_url(url: &str) -> Self {
        match url::Url::parse(url) {
            Ok(url) => {
                let mut namespace = url.path().trim_matches('/').to_string();
                if namespace.is_empty() && url.scheme().starts_with("redis") {
                    namespace = "0".to_string();
                }
                Peer {
                    address: url.host_str().unwrap_or("unknown").to_string(),
                    port: url.port(),
                    namespace,
                }
            }
            Err(_) => Peer {
                address: "unknown".to_string(),
                ..Peer::default()
            },
        }
    }
}

/// A span for one SQL statement, named by its summary, like `SELECT users`.
///
/// `query` is the statement text with `$1` placeholders: the values are
/// never in it, so no user data leaks into the trace by accident.
pub fn postgres(operation: &str, table: &str, query: &str, peer: &Peer) -> Span {
    // The conventions name a database span by its `db.query.summary`.
    let summary = format!("{operation} {table}");
    tracing::info_span!(
        "db",
        otel.name = %summary,
        otel.kind = "client",
        { DB_SYSTEM_NAME } = "postgresql",
        { DB_OPERATION_NAME } = operation,
        { DB_COLLECTION_NAME } = table,
        { DB_QUERY_SUMMARY } = %summary,
        { DB_QUERY_TEXT } = query,
        { DB_NAMESPACE } = %peer.namespace,
        { SERVER_ADDRESS } = %peer.address,
        { SERVER_PORT } = peer.port.map(i64::from),
    )
}

/// A span for one Redis command, named by the command, like `GET`.
///
/// `key_family` says which keys the command works on (`user` for
/// `user:{id}`); the conventions have no attribute for it (a Redis key is
/// not a collection), so it is left out of the span. The database is the
/// index (`db.namespace = "0"`); there is no summary beyond the command.
pub fn redis(command: &str, key_family: &str, peer: &Peer) -> Span {
    let _ = key_family;
    tracing::info_span!(
        "db",
        otel.name = command,
        otel.kind = "client",
        { DB_SYSTEM_NAME } = "redis",
        { DB_OPERATION_NAME } = command,
        { DB_QUERY_TEXT } = command,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_keeps_host_port_and_database_but_no_credentials() {
        let peer = Peer::from_url("postgres://postgres:secret@db.local:5433/orders");
        assert_eq!(peer.address, "db.local");
        assert_eq!(peer.port, Some(5433));
        assert_eq!(peer.namespace, "orders");
    }

    #[test]
    fn redis_namespace_is_the_database_index() {
        assert_eq!(Peer::from_url("redis://127.0.0.1:6379").namespace, "0");
        assert_eq!(Peer::from_url("redis://127.0.0.1:6379/").namespace, "0");
        assert_eq!(Peer::from_url("redis://:pw@cache:6379/3").namespace, "3");
        assert_eq!(Peer::from_url("not a url").namespace, "");
    }
}
