//! The `rules` sampler: per-route sampling read from a YAML file, re-read
//! whenever the file changes.
//!
//! One ratio for everything is rarely what you want: health checks are noise,
//! order creation is precious, lookups are plentiful. The rules file
//! (`config/sampling.yaml`, which explains its own format) lists rules in
//! order; the first rule whose conditions all match the span decides, and
//! `default` decides when none does. A kept span carries `sampling.rule` (and
//! `sampling.ratio`) so you can see in Jaeger *why* it was kept.
//!
//! It only sees what exists when the span starts: the name (`POST /orders`)
//! and start attributes (`http.route`, `http.request.method`); status and
//! duration do not exist yet (that is tail sampling's job).
//!
//! Hot reload: [`RulesSampler::watch`] starts a thread (in `watch.rs`) that
//! notices when the file changes; new rules that parse replace the old
//! ones, invalid ones are refused with a warning and the old ones stay.
//!
//! To change what a rule can match on, edit `Condition::matches`; to change
//! how a decision is made, edit [`Rules::decide`] (both marked `LESSON 10`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, LockResult, Mutex, PoisonError, RwLock};
use std::time::Duration;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use regex::Regex;
use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};

use super::{watch, SamplerError};

pub use super::watch::WatchStatus;

/// Attribute naming the rule that kept the span (`"default"` if none matched).
pub const RULE_ATTRIBUTE: &str = "sampling.rule";
/// Attribute with the ratio that kept the span, when the rule had one.
pub const RATIO_ATTRIBUTE: &str = "sampling.ratio";
/// The `match:` key that means "the span name" rather than an attribute.
pub const SPAN_NAME_KEY: &str = "span_name";

/// A parsed rules file. See `config/sampling.yaml` for the format.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// What happens to a span no rule matches.
    default: Sample,
    /// Tried in order; the first one that matches decides.
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    /// Shown on kept spans as `sampling.rule`.
    name: String,
    /// Field (`span_name` or an attribute key) → condition; all must hold.
    /// No `match:` at all matches every span (a catch-all).
    #[serde(rename = "match", default)]
    conditions: BTreeMap<String, Condition>,
    sample: Sample,
}

/// `{ equals: "..." }` or `{ regex: "..." }`, checked while parsing so that a
/// broken regex is reported with its line number.
#[derive(Debug, Deserialize)]
#[serde(try_from = "RawCondition")]
enum Condition {
    Equals(String),
    Regex(Regex),
}

#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"a condition such as { equals: "GET /health" } or { regex: "^GET /" }"#
)]
struct RawCondition {
    equals: Option<String>,
    regex: Option<String>,
}

impl TryFrom<RawCondition> for Condition {
    type Error = String;
    fn try_from(raw: RawCondition) -> Result<Self, String> {
        match (raw.equals, raw.regex) {
            (Some(text), None) => Ok(Condition::Equals(text)),
            (None, Some(pattern)) => Regex::new(&pattern)
                .map(Condition::Regex)
                .map_err(|e| format!("invalid regex {pattern:?}: {e}")),
            _ => Err("a condition needs exactly one of `equals:` or `regex:`".into()),
        }
    }
}

/// What a rule does with the spans it matches.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Sample {
    AlwaysOn,
    AlwaysOff,
    /// Keep this fraction of traces, chosen by trace id.
    Ratio(f64),
}

/// Read by hand (not derived) so that a bad value is reported at its own
/// line and column: `sample: 1.5` or `sample: maybe`.
impl<'de> Deserialize<'de> for Sample {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SampleVisitor)
    }
}

struct SampleVisitor;

impl Visitor<'_> for SampleVisitor {
    type Value = Sample;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("always_on, always_off or a ratio between 0 and 1")
    }

    fn visit_f64<E: de::Error>(self, ratio: f64) -> Result<Sample, E> {
        if (0.0..=1.0).contains(&ratio) {
            Ok(Sample::Ratio(ratio))
        } else {
            Err(E::invalid_value(Unexpected::Float(ratio), &self))
        }
    }

    fn visit_u64<E: de::Error>(self, whole: u64) -> Result<Sample, E> {
        self.visit_f64(whole as f64)
    }

    fn visit_str<E: de::Error>(self, word: &str) -> Result<Sample, E> {
        match word {
            "always_on" => Ok(Sample::AlwaysOn),
            "always_off" => Ok(Sample::AlwaysOff),
            _ => Err(E::invalid_value(Unexpected::Str(word), &self)),
        }
    }
}

impl Rules {
    /// Parses the text of a rules file; the error names the line.
    pub fn parse(text: &str) -> Result<Rules, String> {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }

    /// Reads and parses the file at `path`.
    pub fn load(path: &Path) -> Result<Rules, SamplerError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| SamplerError::RulesFileUnreadable {
                path: path.to_path_buf(),
                source,
            })?;
        Rules::parse(&text).map_err(|reason| SamplerError::InvalidRules {
            path: path.to_path_buf(),
            reason,
        })
    }

    // LESSON 10: the decision. First matching rule wins; no match → default.
    /// Returns the name of the deciding rule and what it says.
    pub fn decide(&self, span_name: &str, attributes: &[KeyValue]) -> (&str, Sample) {
        self.rules
            .iter()
            .find(|rule| {
                let mut conditions = rule.conditions.iter();
                conditions.all(|(field, c)| c.matches(field, span_name, attributes))
            })
            .map_or(("default", self.default), |rule| (&rule.name, rule.sample))
    }
}

