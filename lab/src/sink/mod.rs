//! `cargo lab sink`: a tiny trace backend for running without Docker.
//!
//! It stands in for the collector + Jaeger pair: the services export to it
//! exactly as they would to a collector (OTLP, gRPC 4317 or HTTP 4318), it
//! keeps the most recent traces in memory, prints each finished trace as a
//! tree, and answers Jaeger's query API (v1 and v3) and serves a small web
//! UI on 16686.
//!
//! - [`convert`]: OTLP protobuf → the trace model.
//! - [`store`]: bounded in-memory store; when a trace counts as finished.
//! - [`database`]: every span also into Postgres (`spans`), off the receiving path.
//! - [`otlp`]: the gRPC and HTTP receivers.
//! - [`jaeger_api`]: `/api/traces/{id}`, `/api/traces?service=`, `/api/services`.
//! - [`jaeger_v3`]: the same in Jaeger's v3 API (OTLP JSON).
//! - [`web`]: the web page on the same port: traces, waterfall, map, diff.

pub mod convert;
pub mod database;
pub mod jaeger_api;
pub mod jaeger_v3;
pub mod otlp;
pub mod store;
pub mod web;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::style::Style;
use crate::tree::{self, TreeOptions};
use database::{DatabaseConfig, SpanQueue};
use otlp::{lock, GrpcReceiver, Intake, SharedStore};
use store::{Finished, Store, StoreConfig};

/// Where the sink listens and how it behaves. Port 0 picks a free port
/// (tests use that).
#[derive(Clone, Debug)]
pub struct SinkConfig {
    pub bind: IpAddr,
    pub grpc_port: u16,
    pub http_port: u16,
    pub query_port: u16,
    pub store: StoreConfig,
    /// Also write every span to Postgres (`None`: memory only).
    pub database: Option<DatabaseConfig>,
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            bind: IpAddr::from([127, 0, 0, 1]),
            grpc_port: 4317,
            http_port: 4318,
            query_port: 16686,
            store: StoreConfig::default(),
            database: None,
        }
    }
}

impl SinkConfig {
    /// Free ports on 127.0.0.1 for all three listeners (tests).
    pub fn ephemeral() -> Self {
        SinkConfig {
            grpc_port: 0,
            http_port: 0,
            query_port: 0,
            ..SinkConfig::default()
        }
    }
}

/// A started sink: its addresses and store, and the handle to stop it.
pub struct RunningSink {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    pub query_addr: SocketAddr,
    pub store: SharedStore,
    /// The queue to Postgres, when the sink keeps a database.
    pub database: Option<Arc<SpanQueue>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds the three ports and starts serving in background tasks.
pub async fn start(config: SinkConfig) -> anyhow::Result<RunningSink> {
    let store: SharedStore = Arc::new(Mutex::new(Store::new(config.store.clone())));
    // Checked before binding anything: a bad URL is a start-up error.
    let database = match &config.database {
        Some(db) => Some((db.clone(), db.options()?)),
        None => None,
    };
    let grpc = bind(config.bind, config.grpc_port, "OTLP/gRPC").await?;
    let http = bind(config.bind, config.http_port, "OTLP/HTTP").await?;
    let query = bind(config.bind, config.query_port, "query API").await?;
    let (grpc_addr, http_addr, query_addr) =
        (grpc.local_addr()?, http.local_addr()?, query.local_addr()?);
    let (stop, stopped) = watch::channel(false);

    let mut tasks = Vec::new();
    let queue = database.map(|(db, options)| {
        let queue = SpanQueue::new(db.max_pending);
        tasks.push(tokio::spawn(database::write_spans(
            db,
            options,
            queue.clone(),
            stopped.clone(),
        )));
        queue
    });
    let intake = Intake {
        store: store.clone(),
        database: queue.clone(),
    };
    let receiver = TraceServiceServer::new(GrpcReceiver {
        intake: intake.clone(),
    })
    .max_decoding_message_size(32 * 1024 * 1024);
    let signal = wait_for(stopped.clone());
    tasks.push(tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(grpc);
        let served = tonic::transport::Server::builder()
            .add_service(receiver)
            .serve_with_incoming_shutdown(incoming, signal)
            .await;
        if let Err(e) = served {
            eprintln!("lab sink: the gRPC receiver stopped: {e}");
        }
    }));
    for (listener, router) in [
        (http, otlp::http_router(intake.clone())),
        (query, query_router(store.clone(), queue.clone())),
    ] {
        let signal = wait_for(stopped.clone());
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(signal)
                .await;
            if let Err(e) = served {
                eprintln!("lab sink: an HTTP server stopped: {e}");
            }
        }));
    }
    Ok(RunningSink {
        grpc_addr,
        http_addr,
        query_addr,
        store,
        database: queue,
        stop,
        tasks,
    })
}

