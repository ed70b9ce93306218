//! Each test breaks one thing in a copy of the real stack files and expects
//! the problem a learner would otherwise meet at `docker compose up`.

mod common;

use common::{assert_problem, Fixture};
use stack_check::Check;

const COMPOSE: &str = "docker-compose.yml";
const COLLECTOR: &str = "config/otel-collector.yaml";

#[test]
fn misspelled_service_url() {
    let f = Fixture::new("misspelled-service-url");
    f.replace(
        COMPOSE,
        "USER_SERVICE_URL: http://${USER_SERVICE_HOST:-user-service}:8082",
        "USER_SERVICE_URL: http://usr-service:8082",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &[
            "order-service",
            "USER_SERVICE_URL",
            "`usr-service`",
            "not a compose service",
        ],
    );
}

#[test]
fn service_url_on_the_wrong_port() {
    let f = Fixture::new("service-url-port");
    f.replace(
        COMPOSE,
        "ORDER_SERVICE_URL: http://${ORDER_SERVICE_HOST:-order-service}:8081",
        "ORDER_SERVICE_URL: http://order-service:8080",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &["api-gateway", "ORDER_SERVICE_URL", "port 8080", "8081"],
    );
}

#[test]
fn pipeline_names_an_undefined_processor() {
    let f = Fixture::new("undefined-processor");
    f.replace(
        COLLECTOR,
        "processors: [memory_limiter, resource, attributes, batch]",
        "processors: [memory_limiter, resource, attributes, batching]",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["pipeline `traces`", "processor `batching`", "not defined"],
    );
}

#[test]
fn latest_tag() {
    let f = Fixture::new("latest-tag");
    f.replace(".env", "REDIS_VERSION=7.4.2", "REDIS_VERSION=latest");
    assert_problem(&f.problems(), Check::Image, &["redis", "`latest`"]);
}

#[test]
fn floating_tag() {
    let f = Fixture::new("floating-tag");
    f.replace(".env", "REDIS_VERSION=7.4.2", "REDIS_VERSION=7");
    assert_problem(&f.problems(), Check::Image, &["redis", "tag `7`"]);
}

#[test]
fn image_version_written_into_compose() {
    let f = Fixture::new("hard-coded-image");
    f.replace(
        COMPOSE,
        "image: redis:${REDIS_VERSION}",
        "image: redis:7.4.2",
    );
    assert_problem(
        &f.problems(),
        Check::Image,
        &["redis", "pin its version in .env"],
    );
}

#[test]
fn missing_mounted_file() {
    let f = Fixture::new("missing-mounted-file");
    f.remove("config/postgres-init.sql");
    assert_problem(
        &f.problems(),
        Check::Mount,
        &["postgres", "config/postgres-init.sql", "does not exist"],
    );
}

#[test]
fn missing_config_inside_a_mounted_directory() {
    let f = Fixture::new("missing-tail-sampling-config");
    f.remove("config/otel-collector.tail-sampling.yaml");
    let problems = f.problems();
    assert_problem(
        &problems,
        Check::Mount,
        &[
            "otel-collector",
            "otel-collector.tail-sampling.yaml",
            "(with docker-compose.tail-sampling.yml)",
        ],
    );
}

#[test]
fn healthcheck_on_jaeger() {
    let f = Fixture::new("healthcheck-on-jaeger");
    f.replace(
        COMPOSE,
        "    command: [\"--config\", \"/etc/jaeger/jaeger.yaml\"]\n",
        "    command: [\"--config\", \"/etc/jaeger/jaeger.yaml\"]\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://localhost:13133/\"]\n",
    );
    assert_problem(
        &f.problems(),
        Check::Healthcheck,
        &["jaeger has a healthcheck", "built from scratch"],
    );
}

#[test]
fn waiting_for_the_collector_to_be_healthy() {
    let f = Fixture::new("collector-healthy");
    f.replace(
        COMPOSE,
        "      jaeger:\n        condition: service_started",
        "      jaeger:\n        condition: service_healthy",
    );
    assert_problem(
        &f.problems(),
        Check::DependsOn,
        &["otel-collector waits for jaeger", "service_started"],
    );
}

#[test]
fn healthy_dependency_without_healthcheck() {
    let f = Fixture::new("redis-without-healthcheck");
    f.replace(COMPOSE, "    healthcheck:\n      test: [\"CMD\", \"redis-cli\", \"ping\"]\n      interval: 2s\n      timeout: 3s\n      retries: 30\n", "");
    let problems = f.problems();
    assert_problem(&problems, Check::Healthcheck, &["redis has no healthcheck"]);
    assert_problem(
        &problems,
        Check::DependsOn,
        &["user-service waits for redis", "no healthcheck"],
    );
}

