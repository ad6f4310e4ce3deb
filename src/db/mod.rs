//! Database access: connection pools, migrations and readiness.
//!
//! Each actix worker gets its own small pool (see `docs/ARCHITECTURE.md` and
//! `../shared/docs/CALIBRATION.md`: one shared pool left CPU idle through
//! cross-thread wake-ups). [`DbPools`] keeps a handle on every pool so the
//! metrics endpoint can report them together, and a separate background pool
//! serves periodic tasks and the CLI.
//!
//! Handlers take one connection per request through [`Db::conn`], which maps
//! "no connection available" to [`crate::error::AppError::Unavailable`] (a 503
//! with `Retry-After`) instead of a hang or a 500.

pub mod activities;
pub mod attempts;
pub mod audit;
pub mod calendar;
pub mod coaching;
pub mod comments;
pub mod connections;
pub mod dashboard;
pub mod jobs;
pub mod oauth_apps;
pub mod provider_errors;
pub mod records;
pub mod roster;
pub mod subjects;
pub mod suggestions;
pub mod summaries;
pub mod thresholds;
pub mod users;

use std::ops::{Deref, DerefMut};
use std::str::FromStr as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use secrecy::ExposeSecret as _;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::config::DatabaseSettings;
use crate::error::AppError;

/// Migrations embedded in the binary at compile time.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Connection options shared by every pool: statement timeout, application name.
///
/// # Errors
/// If the URL cannot be parsed as PostgreSQL connection options.
pub fn connect_options(settings: &DatabaseSettings) -> Result<PgConnectOptions, sqlx::Error> {
    let timeout_ms = settings.statement_timeout.as_millis().to_string();
    Ok(PgConnectOptions::from_str(settings.url.expose_secret())?
        .application_name("pierre")
        // Every statement is prepared once per connection and filtered by the
        // user's id; PostgreSQL's default kept re-planning some of them on each
        // execution (a custom plan costing several times the execution).
        // Generic plans for these index lookups are the same plans, planned once.
        .options([
            ("statement_timeout", timeout_ms.as_str()),
            ("plan_cache_mode", "force_generic_plan"),
        ]))
}

/// Every pool of this instance, for metrics and shutdown.
#[derive(Debug, Clone, Default)]
pub struct DbPools {
    inner: Arc<PoolsInner>,
}

#[derive(Debug, Default)]
struct PoolsInner {
    pools: Mutex<Vec<PgPool>>,
    waiting: AtomicI64,
}

/// A snapshot of all pools together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub waiting: i64,
    pub max: u32,
}

impl DbPools {
    /// Create a lazily connecting pool of `max` connections and remember it.
    /// Lazy, so the server starts (and answers 503) even while PostgreSQL is down.
    #[must_use]
    pub fn create(&self, settings: &DatabaseSettings, options: PgConnectOptions, max: u32) -> Db {
        let pool = PgPoolOptions::new()
            .max_connections(max.max(1))
            .min_connections(0)
            .acquire_timeout(settings.acquire_timeout)
            // Checking every connection before use costs a round trip per request;
            // a broken connection is instead detected by the query that fails on it
            // and closed (see `Db::conn`).
            .test_before_acquire(false)
            .connect_lazy_with(options);
        self.inner
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(pool.clone());
        Db {
            pool,
            pools: self.clone(),
        }
    }

    /// Totals over every pool.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let pools = self
            .inner
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut stats = PoolStats {
            waiting: self.inner.waiting.load(Ordering::Relaxed).max(0),
            ..PoolStats::default()
        };
        for pool in pools.iter().filter(|pool| !pool.is_closed()) {
            stats.size += pool.size();
            stats.idle += pool.num_idle();
            stats.max += pool.options().get_max_connections();
        }
        drop(pools);
        stats
    }

    /// Close every pool (graceful shutdown).
    pub async fn close_all(&self) {
        let pools: Vec<PgPool> = self
            .inner
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for pool in pools {
            pool.close().await;
        }
    }
}

/// One pool plus the bookkeeping the metrics need. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    pool: PgPool,
    pools: DbPools,
}

impl Db {
    /// The underlying pool, for code that runs several statements itself
    /// (transactions, background tasks).
    #[must_use]
    pub const fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Take one connection for this request.
    ///
    /// # Errors
    /// [`AppError::Unavailable`] when no connection could be had within the
    /// acquire timeout (pool exhausted, or PostgreSQL unreachable).
    pub async fn conn(&self) -> Result<Conn, AppError> {
        self.pools.inner.waiting.fetch_add(1, Ordering::Relaxed);
        let acquired = self.pool.acquire().await;
        self.pools.inner.waiting.fetch_sub(1, Ordering::Relaxed);
        acquired.map(Conn).map_err(AppError::from)
    }
}

/// A pooled connection. If a query on it fails with a connection-level error,
/// call [`Conn::discard`] (done by `AppError::from(sqlx::Error)` callers through
/// [`Conn::check`]) so it is not handed out again.
#[derive(Debug)]
pub struct Conn(PoolConnection<Postgres>);

impl Conn {
    /// Pass a query result through, closing this connection instead of
    /// returning it to the pool when the error shows the connection is broken.
    ///
    /// # Errors
    /// The query's own error, converted to [`AppError`].
    pub fn check<T>(&mut self, result: Result<T, sqlx::Error>) -> Result<T, AppError> {
        result.map_err(|err| {
            if is_connection_error(&err) {
                self.0.close_on_drop();
            }
            AppError::from(err)
        })
    }
}

impl Deref for Conn {
    type Target = sqlx::PgConnection;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Errors that mean "the database is not reachable right now", as opposed to
/// a bad query.
#[must_use]
pub const fn is_connection_error(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed
    )
}

/// The newest migration version embedded in this binary.
#[must_use]
pub fn latest_migration() -> Option<i64> {
    MIGRATOR.iter().map(|migration| migration.version).max()
}

/// Readiness: the database answers and every embedded migration is applied.
///
/// # Errors
/// [`AppError::Unavailable`] if PostgreSQL cannot be reached, or the
/// migrations are behind (the message says which).
pub async fn check_ready(db: &Db) -> Result<(), ReadinessError> {
    let mut conn = db.conn().await.map_err(|_| ReadinessError::Unreachable)?;
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn)
            .await
            .map_err(|err| match err {
                sqlx::Error::Database(db_err) if db_err.code().as_deref() == Some("42P01") => {
                    ReadinessError::MigrationsPending
                }
                err if is_connection_error(&err) => {
                    drop(conn.check::<()>(Err(err)));
                    ReadinessError::Unreachable
                }
                _ => ReadinessError::Unreachable,
            })?;
    match (applied, latest_migration()) {
        (_, None) => Ok(()),
        (Some(applied), Some(latest)) if applied >= latest => Ok(()),
        _ => Err(ReadinessError::MigrationsPending),
    }
}

/// Why the instance is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReadinessError {
    #[error("the database cannot be reached")]
    Unreachable,
    #[error("database migrations are not applied; run `pierre migrate`")]
    MigrationsPending,
}

/// Apply every pending migration.
///
/// # Errors
/// If the database is unreachable or a migration fails.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
