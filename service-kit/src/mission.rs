//! Lesson 15, the debugging mission: one fault hidden in the running
//! system, to be found from the traces alone.
//!
//! `cargo lab start 15` picks a fault from a seed and sets
//! `WORKSHOP_MISSION` to its code for every service. The codes are opaque on
//! purpose, so the environment does not give the answer away; this file
//! does, so leave it closed until `cargo lab check 15` says you found it.
//!
//! Unlike `?delay=` and `?fail=` (telemetry's `fault` module), these faults
//! leave no event and no attribute behind: they look like real bugs.

use std::sync::OnceLock;

/// The variable `cargo lab start 15` sets.
pub const ENV: &str = "WORKSHOP_MISSION";

/// The faults the mission can hide, one at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// inventory-service: reserving one product holds its row for ~400 ms.
    SlowQuery,
    /// user-service: for even user ids the cache is written under the wrong key.
    CacheMiss,
    /// order-service: every third order fails while it is saved.
    IntermittentError,
    /// order-service: asks user-service three times for the same user.
    Retries,
    /// order-service: the reservation call leaves the request's span behind.
    LostContext,
    /// user-service: the queue consumer waits seconds before each event.
    SlowConsumer,
}

impl Fault {
    /// The fault behind a `WORKSHOP_MISSION` code.
    pub fn from_code(code: &str) -> Option<Fault> {
        Some(match code.trim() {
            "k7" => Fault::SlowQuery,
            "m2" => Fault::CacheMiss,
            "q5" => Fault::IntermittentError,
            "t3" => Fault::Retries,
            "w8" => Fault::LostContext,
            "z4" => Fault::SlowConsumer,
            _ => return None,
        })
    }
}

/// The fault this process runs with, read once from the environment. An
/// unknown code runs no fault (and says so in the log).
pub fn active() -> Option<Fault> {
    static ACTIVE: OnceLock<Option<Fault>> = OnceLock::new();
    *ACTIVE.get_or_init(|| {
        let code = std::env::var(ENV).ok().filter(|c| !c.trim().is_empty())?;
        let fault = Fault::from_code(&code);
        if fault.is_none() {
            tracing::warn!(code, "unknown {ENV} code: running without a mission fault");
        }
        fault
    })
}

/// Whether `fault` is the one this process runs with.
pub fn is(fault: Fault) -> bool {
    active() == Some(fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_names_one_fault() {
        let codes = ["k7", "m2", "q5", "t3", "w8", "z4"];
        let faults: Vec<Fault> = codes.iter().filter_map(|c| Fault::from_code(c)).collect();
        assert_eq!(faults.len(), codes.len());
        for (i, a) in faults.iter().enumerate() {
            assert!(!faults[i + 1..].contains(a), "{a:?} twice");
        }
        assert_eq!(Fault::from_code("nope"), None);
    }
}