#[test]
fn command_runs_another_services_binary() {
    let f = Fixture::new("wrong-binary");
    f.replace(
        COMPOSE,
        "command: [\"/usr/local/bin/user-service\"]",
        "command: [\"/usr/local/bin/order-service\"]",
    );
    assert_problem(
        &f.problems(),
        Check::Command,
        &["user-service runs the `order-service` binary"],
    );
}

#[test]
fn database_url_names_another_database() {
    let f = Fixture::new("wrong-database");
    f.replace(COMPOSE, "@postgres:5432/users", "@postgres:5432/user");
    assert_problem(
        &f.problems(),
        Check::Env,
        &["user-service", "database `user`", "`users`"],
    );
}

#[test]
fn database_url_uses_the_host_port() {
    let f = Fixture::new("database-host-port");
    f.replace(COMPOSE, "@postgres:5432/orders", "@postgres:15432/orders");
    assert_problem(
        &f.problems(),
        Check::Env,
        &["order-service", "DATABASE_URL", "port 15432"],
    );
}

#[test]
fn init_script_misses_a_database() {
    let f = Fixture::new("init-script");
    f.replace("config/postgres-init.sql", "CREATE DATABASE inventory;", "");
    assert_problem(
        &f.problems(),
        Check::Postgres,
        &["`inventory`", "inventory-service"],
    );
}

#[test]
fn otlp_protocol_does_not_match_the_port() {
    let f = Fixture::new("otlp-protocol");
    f.replace(
        COMPOSE,
        "OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf",
        "OTEL_EXPORTER_OTLP_PROTOCOL: grpc",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &["OTEL_EXPORTER_OTLP_ENDPOINT", "port 4318", "4317"],
    );
}

#[test]
fn otlp_endpoint_bypasses_the_collector() {
    let f = Fixture::new("otlp-to-jaeger");
    f.replace(
        COMPOSE,
        "OTEL_EXPORTER_OTLP_ENDPOINT: http://otel-collector:4318",
        "OTEL_EXPORTER_OTLP_ENDPOINT: http://jaeger:4318",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &[
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "must point at `otel-collector`",
        ],
    );
}

#[test]
fn receiver_bound_to_localhost() {
    let f = Fixture::new("receiver-localhost");
    f.replace(
        COLLECTOR,
        "endpoint: 0.0.0.0:4318",
        "endpoint: localhost:4318",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["localhost:4318", "0.0.0.0:4318"],
    );
}

#[test]
fn receiver_without_endpoint() {
    let f = Fixture::new("receiver-default-endpoint");
    f.replace(
        COLLECTOR,
        "      grpc:\n        endpoint: 0.0.0.0:4317\n",
        "      grpc:\n",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["protocol `grpc` has no `endpoint`", "localhost"],
    );
}

#[test]
fn deprecated_exporter_name() {
    let f = Fixture::new("deprecated-otlp");
    f.replace(COLLECTOR, "  otlp_grpc/jaeger:\n", "  otlp/jaeger:\n");
    f.replace(
        COLLECTOR,
        "exporters: [otlp_grpc/jaeger, span_metrics, debug]",
        "exporters: [otlp/jaeger, span_metrics, debug]",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["`otlp/jaeger`", "otlp_grpc"],
    );
}

#[test]
fn exporter_to_jaeger_without_insecure_tls() {
    let f = Fixture::new("exporter-tls");
    f.replace(
        COLLECTOR,
        "    endpoint: jaeger:4317\n    tls:\n      insecure: true\n",
        "    endpoint: jaeger:4317\n",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["otlp_grpc/jaeger", "TLS"],
    );
}

#[test]
fn connector_only_half_wired() {
    let f = Fixture::new("connector-half-wired");
    f.replace(COLLECTOR, "receivers: [span_metrics]", "receivers: [otlp]");
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["connector `span_metrics`", "receiver of another"],
    );
}

#[test]
fn jaeger_after_2_20() {
    let f = Fixture::new("jaeger-2-21");
    f.replace(".env", "JAEGER_VERSION=2.20.0", "JAEGER_VERSION=2.21.0");
    assert_problem(
        &f.problems(),
        Check::Image,
        &["jaeger", "2.21.0", "v1 query API"],
    );
}

#[test]
fn jaeger_query_names_an_undefined_backend() {
    let f = Fixture::new("jaeger-backend");
    f.replace(
        "config/jaeger.yaml",
        "      traces: workshop_traces\n",
        "      traces: workshop_trace\n",
    );
    assert_problem(
        &f.problems(),
        Check::Jaeger,
        &["storage.traces", "`workshop_trace`"],
    );
}

