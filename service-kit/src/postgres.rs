//! Reaching Postgres, and surviving while it is away.
//!
//! A service must start even when Postgres is not up yet (in compose, on a
//! laptop that just booted). [`Database::connect`] returns at once with a
//! lazy pool and starts a background task that creates the database if it
//! is missing, runs the migrations (schema and seed data), and retries with
//! exponential backoff until that works. Until then [`Database::is_ready`]
//! is false: `/health` answers 503 and handlers answer 503 JSON errors.
//!
//! [`DbError`] is what a failed query means for the client: Postgres
//! unreachable (or not ready) is a 503, anything else a 500.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};
use telemetry::db::Peer;

/// A pool plus what the spans need to know about the server.
#[derive(Clone, Debug)]
pub struct Database {
    pub pool: PgPool,
    /// Host/port/database for `server.address` etc. (no password).
    pub peer: Peer,
    /// Set once the database exists and is migrated.
    ready: Arc<AtomicBool>,
}

/// The database is not created or migrated yet (Postgres is down, or was
/// at start-up).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database is not ready")]
pub struct NotReady;

/// Connection settings for one service.
#[derive(Clone, Debug)]
pub struct DatabaseConfig {
    /// `DATABASE_URL`: the service's own database (created if missing).
    pub url: String,
    /// `DATABASE_MAX_CONNECTIONS`: small on purpose, four services (and
    /// their tests) share one server.
    pub max_connections: u32,
}

impl DatabaseConfig {
    /// Reads `DATABASE_URL` (default: `database` on the local Postgres) and
    /// `DATABASE_MAX_CONNECTIONS` (default 5).
    pub fn from_env(database: &str) -> Result<Self, String> {
        Ok(DatabaseConfig {
            url: crate::config::string_env(
                "DATABASE_URL",
                &format!("postgres://postgres@127.0.0.1:5432/{database}"),
            ),
            max_connections: crate::config::parse_env("DATABASE_MAX_CONNECTIONS", 5)?,
        })
    }
}

/// A query that failed, as the client should see it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Postgres is down, or the database is not created/migrated yet: 503,
    /// try again shortly.
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    /// Anything else is a bug or a broken schema: 500.
    #[error("database error: {0}")]
    Failed(sqlx::Error),
}

impl DbError {
    /// 503 or 500.
    pub fn status(&self) -> StatusCode {
        match self {
            DbError::Unreachable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DbError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable `exception.type`, the same in spans and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            DbError::Unreachable(_) => "DatabaseUnreachable",
            DbError::Failed(_) => "DatabaseError",
        }
    }

    /// The sentence for the client: never the internal error text.
    pub fn public_message(&self, service: &str) -> String {
        match self {
            DbError::Unreachable(_) => {
                format!("{service} cannot reach its database; try again shortly")
            }
            DbError::Failed(_) => format!("{service} failed unexpectedly"),
        }
    }
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        if is_unavailable(&error) {
            DbError::Unreachable(error.to_string())
        } else {
            DbError::Failed(error)
        }
    }
}

impl From<NotReady> for DbError {
    fn from(error: NotReady) -> Self {
        DbError::Unreachable(error.to_string())
    }
}

impl Database {
    /// Starts connecting in the background; see the module docs.
    pub fn connect(
        config: &DatabaseConfig,
        migrator: &'static Migrator,
    ) -> Result<Self, sqlx::Error> {
        let options = PgConnectOptions::from_str(&config.url)?
            .log_statements(tracing::log::LevelFilter::Debug);
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            // A request waits at most this long for a connection: when
            // Postgres is down the client gets a 503, not a hang.
            .acquire_timeout(Duration::from_secs(3))
            .connect_lazy_with(options.clone());
        let database = Database {
            pool,
            peer: Peer::from_url(&config.url),
            ready: Arc::new(AtomicBool::new(false)),
        };
        let ready = database.ready.clone();
        tokio::spawn(prepare_until_ready(options, migrator, ready));
        Ok(database)
    }

    /// True once the database exists and is migrated.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// An error (503: unreachable) until the database exists and is
    /// migrated: handlers start with `state.db.require_ready()?`.
    pub fn require_ready(&self) -> Result<(), DbError> {
        if self.is_ready() {
            Ok(())
        } else {
            Err(NotReady.into())
        }
    }

    /// Waits (up to `timeout`) until the database is ready.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_ready() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        true
    }

    /// Is Postgres answering right now? (for `/health`)
    pub async fn ping(&self) -> bool {
        if !self.is_ready() {
            return false;
        }
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), query).await,
            Ok(Ok(_))
        )
    }
}

async fn prepare_until_ready(
    options: PgConnectOptions,
    migrator: &'static Migrator,
    ready: Arc<AtomicBool>,
) {
    let database = options.get_database().unwrap_or("postgres").to_string();
    let mut backoff = Duration::from_millis(250);
    loop {
        match prepare(&options, migrator).await {
            Ok(()) => {
                tracing::info!(
                    database,
                    "database ready (created if missing, migrations applied)"
                );
                ready.store(true, Ordering::Release);
                return;
            }
            // A migration that fails will fail again: that is a bug or an
            // edited migration, not an outage. Say so loudly; keep retrying
            // (slowly) so a fix to the database is picked up.
            Err(sqlx::Error::Migrate(error)) => {
                tracing::error!(
                    database,
                    %error,
                    "a migration failed; fix it (or reset the database) and the service will retry"
                );
                backoff = Duration::from_secs(10);
                tokio::time::sleep(backoff).await;
            }
            Err(error) => {
                tracing::warn!(
                    database,
                    %error,
                    retry_in_ms = backoff.as_millis() as i64,
                    "cannot prepare the database yet (is Postgres up?); retrying"
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// Creates the database if needed, then migrates it.
async fn prepare(options: &PgConnectOptions, migrator: &Migrator) -> Result<(), sqlx::Error> {
    create_database_if_missing(options).await?;
    // A one-connection pool rather than a bare connection: `Migrator::run`
    // on `&mut PgConnection` cannot be moved into a spawned task (an sqlx
    // lifetime limitation); on a pool it can.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options.clone())
        .await?;
    let result = migrator.run(&pool).await;
    pool.close().await;
    result.map_err(Into::into)
}

async fn create_database_if_missing(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let Some(name) = options.get_database() else {
        return Ok(());
    };
    let maintenance = options.clone().database("postgres");
    let mut connection = PgConnection::connect_with(&maintenance).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; quote it instead.
        let statement = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
        // Built from the name in our own configuration, quoted above: safe
        // to run as text (sqlx asks us to say so).
        match sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
        {
            Ok(_) => tracing::info!(database = name, "created database"),
            // Another process created it at the same moment: fine.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(error) => return Err(error),
        }
    }
    connection.close().await
}

/// Does this error mean "Postgres is unreachable" (503) rather than a bug
/// (500)?
fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}
