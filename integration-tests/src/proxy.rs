//! [`RedisProxy`]: a TCP forwarder in front of the real Redis that a test can
//! take down (refusing connections and cutting the open ones) and bring back
//! on the same port, the way a restarted Redis looks to its clients.

use std::sync::{Arc, Mutex};

use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

/// A forwarder on `127.0.0.1:{port}` to the Redis of `TEST_REDIS_URL`.
pub struct RedisProxy {
    port: u16,
    target: String,
    /// The accept loop and every forwarded connection; aborted on `down`.
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl RedisProxy {
    /// Starts forwarding to the Redis at `redis_url`.
    pub async fn start(redis_url: &str) -> RedisProxy {
        let url = url::Url::parse(redis_url).expect("a redis:// URL");
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port().unwrap_or(6379)
        );
        let proxy = RedisProxy {
            port: crate::free_port(),
            target,
            tasks: Arc::default(),
        };
        proxy.up().await;
        proxy
    }

    /// `redis://127.0.0.1:{port}`, for the services.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Accepts and forwards connections (again).
    pub async fn up(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        // The port was ours a moment ago; connections cut by `down` may
        // still linger in TIME_WAIT.
        socket.set_reuseaddr(true).expect("SO_REUSEADDR");
        socket
            .bind(([127, 0, 0, 1], self.port).into())
            .expect("the proxy port is free again");
        let listener = socket.listen(64).expect("listen");
        let target = self.target.clone();
        let tasks = self.tasks.clone();
        self.tasks.lock().unwrap().spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                tasks.lock().unwrap().spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
    }

    /// Refuses new connections and cuts the open ones.
    pub async fn down(&self) {
        // Twice: a connection accepted while the first set was shutting
        // down went into the new set.
        for _ in 0..2 {
            let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
            tasks.shutdown().await;
        }
    }
}

impl Drop for RedisProxy {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}
