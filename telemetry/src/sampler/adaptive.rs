//! The `adaptive` sampler: aim at a number of traces per second.
//!
//! A rate limit (`ratelimit`) keeps at most N traces a second too, but which
//! ones depends on when they arrive: its bucket refills continuously, so at
//! a steady load it keeps the first request after each refill (one in four
//! at four times the rate), and after a quiet spell a whole burst while the
//! bucket lasts. Its kept traces carry no share, so counts cannot be scaled
//! back up. The adaptive sampler decides by trace id instead: it estimates
//! how many new traces start per second and keeps each one with the
//! probability `target / rate`, which it records on the span. While the
//! traffic is under the target everything is kept; at twice the target half
//! is kept, at ten times a tenth, so the kept rate stays near the target
//! whatever the load.
//!
//! The estimate is re-made continuously: traces are counted in windows of
//! [`WINDOW`]; each finished window moves the estimate a share
//! ([`SMOOTHING`]) of the way to what it measured, and within a window the
//! count so far is a lower bound, so a sudden spike is seen at once. The
//! decision uses the trace id (like `traceidratio`), so it is the same for
//! every process that asks about the same trace.
//!
//! Wrapped parent-based (see [`super::from_values`]): only roots count and
//! decide. A kept root carries `sampling.target` (the configured traces per
//! second) and `sampling.ratio` (the probability it was kept with).

use std::fmt::Debug;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

use super::ratelimit::{Clock, SystemClock};
use super::SamplerError;

/// Attribute with the configured target (traces per second) on kept spans.
pub const TARGET_ATTRIBUTE: &str = "sampling.target";
/// Attribute with the probability a kept root was kept with.
pub const RATIO_ATTRIBUTE: &str = "sampling.ratio";

/// How long one counting window lasts.
pub const WINDOW: Duration = Duration::from_secs(1);
/// How far one finished window moves the estimate toward what it measured
/// (1.0 would forget all history; small values react slowly).
pub const SMOOTHING: f64 = 0.5;

/// The sampler. Clones share one estimate.
#[derive(Clone, Debug)]
pub struct AdaptiveSampler {
    /// Traces per second to aim at.
    target: f64,
    /// One estimate for every request thread; a decision reads and updates
    /// it as one step (see `RateLimitSampler` for why a `std` mutex).
    estimate: Arc<Mutex<RateEstimate>>,
    clock: Arc<dyn Clock>,
}

impl AdaptiveSampler {
    /// Aims at `target` root traces per second.
    pub fn new(target: f64) -> Result<Self, SamplerError> {
        Self::with_clock(target, Arc::new(SystemClock))
    }

    /// Like [`AdaptiveSampler::new`], reading the time from `clock`.
    pub fn with_clock(target: f64, clock: Arc<dyn Clock>) -> Result<Self, SamplerError> {
        let valid = target.is_finite() && target > 0.0;
        if !valid {
            return Err(SamplerError::InvalidRate {
                value: target.to_string(),
                reason: "it is not a positive, finite number",
            });
        }
        let estimate = RateEstimate::new(clock.now());
        Ok(AdaptiveSampler {
            target,
            estimate: Arc::new(Mutex::new(estimate)),
            clock,
        })
    }

    /// Counts one new trace and returns the probability to keep it with.
    fn probability(&self) -> f64 {
        let mut estimate = self.estimate.lock().unwrap_or_else(PoisonError::into_inner);
        let rate = estimate.count(self.clock.now());
        keep_probability(self.target, rate)
    }
}

// LESSON 10: the decision. Everything while the traffic is under the
// target; above it, the share that brings the kept rate back to the target.
fn keep_probability(target: f64, rate: f64) -> f64 {
    if rate <= target {
        1.0
    } else {
        target / rate
    }
}

/// Whether `trace_id` falls in the kept share `probability`: the same
/// answer for the same trace in every process (as `traceidratio` does).
fn in_share(trace_id: TraceId, probability: f64) -> bool {
    if probability >= 1.0 {
        return true;
    }
    let low = u64::from_be_bytes(trace_id.to_bytes()[8..16].try_into().unwrap_or_default());
    (low >> 1) < (probability * (1u64 << 63) as f64) as u64
}

/// New traces per second, estimated.
#[derive(Debug)]
struct RateEstimate {
    window_start: Instant,
    /// Traces counted since `window_start`.
    in_window: u64,
    /// The smoothed rate of the finished windows (`None` before the first).
    smoothed: Option<f64>,
}