/// Everything on the query port: both Jaeger APIs, the web page, and
/// `/api/database` (what the Postgres writer has done).
pub fn query_router(store: SharedStore, database: Option<Arc<SpanQueue>>) -> axum::Router {
    let status = axum::routing::get(move || {
        let status = database.as_ref().map(|queue| queue.status());
        async move { axum::Json(status) }
    });
    jaeger_api::router(store.clone())
        .merge(jaeger_v3::router(store.clone()))
        .merge(web::router(store))
        .route("/api/database", status)
}

impl RunningSink {
    /// Stops all servers and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Runs the sink in the foreground: prints where it listens, then each
/// finished trace, until Ctrl-C.
pub async fn run(config: SinkConfig, print_traces: bool) -> anyhow::Result<()> {
    let keeps_database = config.database.is_some();
    let sink = start(config).await?;
    let style = Style::for_stdout();
    println!(
        "lab sink: OTLP gRPC on {}, OTLP HTTP on http://{}/v1/traces, Jaeger query API on http://{}",
        sink.grpc_addr, sink.http_addr, sink.query_addr
    );
    println!(
        "lab sink: open {} in a browser for traces, waterfalls, the service map",
        web_url(sink.query_addr)
    );
    if keeps_database {
        println!("lab sink: every span also goes to Postgres, table `spans` (cargo lab sql)");
    } else {
        println!("lab sink: spans are kept in memory only (--database-url keeps them in Postgres)");
    }
    println!(
        "lab sink: point the services at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://{}",
        sink.http_addr
    );
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            _ = stop_signal() => break,
            _ = tick.tick() => {
                let finished = lock(&sink.store).take_finished(Instant::now());
                if print_traces {
                    for (trace, how) in finished {
                        print_finished(&trace, how, sink.query_addr, style);
                    }
                }
            }
        }
    }
    println!("lab sink: stopping");
    sink.shutdown().await;
    Ok(())
}

fn print_finished(trace: &crate::model::Trace, how: Finished, web: SocketAddr, style: Style) {
    let note = match how {
        Finished::Complete => String::new(),
        Finished::NoRoot => style.yellow(
            "no root span arrived: the trace was continued from outside (lab check does that), \
             or the service that started it does not export\n",
        ),
        Finished::Update(n) => style.yellow(&format!("{n} late spans arrived, updated trace:\n")),
    };
    println!(
        "\n{note}{}{}",
        tree::render(trace, &TreeOptions::default(), style),
        style.dim(&format!("open: {}/trace/{}", web_url(web), trace.trace_id))
    );
}

/// The web page's address for a browser (`localhost` when bound to all interfaces).
fn web_url(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// Ctrl-C, or SIGTERM (what `scripts/dev-down.sh` and `kill` send).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn bind(ip: IpAddr, port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((ip, port)).await.with_context(|| {
        format!(
            "cannot listen for the {what} on {ip}:{port}: is a collector or Jaeger \
             (docker compose) or another `lab sink` running? Stop it, or pick another port"
        )
    })
}

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}