#[test]
fn host_port_differs_from_design() {
    let f = Fixture::new("host-port");
    f.replace(COMPOSE, "\"15432:5432\"", "\"5432:5432\"");
    let problems = f.problems();
    assert_problem(
        &problems,
        Check::Ports,
        &["postgres must publish \"15432:5432\""],
    );
    assert_problem(
        &problems,
        Check::Ports,
        &["postgres publishes 5432 -> 5432"],
    );
}

#[test]
fn no_memory_limit() {
    let f = Fixture::new("no-mem-limit");
    f.replace(COMPOSE, "    mem_limit: 128m\n", "");
    assert_problem(&f.problems(), Check::Memory, &["redis has no memory limit"]);
}

#[test]
fn every_service_builds_the_image() {
    let f = Fixture::new("many-builds");
    f.replace(
        COMPOSE,
        "&workshop-service\n  image: tracing-workshop:local\n",
        "&workshop-service\n  image: tracing-workshop:local\n  build: .\n",
    );
    assert_problem(&f.problems(), Check::Build, &["all have `build:`"]);
}

#[test]
fn prometheus_scrapes_the_wrong_port() {
    let f = Fixture::new("prometheus-port");
    f.replace(
        "config/prometheus.yml",
        "otel-collector:8889",
        "otel-collector:8888",
    );
    assert_problem(
        &f.problems(),
        Check::Prometheus,
        &["otel-collector:8888", "8889"],
    );
}

#[test]
fn variable_missing_from_env_file() {
    let f = Fixture::new("undefined-variable");
    f.replace(".env", "POSTGRES_VERSION=17.6-bookworm\n", "");
    assert_problem(
        &f.problems(),
        Check::Parse,
        &["${POSTGRES_VERSION}", ".env does not set"],
    );
}

#[test]
fn compose_file_that_is_not_yaml() {
    let f = Fixture::new("not-yaml");
    f.replace(COMPOSE, "services:\n", "services:\n  - [unclosed\n");
    assert_problem(
        &f.problems(),
        Check::Parse,
        &["docker-compose.yml is not valid YAML"],
    );
}

#[test]
fn order_service_without_redis() {
    let f = Fixture::new("order-service-without-redis");
    f.replace(
        COMPOSE,
        "      REDIS_URL: redis://redis:6379\n      REDIS_KEY_PREFIX: ${REDIS_KEY_PREFIX:-}\n      USER_SERVICE_URL",
        "      USER_SERVICE_URL",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &["order-service", "environment has no REDIS_URL"],
    );
}

#[test]
fn publisher_and_consumer_with_different_key_prefixes() {
    let f = Fixture::new("different-key-prefixes");
    f.replace(
        COMPOSE,
        "      REDIS_URL: redis://redis:6379\n      REDIS_KEY_PREFIX: ${REDIS_KEY_PREFIX:-}\n    ports:\n      - \"8082:8082\"",
        "      REDIS_URL: redis://redis:6379\n      REDIS_KEY_PREFIX: users-\n    ports:\n      - \"8082:8082\"",
    );
    assert_problem(
        &f.problems(),
        Check::Env,
        &[
            "user-service",
            "REDIS_KEY_PREFIX is `users-`",
            "never consumed",
        ],
    );
}

#[test]
fn redis_without_persistence() {
    let f = Fixture::new("redis-without-persistence");
    f.replace(COMPOSE, "\"--appendonly\", \"yes\", ", "");
    assert_problem(
        &f.problems(),
        Check::Redis,
        &["no --appendonly", "order stream"],
    );
}

#[test]
fn redis_that_evicts_streams() {
    let f = Fixture::new("redis-allkeys-lru");
    f.replace(COMPOSE, "\"volatile-lru\"]", "\"allkeys-lru\"]");
    assert_problem(
        &f.problems(),
        Check::Redis,
        &["allkeys-lru", "order stream", "volatile-lru"],
    );
}

#[test]
fn the_lab_sink_overlay_exports_to_an_undefined_exporter() {
    // The second --config is merged into the first: a pipeline in it that
    // names an exporter nobody defines is caught like one in the base file.
    let f = Fixture::new("overlay-undefined");
    f.replace(
        "config/otel-collector.lab-sink.yaml",
        "  otlp_grpc/lab-sink:\n",
        "  otlp_grpc/lab_sink:\n",
    );
    assert_problem(
        &f.problems(),
        Check::Collector,
        &["otlp_grpc/lab-sink", "otel-collector.lab-sink.yaml"],
    );
}

#[test]
fn the_lab_sink_overlay_points_at_a_service_that_does_not_exist() {
    let f = Fixture::new("overlay-host");
    f.replace(
        "config/otel-collector.lab-sink.yaml",
        "endpoint: lab-sink:4317",
        "endpoint: lab-snk:4317",
    );
    assert_problem(&f.problems(), Check::Collector, &["lab-snk"]);
}
