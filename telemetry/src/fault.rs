//! Fault injection: `?delay=` and `?fail=`, carried downstream as baggage.
//!
//! The gateway reads the query parameters, checks them, and turns them into
//! W3C baggage entries that travel with the trace context to every service:
//!
//! ```text
//! baggage: fault.delay_ms=1500,fault.delay_at=inventory-service
//! ```
//!
//! Each service calls [`inject`] at the start of its handler. If the plan
//! names it, it sleeps (and says so with a `fault.delay_injected` event) or
//! fails (`fault.failure_injected`, then an error the handler returns). The
//! delay happens inside the handler's SERVER span, so in Jaeger that span is
//! the slow one and its event explains why.
//!
//! Only the gateway may *start* a fault: it drops `fault.*` baggage that
//! arrives from outside (see [`strip_fault_baggage`]), and every service
//! clamps the delay to [`MAX_DELAY_MS`] whatever the baggage says.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The largest delay anybody may inject, in milliseconds.
pub const MAX_DELAY_MS: u64 = 10_000;

/// Services a fault can target.
pub const SERVICES: [&str; 4] = [
    "api-gateway",
    "order-service",
    "user-service",
    "inventory-service",
];

/// Baggage keys (contract: lessons and outside checks use them).
pub const DELAY_MS: &str = "fault.delay_ms";
pub const DELAY_AT: &str = "fault.delay_at";
pub const FAIL_AT: &str = "fault.fail_at";

/// What to break, and where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    pub delay_ms: u64,
    pub delay_at: Option<String>,
    pub fail_at: Option<String>,
}

/// A query parameter the gateway cannot accept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultError {
    #[error("delay must be a whole number of milliseconds from 0 to {MAX_DELAY_MS}, got {0:?}")]
    BadDelay(String),
    #[error("{param} must name one of api-gateway, order-service, user-service, inventory-service, got {value:?}")]
    UnknownService { param: &'static str, value: String },
}

/// The injected failure a service returns when the plan names it.
#[derive(Debug, thiserror::Error)]
#[error("failure injected at {service} by ?fail={service}")]
pub struct InjectedFailure {
    pub service: String,
}

impl FaultPlan {
    /// Parses the gateway's query parameters. `default_delay_at` is where a
    /// `delay` without `delay_at` goes (inventory-service for `POST /orders`).
    pub fn from_query(
        delay: Option<&str>,
        delay_at: Option<&str>,
        fail: Option<&str>,
        default_delay_at: &str,
    ) -> Result<Self, FaultError> {
        let delay_ms = match delay {
            None => 0,
            Some(raw) => raw
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_DELAY_MS)
                .ok_or_else(|| FaultError::BadDelay(raw.to_string()))?,
        };
        let delay_at = match delay_at {
            Some(name) => Some(known_service("delay_at", name)?),
            None if delay_ms > 0 => Some(default_delay_at.to_string()),
            None => None,
        };
        let fail_at = fail.map(|name| known_service("fail", name)).transpose()?;
        Ok(FaultPlan {
            delay_ms,
            delay_at,
            fail_at,
        })
    }

    /// Reads the plan from baggage. Anything malformed is ignored, and the
    /// delay is clamped to the cap: baggage is input like any other.
    pub fn from_context(cx: &Context) -> Self {
        let baggage = cx.baggage();
        let text = |key: &str| baggage.get(key).map(|value| value.as_str().to_string());
        FaultPlan {
            delay_ms: text(DELAY_MS)
                .and_then(|raw| raw.parse::<u64>().ok())
                .map_or(0, |ms| ms.min(MAX_DELAY_MS)),
            delay_at: text(DELAY_AT),
            fail_at: text(FAIL_AT),
        }
    }

    /// The plan as baggage entries, for the gateway's outgoing calls.
    pub fn to_baggage(&self) -> Vec<KeyValue> {
        let mut entries = Vec::new();
        if let Some(at) = &self.delay_at {
            if self.delay_ms > 0 {
                entries.push(KeyValue::new(DELAY_MS, self.delay_ms.to_string()));
                entries.push(KeyValue::new(DELAY_AT, at.clone()));
            }
        }
        if let Some(at) = &self.fail_at {
            entries.push(KeyValue::new(FAIL_AT, at.clone()));
        }
        entries
    }
}

fn known_service(param: &'static str, name: &str) -> Result<String, FaultError> {
    SERVICES
        .iter()
        .find(|known| **known == name.trim())
        .map(|known| known.to_string())
        .ok_or_else(|| FaultError::UnknownService {
            param,
            value: name.to_string(),
        })
}

