//! Runs a lesson's scenario against the live workshop: sends the requests
//! to the gateway, then polls the trace backend until their traces are
//! complete (or a timeout), and returns [`Observation`]s for the engine.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use super::outcome::{Observation, Outcome};
use super::spec::{ExpectTrace, RequestSpec, Spec, TraceparentSpec};
use super::whole_trace::looks_complete;
use crate::client::JaegerClient;
use crate::model::{Trace, TraceId};

/// Where to send requests and find traces, and how long to wait.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    pub gateway: String,
    pub jaeger: String,
    /// How long to wait for traces to arrive (default 15 s; a lesson's
    /// `timeout_s` may ask for longer).
    pub timeout: Duration,
    /// How to stop and restart services (`after_requests`).
    pub control: Control,
}

/// Who runs the services, so the scenario can stop or restart one.
#[derive(Clone, Debug, Default)]
pub enum Control {
    /// Nobody the lab knows (tests, a stack started by hand): lessons that
    /// stop services cannot run.
    #[default]
    None,
    /// `scripts/dev-up.sh` in this workshop root; `lesson_env` is the lesson
    /// whose environment applies for this run only.
    Native {
        root: std::path::PathBuf,
        lesson_env: Option<String>,
    },
    /// docker compose in this root.
    Compose { root: std::path::PathBuf },
}

/// How long traces must stop growing before an incomplete one counts as
/// final: dev-up's services export every second; compose's every 5 s.
fn stable_window(control: &Control) -> Duration {
    match control {
        Control::Native { .. } | Control::None => Duration::from_secs(3),
        Control::Compose { .. } => Duration::from_secs(7),
    }
}

/// Services export in batches every few seconds (the batch span processor
/// waits up to 5 s by default), so a trace is "complete" only once it has
/// every expected service and stopped growing between two polls.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Sampling lessons cannot tell "not sampled" from "not exported yet", so
/// they wait at least one full batch delay before counting.
const SAMPLING_SETTLE: Duration = Duration::from_secs(8);

/// A fresh W3C `traceparent` (random trace and parent ids) with the sampled
/// flag set or not.
pub fn new_traceparent_with(sampled: bool) -> (TraceId, String) {
    let trace = loop {
        let id: u128 = rand::random();
        if id != 0 {
            break id;
        }
    };
    let parent = rand::random::<u64>().max(1);
    let trace_id = TraceId::parse(&format!("{trace:032x}")).expect("32 hex digits, not zero");
    let flags = if sampled { "01" } else { "00" };
    (
        trace_id.clone(),
        format!("00-{trace_id}-{parent:016x}-{flags}"),
    )
}

/// One request sent: the `traceparent` it carried (id and header), the
/// gateway's answer and its JSON body.
type Sent = (Option<(TraceId, String)>, Outcome, Option<Json>);

