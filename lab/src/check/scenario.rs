//! Runs a lesson's scenario against the live workshop: sends the requests
//! to the gateway, then polls the trace backend until their traces are
//! complete (or a timeout), and returns [`Observation`]s for the engine.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::engine::{Observation, Outcome};
use super::spec::{RequestSpec, Spec};
use super::whole_trace::looks_complete;
use crate::client::JaegerClient;
use crate::model::{Trace, TraceId};

/// Where to send requests and find traces, and how long to wait.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub gateway: String,
    pub jaeger: String,
    /// How long to wait for traces to arrive (default 15 s).
    pub timeout: Duration,
}

/// Services export in batches every few seconds (the batch span processor
/// waits up to 5 s by default), so a trace is "complete" only once it has
/// every expected service and stopped growing between two polls.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Sampling lessons cannot tell "not sampled" from "not exported yet", so
/// they wait at least one full batch delay before counting.
const SAMPLING_SETTLE: Duration = Duration::from_secs(8);

/// A fresh W3C `traceparent`: random trace and parent ids, sampled flag set.
pub fn new_traceparent() -> (TraceId, String) {
    let trace = loop {
        let id: u128 = rand::random();
        if id != 0 {
            break id;
        }
    };
    let parent = rand::random::<u64>().max(1);
    let trace_id = TraceId::parse(&format!("{trace:032x}")).expect("32 hex digits, not zero");
    (trace_id.clone(), format!("00-{trace_id}-{parent:016x}-01"))
}

/// Sends the requests and collects their traces.
pub async fn observe(
    spec: &Spec,
    options: &CheckOptions,
    mut say: impl FnMut(String),
) -> anyhow::Result<Vec<Observation>> {
    let jaeger = JaegerClient::new(&options.jaeger);
    // Fail early, with the fix, when there is no backend to read from.
    jaeger.services().await?;
    let window_start = crate::now_us().saturating_sub(2_000_000);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let total: usize = spec.requests.iter().map(|r| r.repeat.max(1)).sum();
    let mut observations = Vec::new();
    for request in &spec.requests {
        for _ in 0..request.repeat.max(1) {
            let (sent_trace_id, traceparent) = match spec.reads_ids_from_responses() {
                true => (None, None),
                false => {
                    let (id, header) = new_traceparent();
                    (Some(id), Some(header))
                }
            };
            let response = send(&http, options, request, traceparent.as_deref()).await?;
            let label = format!("{} {}", request.method, request.path);
            if let (
                true,
                Outcome::Answered {
                    status, trace_id, ..
                },
            ) = (total < 5, &response)
            {
                let id = trace_id.as_ref().map_or("?".to_string(), |t| t.to_string());
                say(format!("→ {label}: {status}, trace {id}"));
            }
            observations.push(Observation {
                request: label,
                expected_status: request.status,
                response,
                sent_trace_id,
                trace: None,
                elsewhere: Vec::new(),
            });
        }
    }
    if total >= 5 {
        say(format!("→ sent {total} requests"));
    }
    let answered = observations
        .iter()
        .any(|o| matches!(o.response, Outcome::Answered { .. }));
    if !answered {
        return Ok(observations); // nothing to wait for
    }
    say(format!("waiting for traces at {} ...", jaeger.base()));
    collect_traces(spec, options, &jaeger, &mut observations).await?;
    if !spec.reads_ids_from_responses() {
        find_elsewhere(spec, &jaeger, window_start, &mut observations).await?;
    }
    Ok(observations)
}

/// Sends one request; a connection failure is an [`Outcome`], not an error.
async fn send(
    http: &reqwest::Client,
    options: &CheckOptions,
    request: &RequestSpec,
    traceparent: Option<&str>,
) -> anyhow::Result<Outcome> {
    let url = format!("{}{}", options.gateway.trim_end_matches('/'), request.path);
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| anyhow::anyhow!("unknown HTTP method {:?}", request.method))?;
    let mut builder = http.request(method, &url);
    if let Some(header) = traceparent {
        builder = builder.header("traceparent", header);
    }
    if let Some(body) = &request.body {
        builder = builder.json(body);
    }
    Ok(match builder.send().await {
        Err(e) => Outcome::Unreachable(crate::client::root_cause(&e)),
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Json = response.json().await.unwrap_or(Json::Null);
            Outcome::Answered {
                status,
                trace_id: body["trace_id"]
                    .as_str()
                    .and_then(|t| TraceId::parse(t).ok()),
                error: body["error"].as_str().map(str::to_string),
            }
        }
    })
}

/// The ids to look a request's trace up by: what the gateway answered
/// (normally the id we sent), then the id we sent.
fn lookup_ids(obs: &Observation) -> Vec<TraceId> {
    let mut ids = Vec::new();
    if let Outcome::Answered {
        trace_id: Some(id), ..
    } = &obs.response
    {
        ids.push(id.clone());
    }
    if let Some(sent) = &obs.sent_trace_id {
        if !ids.contains(sent) {
            ids.push(sent.clone());
        }
    }
    ids
}

async fn collect_traces(
    spec: &Spec,
    options: &CheckOptions,
    jaeger: &JaegerClient,
    observations: &mut [Observation],
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut last_size: HashMap<usize, usize> = HashMap::new();
    let mut done = vec![false; observations.len()];
    let mut stable_polls = 0;
    loop {
        let mut changed = false;
        for (i, obs) in observations.iter_mut().enumerate() {
            if done[i] {
                continue;
            }
            let mut found: Option<Trace> = None;
            for id in lookup_ids(obs) {
                if let Some(trace) = jaeger.trace(&id).await? {
                    found = Some(trace);
                    break;
                }
            }
            let Some(trace) = found else { continue };
            let size = trace.spans.len();
            let previous = last_size.insert(i, size);
            // Complete: it looks whole and did not grow since the last poll.
            done[i] = looks_complete(spec, &trace) && previous == Some(size);
            changed |= previous != Some(size);
            obs.trace = Some(trace);
        }
        stable_polls = if changed { 0 } else { stable_polls + 1 };
        let elapsed = started.elapsed();
        let finished = if spec.reads_ids_from_responses() {
            elapsed >= SAMPLING_SETTLE && stable_polls >= 4
        } else {
            done.iter().all(|d| *d)
        };
        if finished || elapsed >= options.timeout {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// For services missing from a request's trace, looks for their spans in
/// other recent traces: that is how broken propagation shows itself.
async fn find_elsewhere(
    spec: &Spec,
    jaeger: &JaegerClient,
    window_start: u64,
    observations: &mut [Observation],
) -> anyhow::Result<()> {
    let mut cache: HashMap<String, Vec<Trace>> = HashMap::new();
    // Traces of this check's own requests are not "elsewhere".
    let own: Vec<TraceId> = observations
        .iter()
        .filter_map(|o| o.trace.as_ref().map(|t| t.trace_id.clone()))
        .collect();
    for obs in observations.iter_mut() {
        let present: Vec<String> = match &obs.trace {
            Some(trace) => trace.services().iter().map(|s| s.to_string()).collect(),
            None => Vec::new(),
        };
        for service in spec.required_services() {
            if present.iter().any(|p| p == service) {
                continue;
            }
            if !cache.contains_key(service) {
                let found = jaeger.find(service, 20, Some(window_start)).await?;
                cache.insert(service.to_string(), found);
            }
            for trace in &cache[service] {
                let known = obs.elsewhere.iter().any(|t| t.trace_id == trace.trace_id);
                if !own.contains(&trace.trace_id) && !known {
                    obs.elsewhere.push(trace.clone());
                }
            }
        }
    }
    Ok(())
}
