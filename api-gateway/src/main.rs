//! The life of api-gateway, start to finish, in the order it happens.

use std::process::ExitCode;

use api_gateway::config::{Config, DEFAULT_PORT};
use api_gateway::{Application, SERVICE_NAME};

// The allocator. Spans are allocated on request threads and freed on the
// exporter's thread; glibc's malloc takes a lock for that, mimalloc does
// not: a sampled span costs about a third (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // Compose's health check runs `api-gateway --health` (the image has
    // no curl): ask the running service, answer with the exit code.
    if std::env::args().any(|arg| arg == "--health") {
        return service_kit::health::probe(DEFAULT_PORT).await;
    }
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{SERVICE_NAME}: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Settings. A bad value stops here, with a sentence naming it.
    let config = Config::from_env()?;
    // 2. Telemetry: tracer provider (exporter, sampler), propagators, logs.
    let telemetry = telemetry::init(SERVICE_NAME)?;
    // 3. The application: its client for order-service, listening socket.
    let app = Application::build(config).await?;
    // 4. Serve until SIGTERM (`docker stop`) or Ctrl-C, then drain.
    let served = app.run_until(service_kit::serve::shutdown_signal()).await;
    // 5. Flush. Finished spans wait in the batch processor's queue; this
    //    exports them before the process ends.
    // LESSON 01: without this line the last requests' spans are lost.
    telemetry.shutdown().await;
    Ok(served?)
}
