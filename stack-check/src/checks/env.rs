//! The environment of the four services (docs/architecture.md "Services — contract"):
//! every variable the code reads is set, and every URL in it points at a
//! compose service, on the port that service listens on inside the network.

use url::Url;

use crate::compose::Service;
use crate::contract::{
    app_service, AppService, APP_SERVICES, COLLECTOR, POSTGRES, POSTGRES_PORT, REDIS, REDIS_PORT,
};
use crate::problem::{Check, Report};
use crate::stack::Stack;

/// The variables docs/architecture.md lists, pointing at services that exist, on the
/// ports those services listen on.
pub(super) fn check_env(stack: &Stack, app: &AppService, service: &Service, report: &mut Report) {
    let name = app.name;
    let mut required = vec![
        "PORT",
        "OTEL_SERVICE_NAME",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ];
    if app.database.is_some() {
        required.push("DATABASE_URL");
    }
    if app.redis {
        required.push("REDIS_URL");
    }
    required.extend(app.calls.iter().map(|(var, _)| *var));
    for var in required {
        if service.env_var(var).is_none() {
            report.add(Check::Env, format!("{name}: environment has no {var}"));
        }
    }
    if let Some(port) = service.env_var("PORT") {
        if port != app.port.to_string() {
            report.add(Check::Env, format!("{name}: PORT is {port}, but docs/architecture.md gives {name} port {} (callers' URLs and the published port use it)", app.port));
        }
    }
    if let Some(otel_name) = service.env_var("OTEL_SERVICE_NAME") {
        if otel_name != name {
            report.add(Check::Env, format!("{name}: OTEL_SERVICE_NAME is `{otel_name}`: its spans would be labelled as another service; use `{name}`"));
        }
    }
    if let Some(endpoint) = service.env_var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        check_otlp_endpoint(
            stack,
            name,
            &endpoint,
            service.env_var("OTEL_EXPORTER_OTLP_PROTOCOL"),
            report,
        );
    }
    if let (Some(database), Some(url)) = (app.database, service.env_var("DATABASE_URL")) {
        check_database_url(stack, name, database, &url, report);
    }
    if let (true, Some(url)) = (app.redis, service.env_var("REDIS_URL")) {
        let target = Target {
            scheme: "redis",
            service: REDIS,
            port: Some(REDIS_PORT),
            port_note: String::new(),
        };
        check_url(stack, name, "REDIS_URL", &url, target, report);
    }
    if app.redis {
        check_same_key_prefix(stack, app, service, report);
    }
    for (var, value) in service.env() {
        let Some(value) = value.filter(|_| var.ends_with("_SERVICE_URL")) else {
            continue;
        };
        let callee = app.calls.iter().find(|(v, _)| *v == var).map(|(_, s)| *s);
        let host = Url::parse(&value)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string));
        let target = callee.or(host.as_deref()).unwrap_or_default();
        let port = stack
            .service(target)
            .and_then(|s| s.env_var("PORT"))
            .and_then(|p| p.parse().ok());
        let port = port.or_else(|| app_service(target).map(|a| a.port));
        let target = Target {
            scheme: "http",
            service: target,
            port,
            port_note: String::new(),
        };
        check_url(stack, name, &var, &value, target, report);
    }
}

/// The order stream is `{REDIS_KEY_PREFIX}orders`: the publisher
/// (order-service) and the consumer (user-service) must use one prefix, or
/// the consumer waits on a stream nobody writes. Compared with the first
/// Redis user in the contract; an unset prefix is the empty one.
fn check_same_key_prefix(stack: &Stack, app: &AppService, service: &Service, report: &mut Report) {
    let var = "REDIS_KEY_PREFIX";
    let Some(first) = APP_SERVICES.iter().find(|a| a.redis) else {
        return;
    };
    if first.name == app.name {
        return;
    }
    let Some(other) = stack.service(first.name) else {
        return;
    };
    let prefix = |s: &Service| s.env_var(var).unwrap_or_default();
    let (ours, theirs) = (prefix(service), prefix(other));
    if ours != theirs {
        report.add(Check::Env, format!("{}: {var} is `{ours}` but {}'s is `{theirs}`: the order stream `{{prefix}}orders` must be the same key for both, or order events are never consumed", app.name, first.name));
    }
}

