//! The stack's contract, from docs/architecture.md ("Services — contract", "Compose
//! stack"): which services exist, their ports, databases and callers, and
//! which image versions are allowed. The checks compare the files with this.

/// One of the four services built from this workspace.
#[derive(Debug)]
pub struct AppService {
    /// Compose service name = binary name = default `OTEL_SERVICE_NAME`.
    pub name: &'static str,
    /// `PORT`, published on the same host port.
    pub port: u16,
    /// The Postgres database it owns (`DATABASE_URL`), if any.
    pub database: Option<&'static str>,
    /// Reads `REDIS_URL` and `REDIS_KEY_PREFIX` (order-service publishes the
    /// order stream there, user-service caches users and consumes it).
    pub redis: bool,
    /// `(variable, service)`: the URLs of the services it calls.
    pub calls: &'static [(&'static str, &'static str)],
}

pub const API_GATEWAY: &str = "api-gateway";
pub const ORDER_SERVICE: &str = "order-service";
pub const USER_SERVICE: &str = "user-service";
pub const INVENTORY_SERVICE: &str = "inventory-service";
pub const POSTGRES: &str = "postgres";
pub const REDIS: &str = "redis";
pub const COLLECTOR: &str = "otel-collector";
pub const JAEGER: &str = "jaeger";
pub const PROMETHEUS: &str = "prometheus";

/// The four services, in call order.
pub const APP_SERVICES: &[AppService] = &[
    AppService {
        name: API_GATEWAY,
        port: 8080,
        database: None,
        redis: false,
        calls: &[("ORDER_SERVICE_URL", ORDER_SERVICE)],
    },
    AppService {
        name: ORDER_SERVICE,
        port: 8081,
        database: Some("orders"),
        redis: true,
        calls: &[
            ("USER_SERVICE_URL", USER_SERVICE),
            ("INVENTORY_SERVICE_URL", INVENTORY_SERVICE),
        ],
    },
    AppService {
        name: USER_SERVICE,
        port: 8082,
        database: Some("users"),
        redis: true,
        calls: &[],
    },
    AppService {
        name: INVENTORY_SERVICE,
        port: 8083,
        database: Some("inventory"),
        redis: false,
        calls: &[],
    },
];

/// The contract entry of an app service.
pub fn app_service(name: &str) -> Option<&'static AppService> {
    APP_SERVICES.iter().find(|s| s.name == name)
}

/// Ports inside the compose network.
pub const POSTGRES_PORT: u16 = 5432;
pub const REDIS_PORT: u16 = 6379;

/// `redis-server` settings the order stream needs ("Across a queue"): its
/// data survives a restart, and eviction only ever takes keys with a TTL
/// (cache entries), never the streams.
pub const REDIS_APPENDONLY: &str = "yes";
/// Eviction policies that never evict a key without a TTL.
pub const REDIS_SAFE_EVICTION: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "noeviction",
];

/// `(service, host port, container port)` that docs/architecture.md fixes. Postgres and
/// Redis are on 15432/16379 so that a local server on 5432/6379 can stay.
pub const HOST_PORTS: &[(&str, u16, u16)] = &[
    (API_GATEWAY, 8080, 8080),
    (ORDER_SERVICE, 8081, 8081),
    (USER_SERVICE, 8082, 8082),
    (INVENTORY_SERVICE, 8083, 8083),
    (JAEGER, 16686, 16686),
    (COLLECTOR, 4317, 4317),
    (COLLECTOR, 4318, 4318),
    (POSTGRES, 15432, POSTGRES_PORT),
    (REDIS, 16379, REDIS_PORT),
];

/// Services every `up` needs (the `metrics` profile adds Prometheus).
pub const REQUIRED_SERVICES: &[&str] = &[
    API_GATEWAY,
    ORDER_SERVICE,
    USER_SERVICE,
    INVENTORY_SERVICE,
    POSTGRES,
    REDIS,
    COLLECTOR,
    JAEGER,
];

/// Services that must have a healthcheck (others wait for them to be healthy).
pub const NEED_HEALTHCHECK: &[&str] = &[
    API_GATEWAY,
    ORDER_SERVICE,
    USER_SERVICE,
    INVENTORY_SERVICE,
    POSTGRES,
    REDIS,
];

/// Images built from scratch (no shell, no curl): a healthcheck can never pass.
pub const NO_HEALTHCHECK: &[&str] = &[COLLECTOR, JAEGER];

/// `(service, dependency)` that must wait for `service_healthy`, so that the
/// first request works as soon as `up` returns.
pub const HEALTHY_DEPENDENCIES: &[(&str, &str)] = &[
    (API_GATEWAY, ORDER_SERVICE),
    (ORDER_SERVICE, POSTGRES),
    (ORDER_SERVICE, REDIS),
    (ORDER_SERVICE, USER_SERVICE),
    (ORDER_SERVICE, INVENTORY_SERVICE),
    (USER_SERVICE, POSTGRES),
    (USER_SERVICE, REDIS),
    (INVENTORY_SERVICE, POSTGRES),
];

pub const COLLECTOR_IMAGE: &str = "otel/opentelemetry-collector-contrib";
pub const JAEGER_IMAGE: &str = "jaegertracing/jaeger";
/// Jaeger after 2.20.0 removed the v1 query API (`/api/traces`, `/api/services`)
/// that `cargo lab` reads; v1 images are a different product.
pub const JAEGER_NEWEST: (u64, u64, u64) = (2, 20, 0);
pub const JAEGER_OLDEST: (u64, u64, u64) = (2, 0, 0);

/// Where the service image keeps the binaries.
pub const BINARY_DIR: &str = "/usr/local/bin";
