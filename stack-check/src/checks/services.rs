//! The four services: the services the stack needs, the binary each one
//! runs, and the one image they share. Their environment: `env.rs`.

use crate::compose::Service;
use crate::contract::{app_service, AppService, APP_SERVICES, BINARY_DIR, REQUIRED_SERVICES};
use crate::problem::{Check, Report};
use crate::stack::Stack;

use super::env::check_env;

pub fn check(stack: &Stack, report: &mut Report) {
    for name in REQUIRED_SERVICES {
        match stack.service(name) {
            None => report.add(Check::Service, format!("the compose file has no `{name}` service; the stack needs it (docs/architecture.md, \"Compose stack\")")),
            Some(s) if !s.profiles.is_empty() => report.add(Check::Service, format!("{name} is in profile(s) {:?}: a plain `docker compose up` would not start it", s.profiles)),
            Some(_) => {}
        }
    }
    for app in APP_SERVICES {
        if let Some(service) = stack.service(app.name) {
            check_command(app, service, report);
            check_env(stack, app, service, report);
        }
    }
    check_one_build(stack, report);
}

/// `command:` runs the binary of the service's role, and so does its healthcheck.
fn check_command(app: &AppService, service: &Service, report: &mut Report) {
    let name = app.name;
    let words = service.command_words();
    let expected = format!("[\"{BINARY_DIR}/{name}\"]");
    match words.first().map(|w| basename(w)) {
        None => report.add(Check::Command, format!("{name} has no `command:`; the image's default command would run; use command: {expected}")),
        Some(binary) if binary == name => {}
        Some(binary) if app_service(binary).is_some() => report.add(Check::Command, format!("{name} runs the `{binary}` binary: a {name} container must run command: {expected}")),
        Some(binary) => report.add(Check::Command, format!("{name} runs `{binary}`, which is not one of the four service binaries; use command: {expected}")),
    }
    let Some(test) = service.healthcheck.as_ref().and_then(|h| h.test.as_ref()) else {
        return; // wiring.rs reports a missing healthcheck
    };
    let test = test.words();
    let runs_own_health = test
        .windows(2)
        .any(|w| basename(&w[0]) == name && w[1] == "--health");
    if !runs_own_health {
        report.add(Check::Healthcheck, format!("{name}: healthcheck runs {test:?}; use [\"CMD\", \"{BINARY_DIR}/{name}\", \"--health\"] (the image has no shell or curl)"));
    }
}

/// The four services share one image, built by exactly one of them.
fn check_one_build(stack: &Stack, report: &mut Report) {
    let apps: Vec<(&str, &Service)> = APP_SERVICES
        .iter()
        .filter_map(|a| Some((a.name, stack.service(a.name)?)))
        .collect();
    let mut images: Vec<&str> = Vec::new();
    for (name, service) in &apps {
        match &service.image {
            Some(image) if !images.contains(&image.as_str()) => images.push(image),
            Some(_) => {}
            None => report.add(Check::Build, format!("{name} has no `image:`; give the four services the same image name so they share one build")),
        }
    }
    if images.len() > 1 {
        report.add(Check::Build, format!("the four services use different images ({}); they must share one image, built once", images.join(", ")));
    }
    let builders: Vec<&str> = apps
        .iter()
        .filter(|(_, s)| s.build.is_some())
        .map(|(n, _)| *n)
        .collect();
    match builders.len() {
        0 if !apps.is_empty() => report.add(Check::Build, "none of the four services has `build:`, so their image is never built; put `build: .` on one of them"),
        0 | 1 => {}
        _ => report.add(Check::Build, format!("{} all have `build:`: compose would compile the workspace once per service; keep `build:` on one, `image:` on all", builders.join(", "))),
    }
}

/// `order-service` for `/usr/local/bin/order-service`.
pub(super) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
