//! What tests share on this machine: the Postgres and Redis servers, unique
//! names on them, and free ports.

use std::sync::atomic::{AtomicU32, Ordering};

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
                let _ = sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&pool)
                    .await;
            }
            pool.close().await;
        });
    })
    .join();
}

/// Deletes the order streams of a test's Redis key prefix (cache entries
/// expire by themselves; streams never do).
pub fn drop_streams(prefix: &str) {
    let keys = [format!("{prefix}orders"), format!("{prefix}orders.dead")];
    let connection = redis::Client::open(redis_url())
        .and_then(|client| client.get_connection_with_timeout(std::time::Duration::from_secs(1)));
    if let Ok(mut connection) = connection {
        let _: redis::RedisResult<i64> = redis::cmd("DEL").arg(&keys).query(&mut connection);
    }
}

/// A port nothing listens on right now (bound once, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}
