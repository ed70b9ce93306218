//! `cargo lab load`: steady traffic against the gateway, and a latency
//! summary that points at the slowest traces.
//!
//! Requests start on a fixed schedule (`rps`), each in its own task, so a
//! slow response does not slow the schedule down (an "open" load model, like
//! real users); at most `max_in_flight` run at once so a stuck gateway cannot
//! pile up unbounded tasks.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

mod summary;

pub use summary::{percentile, summarize, Summary};

const PRODUCTS: [&str; 4] = ["Laptop", "Mouse", "Keyboard", "Monitor"];

/// How much traffic, of what kind.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub gateway: String,
    /// Requests started per second.
    pub rps: f64,
    pub stop: Stop,
    pub mix: Mix,
    /// `?delay=MS` on every request (fault injection).
    pub delay_ms: Option<u64>,
    /// `?fail=SERVICE` on every request (fault injection).
    pub fail: Option<String>,
    pub max_in_flight: usize,
}

/// When to stop sending.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    Requests(u64),
    Duration(Duration),
}

/// Relative weights of `POST /orders` and `GET /orders/{id}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mix {
    pub orders: u32,
    pub get: u32,
}

impl FromStr for Mix {
    type Err = String;

    /// Parses `orders=8,get=2`.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut mix = Mix { orders: 0, get: 0 };
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?}: expected name=weight, like orders=8"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: the weight must be a whole number"))?;
            match name.trim() {
                "orders" | "post" => mix.orders = weight,
                "get" => mix.get = weight,
                other => {
                    return Err(format!(
                        "unknown request kind {other:?}: use orders and get"
                    ))
                }
            }
        }
        if mix.orders + mix.get == 0 {
            return Err("the mix has no weight: try orders=8,get=2".to_string());
        }
        Ok(mix)
    }
}

/// One finished request.
#[derive(Clone, Debug)]
pub struct Sample {
    /// `POST /orders` or `GET /orders/{id}`.
    pub request: String,
    /// `None` when no response came back (connection error, timeout).
    pub status: Option<u16>,
    pub latency: Duration,
    /// The `trace_id` of the response body, to look the trace up.
    pub trace_id: Option<String>,
    /// Whether the trace was kept: the sampled flag of the `traceresponse`
    /// header (`...-01` kept, `...-00` not); `None` without the header.
    pub sampled: Option<bool>,
}

/// Sends the traffic; `on_sample` is called as each request finishes
/// (the progress bar hangs off it).
pub async fn run(
    config: &LoadConfig,
    on_sample: impl Fn(&Sample) + Send + Sync + 'static,
) -> anyhow::Result<Summary> {
    anyhow::ensure!(config.rps > 0.0, "--rps must be more than 0");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let on_sample = Arc::new(on_sample);
    // Ids of orders created so far, for the GET requests (newest last).
    let order_ids: Arc<Mutex<Vec<i64>>> = Arc::default();
    let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
    let permits = Arc::new(Semaphore::new(config.max_in_flight.max(1)));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / config.rps));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = JoinSet::new();
    let started = Instant::now();
    let mut sent: u64 = 0;
    loop {
        let more = match config.stop {
            Stop::Requests(n) => sent < n,
            Stop::Duration(d) => started.elapsed() < d,
        };
        if !more {
            break;
        }
        tick.tick().await;
        let permit = permits.clone().acquire_owned().await?;
        let use_get = pick_get(&config.mix) && !lock(&order_ids).is_empty();
        let (http, ids, samples, on_sample) = (
            http.clone(),
            order_ids.clone(),
            samples.clone(),
            on_sample.clone(),
        );
        let config = config.clone();
        tasks.spawn(async move {
            let sample = send_one(&http, &config, use_get, &ids).await;
            on_sample(&sample);
            lock(&samples).push(sample);
            drop(permit);
        });
        sent += 1;
    }
    while tasks.join_next().await.is_some() {}
    let samples = std::mem::take(&mut *lock(&samples));
    Ok(summarize(&samples, started.elapsed()))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn pick_get(mix: &Mix) -> bool {
    rand::rng().random_range(0..mix.orders + mix.get) >= mix.orders
}

async fn send_one(
    http: &reqwest::Client,
    config: &LoadConfig,
    use_get: bool,
    ids: &Mutex<Vec<i64>>,
) -> Sample {
    let base = config.gateway.trim_end_matches('/');
    let mut query = Vec::new();
    if let Some(ms) = config.delay_ms {
        query.push(format!("delay={ms}"));
    }
    if let Some(service) = &config.fail {
        query.push(format!("fail={service}"));
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let (label, request) = if use_get {
        let id = {
            let ids = lock(ids);
            ids[rand::rng().random_range(0..ids.len())]
        };
        (
            "GET /orders/{id}".to_string(),
            http.get(format!("{base}/orders/{id}{query}")),
        )
    } else {
        let body = {
            let mut rng = rand::rng();
            serde_json::json!({
                "user_id": rng.random_range(1..=10).to_string(),
                "product": PRODUCTS[rng.random_range(0..PRODUCTS.len())],
                "quantity": 1,
            })
        };
        (
            "POST /orders".to_string(),
            http.post(format!("{base}/orders{query}")).json(&body),
        )
    };
    let started = Instant::now();
    let (status, sampled, body) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let sampled = response
                .headers()
                .get("traceresponse")
                .and_then(|v| v.to_str().ok())
                .and_then(sampled_flag);
            (
                Some(status),
                sampled,
                response
                    .json::<serde_json::Value>()
                    .await
                    .unwrap_or_default(),
            )
        }
        Err(_) => (None, None, serde_json::Value::Null),
    };
    let latency = started.elapsed();
    if let Some(id) = body["order_id"].as_i64() {
        let mut ids = lock(ids);
        ids.push(id);
        if ids.len() > 1_000 {
            ids.remove(0);
        }
    }
    Sample {
        request: label,
        status,
        latency,
        trace_id: body["trace_id"].as_str().map(str::to_string),
        sampled,
    }
}

/// The sampled flag of a `traceresponse` (`00-<trace>-<span>-01`): bit 0 of
/// the last field.
pub fn sampled_flag(header: &str) -> Option<bool> {
    let flags = header.trim().rsplit('-').next()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some(flags & 1 == 1)
}

/// Parses `30s`, `2m`, `500ms`, `1h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: try 30s, 2m or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1_000.0,
        "m" => number * 60.0,
        "h" => number * 3_600.0,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use ms, s, m or h)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a usable duration"))
}
