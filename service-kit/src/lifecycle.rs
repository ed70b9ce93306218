//! The `main` every service shares: `--health`, telemetry, run, flush.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

/// Runs a service: answers `--health` probes, sets up telemetry, runs
/// `serve` until SIGTERM/Ctrl-C, then flushes every span before exiting.
pub async fn run<F, Fut>(service_name: &str, default_port: u16, serve: F) -> ExitCode
where
    F: FnOnce(Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    if std::env::args().any(|arg| arg == "--health") {
        let port = crate::config::parse_env("PORT", default_port).unwrap_or(default_port);
        return if crate::health::probe(port).await {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let telemetry = match telemetry::init(service_name) {
        Ok(telemetry) => telemetry,
        Err(error) => {
            eprintln!("{service_name}: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = serve(Box::pin(crate::serve::shutdown_signal())).await;
    // LESSON 01: the server has stopped: every answered request's spans are
    // queued. Flush them before the process ends, or they are lost.
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{service_name}: {error}");
            tracing::error!(%error, "{service_name} stopped with an error");
            ExitCode::FAILURE
        }
    }
}
