//! The `ratelimit` sampler: keep at most N new traces per second.
//!
//! A ratio keeps a *fraction*, so a traffic spike still floods the backend.
//! A rate limit keeps a *number*: quiet hours are traced completely, a spike
//! costs no more than a calm minute. It is a token bucket: each kept trace
//! spends a token, tokens flow back at `rate` per second, and the bucket holds
//! at most `rate` of them (one second's worth), so a burst after a quiet
//! period is bounded too.
//!
//! It is wrapped parent-based (see [`super::from_values`]), so only root spans
//! spend tokens: the spans of a trace already kept are kept with it. The limit
//! is per process: two gateways keep up to twice the rate.
//!
//! A kept span carries `sampling.rate`, the configured rate. To change the
//! algorithm (say, a bigger burst, or a leaky bucket), edit
//! `TokenBucket::refill` and `TokenBucket::try_take` (`LESSON 10`).

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use super::SamplerError;

/// Attribute with the configured rate (traces per second) on kept spans.
pub const RATE_ATTRIBUTE: &str = "sampling.rate";

/// Where the sampler reads the time. The real one is [`SystemClock`]; tests
/// pass a clock they move by hand, so they never depend on how fast the
/// machine is.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Instant;
}

/// `Instant::now()`: monotonic, unaffected by changes of the wall clock.
#[derive(Debug)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The sampler. Clones share one bucket.
#[derive(Clone, Debug)]
pub struct RateLimitSampler {
    /// Traces per second, as configured; also put on kept spans.
    rate: f64,
    /// Every request thread asks this one bucket. A decision reads and then
    /// updates two numbers (tokens, last refill) as one step; with a separate
    /// atomic for each, two threads could both see the last token and both
    /// spend it. A `std::sync::Mutex` makes the step whole; it is held for a
    /// few nanoseconds and never across an `.await`, so Tokio's async mutex
    /// would only add cost.
    bucket: Arc<Mutex<TokenBucket>>,
    clock: Arc<dyn Clock>,
}

impl RateLimitSampler {
    /// Keeps at most `rate` root traces per second (burst: one second's worth).
    pub fn new(rate: f64) -> Result<Self, SamplerError> {
        Self::with_clock(rate, Arc::new(SystemClock))
    }

    /// Like [`RateLimitSampler::new`], reading the time from `clock`.
    pub fn with_clock(rate: f64, clock: Arc<dyn Clock>) -> Result<Self, SamplerError> {
        // Written as "valid unless", because NaN fails every comparison.
        let valid = rate.is_finite() && rate > 0.0;
        if !valid {
            return Err(SamplerError::InvalidRate {
                value: rate.to_string(),
                reason: "it is not a positive, finite number",
            });
        }
        let bucket = TokenBucket::full(rate, clock.now());
        Ok(RateLimitSampler {
            rate,
            bucket: Arc::new(Mutex::new(bucket)),
            clock,
        })
    }

    /// Spends a token if there is one.
    fn try_acquire(&self) -> bool {
        // A panic elsewhere cannot leave the two numbers inconsistent (they
        // are updated without anything that panics in between), so a
        // poisoned lock is still a usable bucket.
        let mut bucket = self.bucket.lock().unwrap_or_else(PoisonError::into_inner);
        // Read the clock while holding the lock: a thread that read the time
        // earlier but got the lock later would otherwise move time backwards.
        bucket.try_take(self.clock.now())
    }
}

/// Tokens available now, and when they were last topped up.
#[derive(Debug)]
struct TokenBucket {
    /// Traces that may still be kept right now; fractional between refills.
    tokens: f64,
    /// At most this many tokens: the largest burst.
    capacity: f64,
    /// Tokens added per second.
    per_second: f64,
    last_refill: Instant,
}

impl TokenBucket {
    /// A full bucket, so the first requests after start-up are traced. The
    /// capacity is the rate, but at least one token: with a rate of 0.5
    /// (one trace every 2 s) a bucket of half a token would never pay out.
    fn full(per_second: f64, now: Instant) -> Self {
        let capacity = per_second.max(1.0);
        TokenBucket {
            tokens: capacity,
            capacity,
            per_second,
            last_refill: now,
        }
    }

    // LESSON 10: the refill. Continuous: tokens for the time elapsed since the
    // last decision, capped at the capacity (an idle hour does not buy an
    // hour's worth of burst).
    fn refill(&mut self, now: Instant) {
        if now <= self.last_refill {
            return;
        }
        let elapsed = now.duration_since(self.last_refill).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last_refill = now;
    }

    // LESSON 10: the decision. One whole token keeps one trace.
    fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl ShouldSample for RateLimitSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let (decision, attributes) = if self.try_acquire() {
            let why = vec![KeyValue::new(RATE_ATTRIBUTE, self.rate)];
            (SamplingDecision::RecordAndSample, why)
        } else {
            (SamplingDecision::Drop, Vec::new())
        };
        SamplingResult {
            decision,
            attributes,
            trace_state: super::parent_trace_state(parent_context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_full_bucket_pays_out_its_capacity_then_refills_with_time() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(2.0, start);
        let kept = (0..10).filter(|_| bucket.try_take(start)).count();
        assert_eq!(kept, 2);
        // Half a second at 2/s is one token.
        let later = start + Duration::from_millis(500);
        assert!(bucket.try_take(later));
        assert!(!bucket.try_take(later));
    }

    #[test]
    fn an_idle_bucket_never_holds_more_than_its_capacity() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(3.0, start);
        let an_hour_later = start + Duration::from_secs(3600);
        let kept = (0..100).filter(|_| bucket.try_take(an_hour_later)).count();
        assert_eq!(kept, 3);
    }

    #[test]
    fn a_rate_below_one_still_keeps_a_trace_now_and_then() {
        let start = Instant::now();
        let mut bucket = TokenBucket::full(0.5, start);
        assert!(bucket.try_take(start));
        assert!(!bucket.try_take(start + Duration::from_secs(1)));
        assert!(bucket.try_take(start + Duration::from_secs(2)));
    }

    #[test]
    fn time_going_backwards_adds_no_tokens() {
        let start = Instant::now() + Duration::from_secs(10);
        let mut bucket = TokenBucket::full(1.0, start);
        assert!(bucket.try_take(start));
        assert!(!bucket.try_take(start - Duration::from_secs(5)));
        assert!(!bucket.try_take(start + Duration::from_millis(500)));
        assert!(bucket.try_take(start + Duration::from_secs(1)));
    }
}