/// Sends the requests and collects their traces.
pub async fn observe(
    spec: &Spec,
    options: &CheckOptions,
    mut say: impl FnMut(String),
) -> anyhow::Result<Vec<Observation>> {
    if !spec.logs.is_empty() && matches!(options.control, Control::None) {
        anyhow::bail!(
            "this lesson reads the services' log lines, and the lab does not know who runs \
             them (not scripts/dev-up.sh here, not docker compose): start the services with \
             scripts/dev-up.sh or docker compose"
        );
    }
    let jaeger = JaegerClient::new(&options.jaeger);
    // Fail early, with the fix, when there is no backend to read from.
    jaeger.services().await?;
    let window_start = crate::now_us().saturating_sub(2_000_000);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;

    let total: usize = spec.requests.iter().map(|r| r.repeat.max(1)).sum();
    let mut observations = Vec::new();
    'requests: for (phase, request) in spec.requests.iter().enumerate() {
        let phase_start = tokio::time::Instant::now();
        let label = format!("{} {}", request.method, request.path);
        let header = |_| {
            let mode = match (spec.reads_ids_from_responses(), request.traceparent) {
                (true, None) | (_, Some(TraceparentSpec::None)) => None,
                (false, None) | (_, Some(TraceparentSpec::Sampled)) => Some(true),
                (_, Some(TraceparentSpec::Unsampled)) => Some(false),
            };
            mode.map(new_traceparent_with)
        };
        // `after_requests.in_flight_ms`: the last request is still on its way
        // when the services are stopped.
        let in_flight = spec
            .after_requests
            .in_flight_ms
            .filter(|_| phase + 1 == spec.requests.len());
        let sent: Vec<Sent> =
            match request.rps {
                // A load phase: each request leaves on time, whether or not the
                // previous one has been answered, so the offered rate is exact.
                Some(rps) => {
                    let pace = Duration::from_secs_f64(1.0 / rps);
                    let sends = (0..request.repeat.max(1)).map(header).enumerate().map(
                        |(n, traceparent)| {
                            let http = &http;
                            async move {
                                tokio::time::sleep_until(phase_start + pace * n as u32).await;
                                let tp = traceparent.as_ref().map(|(_, h)| h.as_str());
                                let (response, body) = send(http, options, request, tp).await?;
                                anyhow::Ok((traceparent, response, body))
                            }
                        },
                    );
                    futures::future::try_join_all(sends).await?
                }
                None => {
                    let mut sent = Vec::new();
                    let repeat = request.repeat.max(1);
                    for (n, traceparent) in (0..repeat).map(header).enumerate() {
                        let tp = traceparent.as_ref().map(|(_, h)| h.as_str());
                        let sending = send(&http, options, request, tp);
                        let (response, body) = match in_flight.filter(|_| n + 1 == repeat) {
                            None => sending.await?,
                            Some(ms) => {
                                let stopping = async {
                                    tokio::time::sleep(Duration::from_millis(ms)).await;
                                    say(format!("→ {label}: sent, still in flight"));
                                    after_requests(spec, options, &mut say).await
                                };
                                let (answer, stopped) = tokio::join!(sending, stopping);
                                stopped?;
                                answer?
                            }
                        };
                        // No gateway: conclusive at once, no need to send the rest.
                        let unreachable = matches!(response, Outcome::Unreachable(_));
                        sent.push((traceparent, response, body));
                        if unreachable {
                            break;
                        }
                    }
                    sent
                }
            };
        // A load phase offers `repeat` requests at `rps`: that long, however
        // long the last answer took.
        let secs = match request.rps {
            Some(rps) => request.repeat.max(1) as f64 / rps,
            None => phase_start.elapsed().as_secs_f64(),
        };
        let mut unreachable = false;
        for (traceparent, response, response_body) in sent {
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
            unreachable |= matches!(response, Outcome::Unreachable(_));
            observations.push(Observation {
                request: label.clone(),
                expected_status: request.status,
                response,
                sent_trace_id: traceparent.map(|(id, _)| id),
                trace: None,
                elsewhere: Vec::new(),
                expect_trace: request.expect_trace,
                logs: Vec::new(),
                phase,
                phase_secs: secs,
                response_body,
            });
        }
        if unreachable {
            break 'requests;
        }
    }
    if total >= 5 {
        say(format!("→ sent {} requests", observations.len()));
    }
    let answered = observations
        .iter()
        .any(|o| matches!(o.response, Outcome::Answered { .. }));
    if !answered {
        return Ok(observations); // nothing to wait for
    }
    if spec.after_requests.in_flight_ms.is_none() {
        after_requests(spec, options, &mut say).await?;
    }
    say(format!("waiting for traces at {} ...", jaeger.base()));
    collect_traces(spec, options, &jaeger, &mut observations).await?;
    if !spec.logs.is_empty() {
        let source = match &options.control {
            Control::Native { root, .. } => crate::logs::LogSource::native(root),
            Control::Compose { root } => crate::logs::LogSource::Compose(root.clone()),
            Control::None => unreachable!("refused before sending anything"),
        };
        read_logs(&source, &mut observations)?;
    }
    if !spec.reads_ids_from_responses() {
        find_elsewhere(spec, &jaeger, window_start, &mut observations).await?;
    }
    Ok(observations)
}