/// Runs `service`'s part of the current request's fault plan (read from
/// the baggage of the current span): first the delay, then the failure.
pub async fn inject(service: &str) -> Result<(), InjectedFailure> {
    let plan = FaultPlan::current();
    plan.delay(service).await;
    plan.fail(service)
}

// LESSON 08: the slow span and the event that explains it.
impl FaultPlan {
    /// The plan carried by the current span's baggage.
    pub fn current() -> Self {
        Self::from_context(&tracing::Span::current().context())
    }

    /// Sleeps if the plan delays `service`, recording a
    /// `fault.delay_injected` event on the current span first.
    pub async fn delay(&self, service: &str) {
        if self.delay_ms > 0 && self.delay_at.as_deref() == Some(service) {
            // The message becomes the span event's name; the field its attribute.
            tracing::info!(
                fault.delay_ms = self.delay_ms as i64,
                "fault.delay_injected"
            );
            tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        }
    }

    /// Fails if the plan fails `service`, recording a
    /// `fault.failure_injected` event on the current span.
    pub fn fail(&self, service: &str) -> Result<(), InjectedFailure> {
        if self.fail_at.as_deref() == Some(service) {
            tracing::warn!(fault.fail_at = service, "fault.failure_injected");
            return Err(InjectedFailure {
                service: service.to_string(),
            });
        }
        Ok(())
    }
}

/// Removes `fault.*` members from an incoming `baggage` header, keeping the
/// rest. The gateway calls it on every request: faults come from its own
/// query parameters only, never from a caller's headers.
pub fn strip_fault_baggage(headers: &mut HeaderMap) {
    let Some(value) = headers.get("baggage").and_then(|v| v.to_str().ok()) else {
        return;
    };
    let kept: Vec<&str> = value
        .split(',')
        .map(str::trim)
        .filter(|member| !member.is_empty() && !is_fault_member(member))
        .collect();
    if kept.is_empty() {
        headers.remove("baggage");
    } else if let Ok(value) = HeaderValue::from_str(&kept.join(",")) {
        headers.insert("baggage", value);
    }
}

/// Is this baggage member (`key=value;properties`) a `fault.*` entry?
/// Keys are percent-decoded first, as the propagator will decode them:
/// `fault%2Efail_at` is `fault.fail_at` too.
fn is_fault_member(member: &str) -> bool {
    let key = member.split('=').next().unwrap_or_default();
    let key = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
    key.trim().starts_with("fault.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_defaults_to_the_given_service_and_is_capped() {
        let plan = FaultPlan::from_query(Some("1500"), None, None, "inventory-service").unwrap();
        assert_eq!(plan.delay_at.as_deref(), Some("inventory-service"));
        assert_eq!(plan.delay_ms, 1500);
        assert!(FaultPlan::from_query(Some("10001"), None, None, "x").is_err());
        assert!(FaultPlan::from_query(Some("soon"), None, None, "x").is_err());
        assert!(FaultPlan::from_query(Some("-1"), None, None, "x").is_err());
    }

    #[test]
    fn unknown_services_are_rejected() {
        let error = FaultPlan::from_query(None, None, Some("db"), "x").unwrap_err();
        assert!(error.to_string().contains("fail must name one of"));
        assert!(FaultPlan::from_query(Some("5"), Some("nope"), None, "x").is_err());
    }

    #[test]
    fn baggage_round_trip_clamps_the_delay() {
        let cx = Context::new().with_baggage(vec![
            KeyValue::new(DELAY_MS, "999999"),
            KeyValue::new(DELAY_AT, "user-service"),
        ]);
        let plan = FaultPlan::from_context(&cx);
        assert_eq!(plan.delay_ms, MAX_DELAY_MS);
        assert_eq!(plan.delay_at.as_deref(), Some("user-service"));
    }

    #[test]
    fn strip_keeps_other_members() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "baggage",
            HeaderValue::from_static(
                "fault.fail_at=user-service, tenant=acme,fault%2Edelay_ms=5,%66ault.delay_at=x",
            ),
        );
        strip_fault_baggage(&mut headers);
        assert_eq!(headers["baggage"], "tenant=acme");
        headers.insert("baggage", HeaderValue::from_static("fault.delay_ms=5"));
        strip_fault_baggage(&mut headers);
        assert!(headers.get("baggage").is_none());
    }
}