impl RateEstimate {
    fn new(now: Instant) -> Self {
        RateEstimate {
            window_start: now,
            in_window: 0,
            smoothed: None,
        }
    }

    /// Counts one trace at `now`; returns the current rate estimate.
    fn count(&mut self, now: Instant) -> f64 {
        self.finish_windows(now);
        self.in_window += 1;
        // The traces of this window so far are a lower bound of its rate.
        let so_far = self.in_window as f64 / WINDOW.as_secs_f64();
        self.smoothed.unwrap_or(0.0).max(so_far)
    }

    /// Folds every window that ended before `now` into the estimate.
    fn finish_windows(&mut self, now: Instant) {
        let mut windows = 0;
        while now >= self.window_start + WINDOW {
            let measured = self.in_window as f64 / WINDOW.as_secs_f64();
            self.smoothed = Some(match self.smoothed {
                None => measured,
                Some(rate) => rate + SMOOTHING * (measured - rate),
            });
            self.in_window = 0;
            self.window_start += WINDOW;
            windows += 1;
            // After a long idle time the estimate has decayed to nothing
            // anyway: start afresh instead of looping over every window.
            if windows > 32 {
                self.smoothed = Some(0.0);
                self.window_start = now;
            }
        }
    }
}

impl ShouldSample for AdaptiveSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let probability = self.probability();
        let (decision, attributes) = if in_share(trace_id, probability) {
            let why = vec![
                KeyValue::new(TARGET_ATTRIBUTE, self.target),
                KeyValue::new(RATIO_ATTRIBUTE, probability),
            ];
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

    #[derive(Debug)]
    struct ManualClock(Mutex<Instant>);

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    impl ManualClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    fn kept(sampler: &AdaptiveSampler, id: u128) -> bool {
        let result = sampler.should_sample(
            None,
            TraceId::from(id.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
            "GET /",
            &SpanKind::Server,
            &[],
            &[],
        );
        result.decision == SamplingDecision::RecordAndSample
    }

    /// Sends `per_second` traces a second for `seconds`, evenly spread;
    /// returns how many were kept in the last second.
    fn drive(
        sampler: &AdaptiveSampler,
        clock: &ManualClock,
        per_second: u32,
        seconds: u32,
    ) -> usize {
        let step = WINDOW / per_second;
        let mut kept_last_second = 0;
        let mut id = 0u128;
        for second in 0..seconds {
            for _ in 0..per_second {
                id += 1;
                let keep = kept(sampler, id + u128::from(second) * 1_000_000);
                if second == seconds - 1 && keep {
                    kept_last_second += 1;
                }
                clock.advance(step);
            }
        }
        kept_last_second
    }

    fn sampler(target: f64) -> (AdaptiveSampler, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock(Mutex::new(Instant::now())));
        (
            AdaptiveSampler::with_clock(target, clock.clone()).unwrap(),
            clock,
        )
    }

    #[test]
    fn under_the_target_everything_is_kept() {
        let (sampler, clock) = sampler(10.0);
        assert_eq!(drive(&sampler, &clock, 8, 5), 8);
    }

    #[test]
    fn above_the_target_the_kept_rate_comes_near_the_target() {
        for load in [50, 200] {
            let (sampler, clock) = sampler(10.0);
            let kept = drive(&sampler, &clock, load, 8);
            assert!(
                (5..=16).contains(&kept),
                "load {load}/s kept {kept} in a second"
            );
        }
    }

    #[test]
    fn after_a_spike_it_keeps_everything_again() {
        let (sampler, clock) = sampler(10.0);
        drive(&sampler, &clock, 200, 4);
        assert_eq!(drive(&sampler, &clock, 5, 6), 5);
    }

    #[test]
    fn the_share_follows_the_probability() {
        let share = (0..10_000u128)
            .filter(|i| {
                in_share(
                    TraceId::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
                    0.25,
                )
            })
            .count();
        assert!((2_200..=2_800).contains(&share), "{share}");
        assert_eq!(keep_probability(10.0, 5.0), 1.0);
        assert_eq!(keep_probability(10.0, 40.0), 0.25);
    }

    #[test]
    fn a_target_must_be_positive() {
        assert!(AdaptiveSampler::new(0.0).is_err());
        assert!(AdaptiveSampler::new(f64::NAN).is_err());
    }
}
