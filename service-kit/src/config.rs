//! Reading settings from the environment, with a clear error for bad values.

use std::env;
use std::str::FromStr;

/// `name` parsed as `T`, or `default` when unset or empty.
pub fn parse_env<T: FromStr>(name: &str, default: T) -> Result<T, String> {
    match env::var(name) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|_| format!("{name}={value:?} is not valid")),
        _ => Ok(default),
    }
}

/// `name` as a string, or `default` when unset or empty.
pub fn string_env(name: &str, default: &str) -> String {
    env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}