fn check_otlp_endpoint(
    stack: &Stack,
    name: &str,
    endpoint: &str,
    protocol: Option<String>,
    report: &mut Report,
) {
    let var = "OTEL_EXPORTER_OTLP_ENDPOINT";
    let (grpc, http) = stack
        .collector
        .as_ref()
        .map(|c| c.config.otlp_ports())
        .unwrap_or((Some(4317), Some(4318)));
    let protocol = protocol.unwrap_or_else(|| "http/protobuf".to_string());
    let port = match protocol.as_str() {
        "grpc" => grpc,
        "http/protobuf" => http,
        other => {
            report.add(Check::Env, format!("{name}: OTEL_EXPORTER_OTLP_PROTOCOL is `{other}`; the services support `http/protobuf` (port 4318) and `grpc` (4317)"));
            return;
        }
    };
    let port_note = format!(" for OTEL_EXPORTER_OTLP_PROTOCOL={protocol}");
    let target = Target {
        scheme: "http",
        service: COLLECTOR,
        port,
        port_note,
    };
    check_url(stack, name, var, endpoint, target, report);
    if let Ok(url) = Url::parse(endpoint) {
        if !matches!(url.path(), "" | "/") {
            report.add(Check::Env, format!("{name}: {var} has the path `{}`; give only scheme://host:port, the exporter appends /v1/traces itself", url.path()));
        }
    }
}

fn check_database_url(stack: &Stack, name: &str, database: &str, value: &str, report: &mut Report) {
    let target = Target {
        scheme: "postgres",
        service: POSTGRES,
        port: Some(POSTGRES_PORT),
        port_note: String::new(),
    };
    check_url(stack, name, "DATABASE_URL", value, target, report);
    let Ok(url) = Url::parse(value) else { return };
    let db = url.path().trim_start_matches('/');
    if db != database {
        report.add(
            Check::Env,
            format!(
                "{name}: DATABASE_URL names database `{db}`, but {name} owns database `{database}`"
            ),
        );
    }
    let postgres_env = stack
        .service(POSTGRES)
        .map(Service::env)
        .unwrap_or_default();
    let user = postgres_env
        .get("POSTGRES_USER")
        .cloned()
        .flatten()
        .unwrap_or_else(|| "postgres".into());
    if url.username() != user {
        report.add(
            Check::Env,
            format!(
                "{name}: DATABASE_URL logs in as `{}`, but the postgres service's user is `{user}`",
                url.username()
            ),
        );
    }
    if let Some(Some(password)) = postgres_env.get("POSTGRES_PASSWORD") {
        if url.password() != Some(password.as_str()) {
            report.add(Check::Env, format!("{name}: DATABASE_URL's password differs from POSTGRES_PASSWORD of the postgres service"));
        }
    }
}

/// Where a URL variable must point.
struct Target<'a> {
    scheme: &'a str,
    /// The compose service that must be the URL's host.
    service: &'a str,
    /// The port that service listens on inside the compose network.
    port: Option<u16>,
    /// Said after the expected port, e.g. which protocol it is for.
    port_note: String,
}

/// `value` is a URL with the target's scheme, host and port (or the
/// scheme's default port).
fn check_url(
    stack: &Stack,
    name: &str,
    var: &str,
    value: &str,
    target: Target,
    report: &mut Report,
) {
    let Target {
        scheme,
        service,
        port,
        port_note,
    } = target;
    let url = match Url::parse(value) {
        Ok(url) => url,
        Err(e) => {
            return report.add(
                Check::Env,
                format!("{name}: {var}=`{value}` is not a URL ({e})"),
            )
        }
    };
    let schemes: &[&str] = if scheme == "postgres" {
        &["postgres", "postgresql"]
    } else {
        &[scheme]
    };
    if !schemes.contains(&url.scheme()) {
        report.add(
            Check::Env,
            format!(
                "{name}: {var} uses scheme `{}`; expected `{scheme}://`",
                url.scheme()
            ),
        );
    }
    let host = url.host_str().unwrap_or_default();
    if stack.service(host).is_none() {
        let services: Vec<&str> = stack.compose.services.keys().map(String::as_str).collect();
        report.add(Check::Env, format!("{name}: {var} points at host `{host}`, which is not a compose service (services: {})", services.join(", ")));
        return;
    }
    if host != service {
        report.add(
            Check::Env,
            format!("{name}: {var} points at `{host}`; it must point at `{service}`"),
        );
        return;
    }
    let actual = url.port().or(match url.scheme() {
        "http" => Some(80),
        "postgres" | "postgresql" => Some(POSTGRES_PORT),
        "redis" => Some(REDIS_PORT),
        _ => None,
    });
    if let (Some(expected), Some(actual)) = (port, actual) {
        if expected != actual {
            let published = stack.service(service).is_some_and(|s| {
                s.port_mappings()
                    .iter()
                    .flatten()
                    .any(|m| m.host == Some(actual) && m.container != actual)
            });
            let hint = if published {
                format!(" ({actual} is its port on your machine, not inside the compose network)")
            } else {
                String::new()
            };
            report.add(Check::Env, format!("{name}: {var} uses port {actual}, but {service} listens on {expected}{port_note}{hint}"));
        }
    }
}