/// Sends one request; a connection failure is an [`Outcome`], not an error.
/// The answer's JSON body comes with it (`equals_response`).
async fn send(
    http: &reqwest::Client,
    options: &CheckOptions,
    request: &RequestSpec,
    traceparent: Option<&str>,
) -> anyhow::Result<(Outcome, Option<Json>)> {
    let url = format!("{}{}", options.gateway.trim_end_matches('/'), request.path);
    let method = reqwest::Method::from_bytes(request.method.as_bytes())
        .map_err(|_| anyhow::anyhow!("unknown HTTP method {:?}", request.method))?;
    let mut builder = http.request(method, &url);
    if let Some(header) = traceparent {
        builder = builder.header("traceparent", header);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if let Some(body) = &request.body {
        builder = builder.json(body);
    }
    Ok(match builder.send().await {
        Err(e) => (Outcome::Unreachable(crate::client::root_cause(&e)), None),
        Ok(response) => {
            let status = response.status().as_u16();
            let body: Json = response.json().await.unwrap_or(Json::Null);
            let outcome = Outcome::Answered {
                status,
                trace_id: body["trace_id"]
                    .as_str()
                    .and_then(|t| TraceId::parse(t).ok()),
                error: body["error"].as_str().map(str::to_string),
            };
            (outcome, Some(body).filter(|b| !b.is_null()))
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
    let timeout = options
        .timeout
        .max(Duration::from_secs(spec.timeout_s.unwrap_or(0)));
    let settle = Duration::from_millis(spec.settle_ms.unwrap_or(0));
    let stable_for = stable_window(&options.control);
    let mut last_change = Instant::now();
    let mut last_size: HashMap<usize, usize> = HashMap::new();
    let mut done = vec![false; observations.len()];
    let mut stable_polls = 0;
    loop {
        let mut changed = false;
        for (i, obs) in observations.iter_mut().enumerate() {
            if done[i] || !matches!(obs.response, Outcome::Answered { .. }) {
                done[i] = true;
                continue;
            }
            let mut found: Option<Trace> = None;
            for id in lookup_ids(obs) {
                if let Some(trace) = jaeger.trace(&id).await? {
                    found = Some(trace);
                    break;
                }
            }
            let Some(trace) = found else {
                // A trace expected absent is "done" once the window has passed.
                done[i] = obs.expect_trace == ExpectTrace::Absent
                    && started.elapsed() >= settle.max(stable_for);
                continue;
            };
            let size = trace.spans.len();
            let previous = last_size.insert(i, size);
            // Complete: it looks whole and did not grow since the last poll.
            // Not before `settle_ms`: a trace marked done is not fetched
            // again, and spans the lesson waits for (a service no span of
            // it requires, an optional span) may still be on their way.
            done[i] = looks_complete(spec, obs, &trace)
                && previous == Some(size)
                && started.elapsed() >= settle;
            changed |= previous != Some(size);
            obs.trace = Some(trace);
        }
        stable_polls = if changed { 0 } else { stable_polls + 1 };
        if changed {
            last_change = Instant::now();
        }
        let elapsed = started.elapsed();
        let finished = if spec.reads_ids_from_responses() {
            // `settle_ms` may ask for longer: a tail sampler decides late.
            elapsed >= SAMPLING_SETTLE.max(settle) && stable_polls >= 4
        } else {
            // Complete, or conclusive: nothing has changed for a whole
            // export window, so what is missing is not on its way.
            let quiet = last_change.elapsed() >= stable_for;
            (done.iter().all(|d| *d) || quiet) && elapsed >= settle
        };
        if finished || elapsed >= timeout {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// `after_requests`: stop or restart services once the requests are answered.
async fn after_requests(
    spec: &Spec,
    options: &CheckOptions,
    say: &mut impl FnMut(String),
) -> anyhow::Result<()> {
    let after = &spec.after_requests;
    if after.stop.is_empty() && after.restart.is_empty() {
        return Ok(());
    }
    for service in after.stopped() {
        say(format!(
            "stopping {service} (SIGTERM: it should flush its spans)"
        ));
        match &options.control {
            Control::Native { root, .. } => crate::native::stop_service(root, service)?,
            Control::Compose { root } => crate::native::compose(root, "stop", service)?,
            Control::None => anyhow::bail!(
                "this lesson stops {service} after its requests, and the lab does not know who \
                 runs it: start the services with scripts/dev-up.sh or docker compose"
            ),
        }
    }
    for service in &after.restart {
        say(format!("starting {service} again"));
        match &options.control {
            Control::Native { root, lesson_env } => {
                let env = match lesson_env {
                    Some(slug) => crate::native::LessonEnv::Only(slug),
                    None => crate::native::LessonEnv::Active,
                };
                crate::native::dev_up(root, env)?;
            }
            Control::Compose { root } => crate::native::compose(root, "start", service)?,
            Control::None => {}
        }
    }
    Ok(())
}

/// Reads each service's log (natively `.lab/logs/<service>.log`, in compose
/// `docker compose logs`) for the JSON lines whose `trace_id` is each
/// request's trace id, and the lines that hold that id under another name
/// or in another form (the check says so). A request expected to leave no
/// trace (an unsampled parent) is looked up by the id it was sent with.
fn read_logs(
    source: &crate::logs::LogSource,
    observations: &mut [Observation],
) -> anyhow::Result<()> {
    for service in crate::stack::SERVICES {
        let text = source.read(service)?;
        for obs in observations.iter_mut() {
            let id = match (&obs.trace, &obs.sent_trace_id) {
                (Some(trace), _) => trace.trace_id.clone(),
                (None, Some(sent)) if obs.expect_trace == ExpectTrace::Absent => sent.clone(),
                _ => continue,
            };
            for line in crate::logs::lines_of(service, &text, &id) {
                obs.logs.push((line.service, line.raw));
            }
            for line in crate::logs::mentions_of(service, &text, &id) {
                obs.logs.push((line.service, line.raw));
            }
        }
    }
    Ok(())
}

/// For services missing from a request's trace, and for expected spans
/// missing from it, looks for their spans in other recent traces: that is
/// how broken propagation shows itself (a callee, or a consumer across a
/// queue, that started a trace of its own).
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
        // (service, span name or None for any of its spans)
        let mut wanted: Vec<(&str, Option<&str>)> = spec
            .required_services()
            .into_iter()
            .filter(|service| !present.iter().any(|p| p == service))
            .map(|service| (service, None))
            .collect();
        if let Some(trace) = &obs.trace {
            for expected in spec
                .trace
                .spans
                .iter()
                .filter(|s| super::relations::required_in(s, obs))
            {
                let service = expected.service.as_str();
                let there = trace
                    .spans
                    .iter()
                    .any(|s| s.service() == service && s.name == expected.name);
                if present.iter().any(|p| p == service) && !there {
                    wanted.push((service, Some(&expected.name)));
                }
            }
        }
        for (service, name) in wanted {
            if !cache.contains_key(service) {
                let found = jaeger.find(service, 20, Some(window_start)).await?;
                cache.insert(service.to_string(), found);
            }
            for trace in &cache[service] {
                let holds = name.is_none_or(|n| {
                    trace
                        .spans
                        .iter()
                        .any(|s| s.service() == service && s.name == n)
                });
                let known = obs.elsewhere.iter().any(|t| t.trace_id == trace.trace_id);
                if holds && !own.contains(&trace.trace_id) && !known {
                    obs.elsewhere.push(trace.clone());
                }
            }
        }
    }
    Ok(())
}
