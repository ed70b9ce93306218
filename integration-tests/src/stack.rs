//! [`TestStack`]: four real services, fresh databases, their spans.

use std::time::Duration;

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::{Sampler, ShouldSample};
use serde_json::Value;
use service_kit::postgres::DatabaseConfig;

use crate::logs::CapturedLogs;
use crate::resources::{database_server_url, drop_databases, drop_streams, redis_url, unique_name};
use crate::service_thread::{spawn, wait, RunningService};
use crate::spans::{CollectedSpan, TraceView};

/// The four services, by the names their spans carry.
pub type ServiceName = &'static str;
pub const GATEWAY: ServiceName = "api-gateway";
pub const ORDER: ServiceName = "order-service";
pub const USER: ServiceName = "user-service";
pub const INVENTORY: ServiceName = "inventory-service";

/// What a test may change about the stack.
pub struct StackOptions {
    /// The gateway's sampler (the only one that makes root decisions).
    pub gateway_sampler: Box<dyn ShouldSample>,
    /// Redis URL for order-service and user-service (point it at a dead
    /// port, or at a [`crate::RedisProxy`], for outages).
    pub redis_url: Option<String>,
    /// user-service's `CONSUMER_CLAIM_IDLE_MS` (default 30 s).
    pub claim_idle: Option<Duration>,
    /// Override where order-service finds user-service.
    pub user_service_url: Option<String>,
    /// Override where order-service finds inventory-service.
    pub inventory_service_url: Option<String>,
    /// The services' log filter (`RUST_LOG` syntax).
    pub log_filter: String,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            gateway_sampler: Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn))),
            redis_url: None,
            claim_idle: None,
            user_service_url: None,
            inventory_service_url: None,
            log_filter: "info".to_string(),
        }
    }
}

/// A whole workshop: four services, three fresh databases, one Redis prefix.
pub struct TestStack {
    services: Vec<RunningService>,
    /// Names of the databases to drop afterwards.
    databases: Vec<String>,
    pub redis_prefix: String,
    pub client: reqwest::Client,
    /// Every log line the services wrote (JSON).
    logs: CapturedLogs,
}

impl TestStack {
    pub async fn start() -> TestStack {
        Self::start_with(StackOptions::default()).await
    }

