//! The `OTEL_*` environment variables this workshop reads, checked up front.
//!
//! The OpenTelemetry SDK reads some of these itself and quietly ignores
//! values it does not understand. A learner who typed
//! `OTEL_EXPORTER_OTLP_PROTOCOL=grcp` deserves an error that says so, so we
//! parse them here and fail at start-up with a sentence.

use std::env;

/// Log filter when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info,opentelemetry_sdk=off,opentelemetry_otlp=off";

/// How spans leave the process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP over HTTP with protobuf bodies, port 4318. The robust default: it
    /// runs on the batch processor's own thread with a blocking client.
    HttpProtobuf,
    /// OTLP over gRPC (tonic), port 4317.
    Grpc,
}

/// Telemetry settings of one service.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `service.name` on every span: `OTEL_SERVICE_NAME`, else `service.name`
    /// in `OTEL_RESOURCE_ATTRIBUTES`, else the crate name.
    pub service_name: String,
    /// `OTEL_SDK_DISABLED=true`: no exporter, nothing recorded. Trace ids are
    /// still generated and propagated, so responses keep their `trace_id`.
    pub sdk_disabled: bool,
    /// `OTEL_EXPORTER_OTLP_PROTOCOL` (or the `_TRACES_` variant).
    pub protocol: Protocol,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` as given, for the start-up log line.
    pub endpoint: Option<String>,
    /// `RUST_LOG`. The default hides the SDK's own per-export error lines:
    /// [`crate::export::CountingExporter`] reports failed exports, rate-limited.
    pub log_filter: String,
    /// `BAGGAGE_SPAN_KEYS`: the baggage entries every service copies onto
    /// its SERVER span as attributes (comma-separated; default
    /// [`DEFAULT_BAGGAGE_SPAN_KEYS`]). An allowlist: baggage is input from
    /// outside, and only the keys named here become span attributes.
    pub baggage_span_keys: Vec<String>,
}

/// Baggage keys copied onto SERVER spans when `BAGGAGE_SPAN_KEYS` is not set.
pub const DEFAULT_BAGGAGE_SPAN_KEYS: &str = "request.source";

/// A variable that was set to something we cannot use.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error(transparent)]
    Sampler(#[from] crate::sampler::SamplerError),
    #[error("could not build the OTLP exporter: {0}")]
    Exporter(String),
}

impl Settings {
    /// Reads the environment. `default_service_name` is used when
    /// `OTEL_SERVICE_NAME` is not set.
    pub fn from_env(default_service_name: &str) -> Result<Self, SettingsError> {
        Ok(Settings {
            service_name: non_empty("OTEL_SERVICE_NAME")
                .or_else(service_name_from_resource_attributes)
                .unwrap_or_else(|| default_service_name.to_string()),
            sdk_disabled: parse_bool("OTEL_SDK_DISABLED")?,
            protocol: parse_protocol()?,
            endpoint: non_empty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .or_else(|| non_empty("OTEL_EXPORTER_OTLP_ENDPOINT")),
            log_filter: non_empty("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.to_string()),
            baggage_span_keys: baggage_span_keys(),
        })
    }
}

/// `BAGGAGE_SPAN_KEYS` as a list: `a, b,,c` → `[a, b, c]`.
pub fn baggage_span_keys() -> Vec<String> {
    parse_key_list(
        &non_empty("BAGGAGE_SPAN_KEYS").unwrap_or_else(|| DEFAULT_BAGGAGE_SPAN_KEYS.to_string()),
    )
}

fn parse_key_list(text: &str) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for key in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_string());
        }
    }
    keys
}

/// `service.name=...` inside `OTEL_RESOURCE_ATTRIBUTES` (which the spec
/// ranks above the default, below `OTEL_SERVICE_NAME`).
fn service_name_from_resource_attributes() -> Option<String> {
    non_empty("OTEL_RESOURCE_ATTRIBUTES")?
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.trim() == "service.name")
        .map(|(_, value)| value.trim().to_string())
        .filter(|value| !value.is_empty())
}

fn non_empty(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parse_bool(name: &'static str) -> Result<bool, SettingsError> {
    match non_empty(name) {
        None => Ok(false),
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(SettingsError::Invalid {
                name,
                value: v,
                reason: "use true or false",
            }),
        },
    }
}

fn parse_protocol() -> Result<Protocol, SettingsError> {
    let (name, value) = match non_empty("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") {
        Some(v) => ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", v),
        None => match non_empty("OTEL_EXPORTER_OTLP_PROTOCOL") {
            Some(v) => ("OTEL_EXPORTER_OTLP_PROTOCOL", v),
            None => return Ok(Protocol::HttpProtobuf),
        },
    };
    match value.trim() {
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "grpc" => Ok(Protocol::Grpc),
        _ => Err(SettingsError::Invalid {
            name,
            value,
            reason: "use http/protobuf (port 4318) or grpc (port 4317)",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_key_list;

    #[test]
    fn baggage_keys_are_trimmed_deduplicated_and_never_empty() {
        assert_eq!(
            parse_key_list(" request.source, tenant.id,,request.source "),
            vec!["request.source".to_string(), "tenant.id".to_string()]
        );
        assert!(parse_key_list(" , ").is_empty());
    }
}
