//! Thin entry point: telemetry, config, serve, flush.

use std::process::ExitCode;

use order_service::{Application, Config, SERVICE_NAME};

#[tokio::main]
async fn main() -> ExitCode {
    service_kit::lifecycle::run(SERVICE_NAME, 8081, |shutdown| async move {
        let config = Config::from_env()?;
        let app = Application::build(&config)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until(shutdown).await.map_err(|e| e.to_string())
    })
    .await
}