    pub async fn start_with(options: StackOptions) -> TestStack {
        telemetry::propagation::install_propagators();
        let name = unique_name("ws");
        let server = database_server_url();
        let db_url = |service: &str| format!("{server}/{name}_{service}");
        let logs = CapturedLogs::new(&options.log_filter);
        let follow = || -> Box<dyn ShouldSample> {
            Box::new(Sampler::ParentBased(Box::new(Sampler::AlwaysOn)))
        };

        let inventory_config = inventory_service::Config {
            port: 0,
            database: DatabaseConfig {
                url: db_url("inventory"),
                max_connections: 10,
            },
        };
        let inventory = spawn(
            INVENTORY,
            follow(),
            &logs,
            move |port_tx, stop| async move {
                let app = inventory_service::Application::build(inventory_config)
                    .await
                    .expect("inventory-service builds");
                assert!(
                    app.wait_ready(Duration::from_secs(60)).await,
                    "inventory db ready"
                );
                let _ = port_tx.send(app.port());
                app.run_until(wait(stop))
                    .await
                    .expect("inventory-service runs");
            },
        );

        let redis_prefix = format!("{name}:");
        let user_config = user_service::Config {
            port: 0,
            database: DatabaseConfig {
                url: db_url("users"),
                max_connections: 5,
            },
            redis_url: options.redis_url.clone().unwrap_or_else(redis_url),
            redis_key_prefix: redis_prefix.clone(),
            cache_ttl_seconds: 60,
            consumer_name: format!("{name}-consumer"),
            claim_idle: options
                .claim_idle
                .unwrap_or(user_service::consumer::CLAIM_IDLE),
        };
        let user = spawn(USER, follow(), &logs, move |port_tx, stop| async move {
            let app = user_service::Application::build(user_config)
                .await
                .expect("user-service builds");
            assert!(
                app.wait_ready(Duration::from_secs(60)).await,
                "users db ready"
            );
            let _ = port_tx.send(app.port());
            app.run_until(wait(stop)).await.expect("user-service runs");
        });

        let order_config = order_service::Config {
            port: 0,
            database: DatabaseConfig {
                url: db_url("orders"),
                max_connections: 10,
            },
            user_service_url: local_url(options.user_service_url.clone(), user.port),
            inventory_service_url: local_url(options.inventory_service_url.clone(), inventory.port),
            redis_url: options.redis_url.clone().unwrap_or_else(redis_url),
            redis_key_prefix: redis_prefix.clone(),
        };
        let order = spawn(ORDER, follow(), &logs, move |port_tx, stop| async move {
            let app = order_service::Application::build(order_config)
                .await
                .expect("order-service builds");
            assert!(
                app.wait_ready(Duration::from_secs(60)).await,
                "orders db ready"
            );
            let _ = port_tx.send(app.port());
            app.run_until(wait(stop)).await.expect("order-service runs");
        });

        let gateway_config = api_gateway::Config {
            port: 0,
            order_service_url: local_url(None, order.port),
        };
        let gateway = spawn(
            GATEWAY,
            options.gateway_sampler,
            &logs,
            move |port_tx, stop| async move {
                let app = api_gateway::Application::build(gateway_config)
                    .await
                    .expect("api-gateway builds");
                let _ = port_tx.send(app.port());
                app.run_until(wait(stop)).await.expect("api-gateway runs");
            },
        );

        TestStack {
            services: vec![gateway, order, user, inventory],
            databases: ["inventory", "users", "orders"]
                .iter()
                .map(|s| format!("{name}_{s}"))
                .collect(),
            redis_prefix,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            logs,
        }
    }

    /// Base URL of a service, e.g. `url(GATEWAY)`.
    pub fn url(&self, service: ServiceName) -> String {
        let port = self
            .services
            .iter()
            .find(|s| s.name == service)
            .map(|s| s.port)
            .expect("known service");
        format!("http://127.0.0.1:{port}")
    }

