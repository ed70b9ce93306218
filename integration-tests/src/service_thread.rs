//! One service on a thread of its own, with its own tracer provider and
//! `tracing` dispatcher, so its spans carry its own `service.name` (see the
//! crate docs).

use std::future::Future;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, ShouldSample};
use opentelemetry_sdk::Resource;
use tokio::sync::oneshot;

use crate::logs::CapturedLogs;
use crate::stack::ServiceName;

/// One service running on its own thread.
pub(crate) struct RunningService {
    pub(crate) name: ServiceName,
    pub(crate) port: u16,
    pub(crate) exporter: InMemorySpanExporter,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) thread: Option<JoinHandle<()>>,
}

/// Starts one service on its own thread with its own provider and
/// dispatcher (see the crate docs), and waits for its port.
pub(crate) fn spawn<F, Fut>(
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

/// Completes when the test stops the service.
pub(crate) async fn wait(stop: oneshot::Receiver<()>) {
    let _ = stop.await;
}
