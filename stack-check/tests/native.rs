//! The native collector check (`stack_check::native`) on the real config:
//! as compose runs it (0.0.0.0 listeners, an exporter to `jaeger`) it is
//! not a native config; with dev-up's localhost endpoints it is. The
//! generated file itself is checked in lab/tests/native_collector.rs.

mod common;

use common::{assert_problem, render, repo_root};
use stack_check::native::{check_native_collector, NativePorts};
use stack_check::Check;

const PORTS: NativePorts = NativePorts {
    otlp_grpc: 4317,
    otlp_http: 4318,
    sink_grpc: 14317,
    sink_http: 14318,
};

fn real(file: &str) -> String {
    std::fs::read_to_string(repo_root().join(file)).unwrap()
}

/// What dev-up's sed does, for the default ports.
fn localized(text: &str) -> String {
    text.replace("0.0.0.0:", "127.0.0.1:")
        .replace("jaeger:4317", "127.0.0.1:14317")
}

#[test]
fn the_compose_config_is_not_a_native_one() {
    let problems = check_native_collector(&real("config/otel-collector.yaml"), "c.yaml", PORTS);
    assert_problem(
        &problems,
        Check::Collector,
        &["`otlp` listens on 0.0.0.0:4317", "127.0.0.1 only"],
    );
    assert_problem(
        &problems,
        Check::Collector,
        &[
            "exporter `otlp_grpc/jaeger` sends to `jaeger:4317`",
            "127.0.0.1:14317",
        ],
    );
}

#[test]
fn both_configs_with_localhost_endpoints_pass() {
    for file in [
        "config/otel-collector.yaml",
        "config/otel-collector.tail-sampling.yaml",
    ] {
        let problems = check_native_collector(&localized(&real(file)), file, PORTS);
        assert!(problems.is_empty(), "{file}:\n{}", render(&problems));
    }
}

#[test]
fn receivers_on_other_ports_or_a_broken_pipeline_are_named() {
    let text = localized(&real("config/otel-collector.yaml"));
    let moved = text.replace("127.0.0.1:4318", "127.0.0.1:4319");
    assert_problem(
        &check_native_collector(&moved, "c.yaml", PORTS),
        Check::Collector,
        &["the otlp receiver takes", "HTTP 4318"],
    );
    let broken = text.replace(
        "processors: [memory_limiter, resource, attributes, batch]",
        "processors: [resource, attributes, batch]",
    );
    assert_problem(
        &check_native_collector(&broken, "c.yaml", PORTS),
        Check::Collector,
        &["must start with the memory_limiter"],
    );
}
