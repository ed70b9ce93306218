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

/// `name` as an absolute `http://` or `https://` URL (another service's base
/// URL), or `default` when unset or empty.
pub fn url_env(name: &str, default: &str) -> Result<url::Url, String> {
    let value = string_env(name, default);
    match url::Url::parse(value.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        Ok(_) => Err(format!(
            "{name}={value:?} is not valid: it must be an http:// URL such as {default}"
        )),
        Err(error) => Err(format!(
            "{name}={value:?} is not valid: {error} (expected a URL such as {default})"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_url_names_its_variable() {
        std::env::set_var("SERVICE_KIT_TEST_URL", "127.0.0.1:8082");
        let error = url_env("SERVICE_KIT_TEST_URL", "http://127.0.0.1:8082").unwrap_err();
        assert!(error.starts_with("SERVICE_KIT_TEST_URL="), "{error}");
        std::env::set_var("SERVICE_KIT_TEST_URL", "http://user-service:8082/");
        let url = url_env("SERVICE_KIT_TEST_URL", "http://127.0.0.1:8082").unwrap();
        assert_eq!(
            url.join("/users/1").unwrap().as_str(),
            "http://user-service:8082/users/1"
        );
    }
}
