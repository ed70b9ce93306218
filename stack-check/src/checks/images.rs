//! Pinned images: every learner must run the same versions, and Jaeger must
//! keep the query API the lab uses.

use crate::contract::{
    COLLECTOR, COLLECTOR_IMAGE, JAEGER, JAEGER_IMAGE, JAEGER_NEWEST, JAEGER_OLDEST,
};
use crate::problem::{Check, Report};
use crate::stack::Stack;

/// An image reference split into repository, tag and digest.
#[derive(Debug, PartialEq, Eq)]
struct ImageRef<'a> {
    repository: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

fn parse_image(image: &str) -> ImageRef<'_> {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    // A ':' after the last '/' starts the tag; one before it is a registry port.
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        // `postgres:` (an empty variable) has no tag either.
        Some(i) if i + 1 < name.len() - last_slash => ImageRef {
            repository: &name[..last_slash + i],
            tag: Some(&name[last_slash + i + 1..]),
            digest,
        },
        _ => ImageRef {
            repository: name.trim_end_matches(':'),
            tag: None,
            digest,
        },
    }
}

/// `2.20.0` or `v2.20.0` as numbers.
fn version(tag: &str) -> Option<(u64, u64, u64)> {
    let mut parts = tag.trim_start_matches('v').split('.');
    let mut next = || parts.next()?.parse().ok();
    Some((next()?, next()?, next()?))
}

pub fn check(stack: &Stack, report: &mut Report) {
    let built: Vec<&str> = stack
        .compose
        .services
        .values()
        .filter(|s| s.build.is_some())
        .filter_map(|s| s.image.as_deref())
        .collect();
    for (name, service) in &stack.compose.services {
        let Some(image) = service.image.as_deref() else {
            if service.build.is_none() {
                report.add(
                    Check::Image,
                    format!("{name} has neither `image:` nor `build:`"),
                );
            }
            continue;
        };
        if built.contains(&image) {
            continue; // built here from the workspace, not pulled
        }
        let r = parse_image(image);
        match (r.tag, r.digest) {
            (None, None) => report.add(Check::Image, format!("{name}: image `{image}` has no tag, which means `latest`; pin a version in .env")),
            (Some("latest"), _) => report.add(Check::Image, format!("{name}: image `{image}` uses `latest`, which changes under the learners' feet; pin a version in .env")),
            (Some(tag), None) if !(tag.contains('.') && tag.contains(|c: char| c.is_ascii_digit())) => {
                report.add(Check::Image, format!("{name}: tag `{tag}` of `{image}` moves to new releases; pin a full version (like 1.2.3) in .env"))
            }
            _ => {}
        }
        let raw = stack
            .compose
            .raw_images
            .get(name)
            .map_or(image, String::as_str);
        if !raw.contains("${") {
            report.add(Check::Image, format!("{name}: image `{raw}` is written into the compose file; pin its version in .env and write the image as repository:${{VERSION_VARIABLE}}"));
        }
        if name == COLLECTOR {
            check_collector(&r, image, report);
        }
        if name == JAEGER {
            check_jaeger(&r, image, report);
        }
    }
}

fn check_collector(r: &ImageRef, image: &str, report: &mut Report) {
    if !r.repository.ends_with(COLLECTOR_IMAGE) {
        report.add(Check::Image, format!("{COLLECTOR}: image `{image}` is not {COLLECTOR_IMAGE}; the collector config uses contrib components (attributes, tail_sampling, span_metrics, prometheus)"));
    }
    if let Some(tag) = r.tag.filter(|t| t.starts_with('v')) {
        report.add(
            Check::Image,
            format!(
                "{COLLECTOR}: tag `{tag}`: collector-contrib image tags have no `v` (e.g. 0.159.0)"
            ),
        );
    }
}

fn check_jaeger(r: &ImageRef, image: &str, report: &mut Report) {
    if !r.repository.ends_with(JAEGER_IMAGE) {
        report.add(Check::Image, format!("{JAEGER}: image `{image}` is not {JAEGER_IMAGE} (Jaeger v2, configured by config/jaeger.yaml)"));
        return;
    }
    let Some(tag) = r.tag else { return };
    let newest = format!(
        "{}.{}.{}",
        JAEGER_NEWEST.0, JAEGER_NEWEST.1, JAEGER_NEWEST.2
    );
    match version(tag) {
        Some(v) if v > JAEGER_NEWEST => report.add(Check::Image, format!("{JAEGER}: version {tag} is newer than {newest}: versions after {newest} removed the v1 query API (/api/traces, /api/services) that `cargo lab` reads; pin {newest}")),
        Some(v) if v < JAEGER_OLDEST => report.add(Check::Image, format!("{JAEGER}: version {tag} is not Jaeger v2; pin {newest}")),
        Some(_) => {}
        None => report.add(Check::Image, format!("{JAEGER}: cannot read a version from tag `{tag}`; pin {newest}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_registry_port_from_tag() {
        let r = parse_image("localhost:5000/team/app:1.2.3");
        assert_eq!(
            (r.repository, r.tag),
            ("localhost:5000/team/app", Some("1.2.3"))
        );
        let r = parse_image("redis@sha256:abc");
        assert_eq!(
            (r.repository, r.tag, r.digest),
            ("redis", None, Some("sha256:abc"))
        );
        assert_eq!(version("v2.20.0"), Some((2, 20, 0)));
        assert_eq!(version("2.20"), None);
    }
}
