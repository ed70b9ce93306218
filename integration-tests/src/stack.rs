//! [`TestStack`]: four real services, fresh databases, their spans.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::trace::TraceId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SdkTracerProvider, ShouldSample};
use opentelemetry_sdk::Resource;
use serde_json::Value;
use tokio::sync::oneshot;
use tracing_subscriber::fmt::MakeWriter;

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
    /// Redis URL for user-service (point it at a dead port for outages).
    pub redis_url: Option<String>,
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
            user_service_url: None,
            inventory_service_url: None,
            log_filter: "info".to_string(),
        }
    }
}

/// One service running on its own thread.
struct RunningService {
    name: ServiceName,
    port: u16,
    exporter: InMemorySpanExporter,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
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

pub fn database_server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string())
        .trim_end_matches('/')
        .to_string()
}

pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

/// A name no other test (or test process) uses.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u16>()
    )
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
            database_url: db_url("inventory"),
            max_connections: 10,
        };
        let inventory = spawn(
            INVENTORY,
            follow(),
            &logs,
            move |port_tx, stop| async move {
                let app = inventory_service::Application::build(&inventory_config)
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
            database_url: db_url("users"),
            max_connections: 5,
            redis_url: options.redis_url.clone().unwrap_or_else(redis_url),
            redis_key_prefix: redis_prefix.clone(),
            cache_ttl_seconds: 60,
        };
        let user = spawn(USER, follow(), &logs, move |port_tx, stop| async move {
            let app = user_service::Application::build(&user_config)
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
            database_url: db_url("orders"),
            max_connections: 10,
            user_service_url: options
                .user_service_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", user.port)),
            inventory_service_url: options
                .inventory_service_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", inventory.port)),
        };
        let order = spawn(ORDER, follow(), &logs, move |port_tx, stop| async move {
            let app = order_service::Application::build(&order_config)
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
            order_service_url: format!("http://127.0.0.1:{}", order.port),
        };
        let gateway = spawn(
            GATEWAY,
            options.gateway_sampler,
            &logs,
            move |port_tx, stop| async move {
                let app = api_gateway::Application::build(&gateway_config)
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

    /// Waits until the gateway's SERVER span of `trace_id` has ended (it
    /// ends last: every downstream span ends before its response is sent),
    /// then returns the trace. Panics after `timeout`.
    pub async fn wait_for_trace(&self, trace_id: &str, timeout: Duration) -> TraceView {
        let trace_id = TraceId::from_hex(trace_id).expect("32 hex digits");
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let view = self.trace(trace_id);
            let gateway_done = view.spans.iter().any(|s| {
                s.service == GATEWAY && s.data.span_kind == opentelemetry::trace::SpanKind::Server
            });
            if gateway_done {
                return view;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "trace {trace_id} not complete after {timeout:?}: {}",
                view.describe()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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
    }
}

/// Drops test databases (if they exist). Callable from anywhere, async code
/// included: the work runs on a thread and runtime of its own, because a
/// test's runtime must not block on another runtime.
pub fn drop_databases(databases: Vec<String>) {
    let _ = std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let url = format!("{}/postgres", database_server_url());
            let Ok(pool) = sqlx::PgPool::connect(&url).await else {
                return;
            };
            for name in databases {
                let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let _ = sqlx::query(&statement).execute(&pool).await;
            }
            pool.close().await;
        });
    })
    .join();
}

/// A port nothing listens on right now (bound once, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

async fn wait(stop: oneshot::Receiver<()>) {
    let _ = stop.await;
}

async fn read(response: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// Starts one service on its own thread with its own provider and
/// dispatcher (see the crate docs), and waits for its port.
fn spawn<F, Fut>(
    name: ServiceName,
    sampler: Box<dyn ShouldSample>,
    logs: &CapturedLogs,
    run: F,
) -> RunningService
where
    F: FnOnce(mpsc::Sender<u16>, oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .with_sampler(sampler)
        .with_resource(Resource::builder_empty().with_service_name(name).build())
        .build();
    let telemetry = telemetry::Telemetry::from_provider(provider, Default::default());
    let logs = logs.clone();
    let log_filter = logs.filter.clone();
    let (port_tx, port_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let dispatch =
                telemetry::logging::dispatch(name, &log_filter, telemetry.tracer(), logs);
            let _guard = tracing::dispatcher::set_default(&dispatch);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(run(port_tx, stop_rx));
            let _ = telemetry.provider().force_flush();
        })
        .expect("thread starts");
    let port = port_rx
        .recv_timeout(Duration::from_secs(90))
        .unwrap_or_else(|_| panic!("{name} did not start (is Postgres up? see TEST_LOG=1)"));
    RunningService {
        name,
        port,
        exporter,
        stop: Some(stop_tx),
        thread: Some(thread),
    }
}

/// Log lines of all services, kept for assertions, echoed with `TEST_LOG=1`.
#[derive(Clone)]
pub struct CapturedLogs {
    lines: Arc<Mutex<Vec<u8>>>,
    filter: String,
}

impl CapturedLogs {
    fn new(filter: &str) -> Self {
        CapturedLogs {
            lines: Arc::default(),
            filter: filter.to_string(),
        }
    }

    fn lines(&self) -> Vec<Value> {
        let bytes = self.lines.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if show_logs() {
            let _ = std::io::stdout().write_all(buf);
        }
        if let Ok(mut bytes) = self.lines.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = CapturedLogs;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// `TEST_LOG=1` (any value but empty or `0`) echoes the services' logs.
pub fn show_logs() -> bool {
    std::env::var("TEST_LOG").is_ok_and(|v| !v.is_empty() && v != "0")
}
