//! Thin entry point: telemetry, config, serve, flush.

use std::process::ExitCode;

use api_gateway::{Application, Config, SERVICE_NAME};

#[tokio::main]
async fn main() -> ExitCode {
    service_kit::lifecycle::run(SERVICE_NAME, 8080, |shutdown| async move {
        let config = Config::from_env()?;
        let app = Application::build(&config)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until(shutdown).await.map_err(|e| e.to_string())
    })
    .await
}