    /// `POST {gateway}{path}` with a JSON body.
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let response = self
            .client
            .post(format!("{}{path}", self.url(GATEWAY)))
            .json(body)
            .send()
            .await
            .expect("gateway answers");
        read(response).await
    }

    /// `POST {gateway}/orders` for user 1, one `product`.
    pub async fn order(&self, product: &str) -> (u16, Value) {
        let body = serde_json::json!({"user_id": "1", "product": product, "quantity": 1});
        let (status, body, _) = self.post_json("/orders", &body).await;
        (status, body)
    }

    /// `GET` any URL.
    pub async fn get(&self, url: &str) -> (u16, Value, reqwest::header::HeaderMap) {
        read(self.client.get(url).send().await.expect("service answers")).await
    }

    /// Every finished span of `trace_id`, from every service.
    pub fn trace(&self, trace_id: TraceId) -> TraceView {
        let spans = self
            .services
            .iter()
            .flat_map(|service| {
                service
                    .exporter
                    .get_finished_spans()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|span| span.span_context.trace_id() == trace_id)
                    .map(|data| CollectedSpan {
                        service: service.name,
                        data,
                    })
            })
            .collect();
        TraceView { trace_id, spans }
    }

    /// Waits until the trace of `trace_id` is whole, then returns it. Panics
    /// after `timeout`. Whole: the gateway's SERVER span has ended (it ends
    /// last of the request: every downstream span ends before its response
    /// is sent) and, when the request saved an order, the order event's
    /// CONSUMER span too (it ends after its children, after the response).
    pub async fn wait_for_trace(&self, trace_id: &str, timeout: Duration) -> TraceView {
        self.wait_until_trace(trace_id, timeout, |view| {
            request_done(view)
                && (view.find(ORDER, "INSERT order_events").is_empty()
                    || !view.find(USER, "process orders").is_empty())
        })
        .await
    }

    /// Waits only for the request's part of the trace (the gateway's SERVER
    /// span): for when the order event cannot travel (Redis down).
    pub async fn wait_for_request(&self, trace_id: &str, timeout: Duration) -> TraceView {
        self.wait_until_trace(trace_id, timeout, request_done).await
    }

    /// Waits until `done` holds for the spans of `trace_id` collected so
    /// far; panics after `timeout`.
    pub async fn wait_until_trace(
        &self,
        trace_id: &str,
        timeout: Duration,
        done: impl Fn(&TraceView) -> bool,
    ) -> TraceView {
        let id = TraceId::from_hex(trace_id).expect("32 hex digits");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.trace(id);
            if done(&view) {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "trace {trace_id} not as expected after {timeout:?}: {}",
                view.describe()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the whole request (see [`Self::wait_for_trace`]) and for
    /// the span `name` of `service`, e.g. the consumer's `DEL`.
    pub async fn wait_for_span(
        &self,
        trace_id: &str,
        service: ServiceName,
        name: &str,
        timeout: Duration,
    ) -> TraceView {
        self.wait_for_trace(trace_id, timeout).await;
        self.wait_until_trace(trace_id, timeout, |view| {
            !view.find(service, name).is_empty()
        })
        .await
    }

    /// Every finished span of one service, of any trace.
    pub fn spans(&self, service: ServiceName) -> Vec<CollectedSpan> {
        self.services
            .iter()
            .filter(|s| s.name == service)
            .flat_map(|s| s.exporter.get_finished_spans().unwrap_or_default())
            .map(|data| CollectedSpan { service, data })
            .collect()
    }

    /// The order stream's key: `{prefix}orders`.
    pub fn stream_key(&self) -> String {
        format!("{}orders", self.redis_prefix)
    }

    /// A connection to the real Redis (never through a proxy).
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .expect("a redis:// URL")
            .get_multiplexed_async_connection()
            .await
            .expect("the test reaches Redis")
    }

    /// Number of spans each service has exported so far.
    pub fn span_counts(&self) -> Vec<(ServiceName, usize)> {
        self.services
            .iter()
            .map(|s| {
                (
                    s.name,
                    s.exporter
                        .get_finished_spans()
                        .map(|v| v.len())
                        .unwrap_or(0),
                )
            })
            .collect()
    }

    /// All log lines written so far, parsed.
    pub fn log_lines(&self) -> Vec<Value> {
        self.logs.lines()
    }

    /// A connection to one of this stack's databases (`"inventory"`, ...).
    pub async fn database(&self, service_db: &str) -> sqlx::PgPool {
        let name = self
            .databases
            .iter()
            .find(|d| d.ends_with(&format!("_{service_db}")))
            .expect("known database");
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(&format!("{}/{name}", database_server_url()))
            .await
            .expect("test connects to its database")
    }
}

impl Drop for TestStack {
    fn drop(&mut self) {
        for service in &mut self.services {
            if let Some(stop) = service.stop.take() {
                let _ = stop.send(());
            }
        }
        for service in &mut self.services {
            if let Some(thread) = service.thread.take() {
                let _ = thread.join();
            }
        }
        drop_databases(std::mem::take(&mut self.databases));
        drop_streams(&self.redis_prefix);
    }
}

/// The gateway's SERVER span has ended: the request is answered.
fn request_done(view: &TraceView) -> bool {
    view.spans
        .iter()
        .any(|s| s.service == GATEWAY && s.data.span_kind == opentelemetry::trace::SpanKind::Server)
}

/// `override_url`, or the service on this machine at `port`.
fn local_url(override_url: Option<String>, port: u16) -> url::Url {
    let url = override_url.unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
    url::Url::parse(&url).expect("a test's service URL parses")
}

async fn read(response: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}
