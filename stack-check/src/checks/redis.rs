//! Redis holds the users cache *and* the order-event stream (docs/architecture.md,
//! "Across a queue"). A cache may lose keys; the stream may not. So the
//! redis service must keep its data on disk (`--appendonly yes`) and, when
//! memory runs out, evict only keys with a TTL (`volatile-*`, or nothing).

use crate::contract::{REDIS, REDIS_APPENDONLY, REDIS_SAFE_EVICTION};
use crate::problem::{Check, Report};
use crate::stack::Stack;

pub fn check(stack: &Stack, report: &mut Report) {
    let Some(service) = stack.service(REDIS) else {
        return; // services.rs reports a missing redis
    };
    let words = service.command_words();
    let setting = |name: &str| {
        words
            .windows(2)
            .rev()
            .find(|w| w[0] == format!("--{name}"))
            .map(|w| w[1].clone())
    };
    match setting("appendonly") {
        Some(value) if value == REDIS_APPENDONLY => {}
        Some(value) => report.add(Check::Redis, format!("redis runs with --appendonly {value}: a restart would lose the order stream and its consumer group; use --appendonly {REDIS_APPENDONLY}")),
        None => report.add(Check::Redis, format!("redis has no --appendonly in its command: the image default (no) loses the order stream on a restart; add \"--appendonly\", \"{REDIS_APPENDONLY}\"")),
    }
    if let Some(policy) = setting("maxmemory-policy") {
        if !REDIS_SAFE_EVICTION.contains(&policy.as_str()) {
            report.add(Check::Redis, format!("redis evicts with --maxmemory-policy {policy}, which can drop the order stream (it has no TTL); use volatile-lru: only cache entries (which have a TTL) are evicted"));
        }
    }
}