impl Condition {
    // LESSON 10: what a condition can look at. `span_name` is the span's
    // name; any other key is looked up among the span's start attributes. A
    // missing attribute never matches. Add new kinds of field here.
    fn matches(&self, field: &str, span_name: &str, attributes: &[KeyValue]) -> bool {
        let value: Option<Cow<'_, str>> = if field == SPAN_NAME_KEY {
            Some(Cow::Borrowed(span_name))
        } else {
            let attribute = attributes.iter().find(|kv| kv.key.as_str() == field);
            attribute.map(|kv| kv.value.as_str())
        };
        value.is_some_and(|value| match self {
            Condition::Equals(text) => value == text.as_str(),
            Condition::Regex(regex) => regex.is_match(&value),
        })
    }
}

impl Sample {
    /// Whether a trace with this id is kept.
    pub fn keeps(self, trace_id: TraceId) -> bool {
        match self {
            Sample::AlwaysOn => true,
            Sample::AlwaysOff => false,
            Sample::Ratio(ratio) => ratio_keeps(ratio, trace_id),
        }
    }
}

/// The SDK's `TraceIdRatioBased` algorithm, so that every service (and every
/// span of a trace) makes the same choice for the same trace id: read the
/// last 8 bytes of the id as a big-endian number, drop its lowest bit (63
/// random bits remain) and keep the trace if that is below `ratio * 2^63`.
pub fn ratio_keeps(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    // `as u64` keeps the low 64 bits of the 128-bit id: its last 8 bytes.
    let last_8_bytes = u128::from_be_bytes(trace_id.to_bytes()) as u64;
    let random_63_bits = last_8_bytes >> 1;
    let threshold = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    random_63_bits < threshold
}

/// The sampler. Cloning it is cheap and clones share the same rules.
#[derive(Clone, Debug)]
pub struct RulesSampler {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The rules in force. A decision clones the inner `Arc` and lets go of
    /// the lock at once, so a reload never waits for decisions, and every
    /// decision sees one whole rule set (never half old, half new).
    current: RwLock<Arc<Rules>>,
    /// What the watcher last saw, for the log, the tests and the curious.
    status: Mutex<WatchStatus>,
}

impl RulesSampler {
    /// Loads `path` (an invalid file is an error) and starts a thread that
    /// re-reads it when it changes, checking every `poll`.
    pub fn watch(path: &Path, poll: Duration) -> Result<RulesSampler, SamplerError> {
        let stamp = watch::stamp(path);
        let rules = Rules::load(path)?;
        tracing::info!(path = %path.display(), rules = rules.rules.len(), "sampling rules loaded");
        let shared = Arc::new(Shared {
            current: RwLock::new(Arc::new(rules)),
            status: Mutex::new(WatchStatus::default()),
        });
        let owner = Arc::downgrade(&shared);
        watch::spawn(path.to_path_buf(), poll, stamp, owner, Shared::reload);
        Ok(RulesSampler { shared })
    }

    /// The rules in force right now.
    pub fn rules(&self) -> Arc<Rules> {
        let current = unpoison(self.shared.current.read());
        Arc::clone(&current)
    }

    /// What the file watcher has done so far.
    pub fn status(&self) -> WatchStatus {
        unpoison(self.shared.status.lock()).clone()
    }
}

impl Shared {
    /// Re-reads the file; keeps the old rules if the new ones are invalid.
    fn reload(&self, path: &Path) {
        let result = Rules::load(path);
        let mut status = unpoison(self.status.lock());
        status.changes_seen += 1;
        match result {
            Ok(rules) => {
                tracing::info!(path = %path.display(), rules = rules.rules.len(), "sampling rules reloaded");
                *unpoison(self.current.write()) = Arc::new(rules);
                status.last_error = None;
            }
            Err(error) => {
                tracing::warn!("{error}; keeping the previous sampling rules");
                status.last_error = Some(error.to_string());
            }
        }
    }
}

/// A lock is "poisoned" if a thread panicked while holding it. Ours only
/// guard a pointer swap or a counter, which a panic cannot leave half done,
/// so the data inside is still good: use it rather than panic in turn.
fn unpoison<G>(result: LockResult<G>) -> G {
    result.unwrap_or_else(PoisonError::into_inner)
}

impl ShouldSample for RulesSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let rules = self.rules();
        let (rule, sample) = rules.decide(name, attributes);
        let (decision, attributes) = if sample.keeps(trace_id) {
            (SamplingDecision::RecordAndSample, explain(rule, sample))
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

/// The attributes that tell a learner why a span was kept.
fn explain(rule: &str, sample: Sample) -> Vec<KeyValue> {
    let mut attributes = vec![KeyValue::new(RULE_ATTRIBUTE, rule.to_string())];
    if let Sample::Ratio(ratio) = sample {
        attributes.push(KeyValue::new(RATIO_ATTRIBUTE, ratio));
    }
    attributes
}
