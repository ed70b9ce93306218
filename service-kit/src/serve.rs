//! Serve until asked to stop, then stop well.
//!
//! On SIGTERM or Ctrl-C: stop accepting connections, let in-flight requests
//! finish (at most [`DRAIN_DEADLINE`]), and return, so `main` can flush the
//! last spans before the process exits 0.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A service's listening socket, bound before it serves: tests bind port 0
/// and ask which port they got.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    name: &'static str,
}

impl Server {
    /// Binds `0.0.0.0:{port}` (0 picks a free port).
    pub async fn bind(port: u16, name: &'static str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("0.0.0.0", port)).await?;
        Ok(Server { listener, name })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves `app` until `shutdown` completes, then drains.
    pub async fn run_until(
        self,
        app: Router,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(port = self.port(), "{} listening", self.name);
        serve(self.listener, app, shutdown).await
    }
}

/// How long in-flight requests get to finish after the stop signal.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stopping_tx, mut stopping_rx) = watch::channel(false);
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
        shutdown.await;
        tracing::info!("shutdown requested: draining in-flight requests");
        let _ = stopping_tx.send(true);
    });
    let deadline = async move {
        let _ = stopping_rx.wait_for(|stopping| *stopping).await;
        tokio::time::sleep(DRAIN_DEADLINE).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!(?DRAIN_DEADLINE, "requests still running at the drain deadline; stopping anyway");
            Ok(())
        }
    }
}

/// Completes on SIGTERM (what `docker stop` sends) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
