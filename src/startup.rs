//! Building and running the server.
//!
//! [`Application::build`] binds the public and metrics listeners (port 0 in
//! tests), applies migrations when configured, and assembles the middleware
//! stack. Each actix worker gets its own `AppState` with its own pool.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use tracing_actix_web::TracingLogger;

use actix_session::SessionMiddleware;
use actix_session::config::{CookieContentSecurity, PersistentSession, TtlExtensionPolicy};
use actix_web::cookie::time::Duration as CookieDuration;
use actix_web::cookie::{Key, SameSite};
use chrono::TimeDelta;

use crate::auth::password::PasswordHasher;
use crate::auth::session_store::{PgSessionStore, SessionTimeouts, delete_expired};
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::{self, Db, DbPools};
use crate::error::AppError;
use crate::metrics::{Metrics, ProviderMetrics, metrics_endpoint, track_requests};
use crate::providers::ProviderCtx;
use crate::state::AppState;
use crate::telemetry::{PierreRootSpan, request_id};
use crate::web::headers::security_headers;

/// Connections kept for background work (periodic tasks) besides the workers' pools.
const BACKGROUND_POOL_SIZE: u32 = 3;

/// Extra routes mounted inside the full middleware stack (tests use this to
/// exercise error paths that no production route triggers on demand).
pub type ExtraRoutes = fn(&mut web::ServiceConfig);

/// What tests may change about how the application is built.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub extra_routes: Option<ExtraRoutes>,
    /// The clock; tests pass one they can move forward.
    pub clock: Clock,
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    metrics_port: u16,
    server: Server,
    metrics_server: Server,
    pools: DbPools,
    background: Db,
}

impl Application {
    /// Build with the production routes only.
    ///
    /// # Errors
    /// If a listener cannot be bound or migrations fail.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with(settings, BuildOptions::default()).await
    }

    /// Build, optionally mounting extra routes (tests).
    ///
    /// # Errors
    /// If a listener cannot be bound or migrations fail.
    pub async fn build_with(settings: Settings, options: BuildOptions) -> anyhow::Result<Self> {
        let BuildOptions {
            extra_routes: extra,
            clock,
        } = options;
        let settings = Arc::new(settings);
        let options =
            db::connect_options(&settings.database).context("DATABASE_URL could not be used")?;
        let pools = DbPools::default();
        let background = pools.create(&settings.database, options.clone(), BACKGROUND_POOL_SIZE);
        if settings.database.migrate_on_start {
            db::migrate(background.pool())
                .await
                .context("could not apply database migrations")?;
        }

        let listener =
            TcpListener::bind((settings.http_host, settings.http_port)).with_context(|| {
                format!(
                    "could not listen on {}:{}",
                    settings.http_host, settings.http_port
                )
            })?;
        let port = listener.local_addr()?.port();
        let metrics_listener = TcpListener::bind(settings.metrics_addr).with_context(|| {
            format!("could not listen on METRICS_ADDR {}", settings.metrics_addr)
        })?;
        let metrics_port = metrics_listener.local_addr()?.port();

        let metrics =
            web::Data::new(Metrics::new(pools.clone())?.with_queue(background.pool().clone()));
        let provider_metrics = Arc::new(ProviderMetrics::new(metrics.registry())?);
        let providers = ProviderCtx::new(Arc::clone(&settings), clock.clone(), provider_metrics)
            .context("could not build the HTTP client for providers")?;
        let workers = settings.http_workers;
        let per_worker = per_worker_connections(settings.database.max_connections, workers);
        let https = settings.is_https();
        let max_body = settings.max_body_bytes;
        let hasher = PasswordHasher::default();
        let timeouts = SessionTimeouts {
            idle: TimeDelta::from_std(settings.session_idle).unwrap_or(TimeDelta::hours(12)),
            absolute: TimeDelta::from_std(settings.session_absolute).unwrap_or(TimeDelta::days(14)),
        };
        spawn_cleanup(background.clone(), clock.clone());
        let wake = crate::jobs::Wake::default();
        let chart_cache = Arc::new(crate::web::dashboard::ChartCache::default());
        let roster_cache = Arc::new(crate::web::roster::RosterCache::default());
        if settings.run_worker {
            crate::jobs::spawn_worker(crate::jobs::Worker {
                pool: background.pool().clone(),
                providers: providers.clone(),
                wake: wake.clone(),
            });
        } else {
            tracing::info!("PIERRE_WORKER=off: jobs are left to `pierre worker` processes");
        }
        // The session cookie is signed with a key derived (HKDF) from
        // PIERRE_SECRET_KEY, so every worker and every instance accept it.
        let cookie_key = Key::derive_from(settings.secret_key.expose());

        let server = {
            let settings = Arc::clone(&settings);
            let pools = pools.clone();
            let metrics = metrics.clone();
            HttpServer::new(move || {
                let state = AppState {
                    db: pools.create(&settings.database, options.clone(), per_worker),
                    settings: Arc::clone(&settings),
                    clock: clock.clone(),
                    hasher: hasher.clone(),
                    jobs: wake.clone(),
                    providers: providers.clone(),
                    chart_cache: Arc::clone(&chart_cache),
                    roster_cache: Arc::clone(&roster_cache),
                };
                let store = PgSessionStore::new(state.db.pool().clone(), clock.clone(), timeouts);
                let sessions = SessionMiddleware::builder(store, cookie_key.clone())
                    .cookie_name(settings.session_cookie_name().to_owned())
                    .cookie_secure(https)
                    .cookie_http_only(true)
                    .cookie_same_site(SameSite::Lax)
                    .cookie_path("/".to_owned())
                    .cookie_domain(None)
                    .cookie_content_security(CookieContentSecurity::Signed)
                    .session_lifecycle(
                        PersistentSession::default()
                            .session_ttl(CookieDuration::seconds(timeouts.absolute.num_seconds()))
                            .session_ttl_extension_policy(TtlExtensionPolicy::OnStateChanges),
                    )
                    .build();
                App::new()
                    .app_data(web::Data::new(state))
                    .app_data(metrics.clone())
                    .app_data(web::PayloadConfig::new(max_body))
                    .app_data(web::FormConfig::default().limit(max_body))
                    .app_data(web::JsonConfig::default().limit(max_body))
                    .configure(crate::web::configure)
                    .configure(|cfg| {
                        if let Some(extra) = extra {
                            extra(cfg);
                        }
                    })
                    .default_service(web::to(not_found))
                    .wrap(sessions)
                    .wrap(from_fn(crate::auth::csrf::protect))
                    .wrap(from_fn(crate::web::cors::cors))
                    .wrap(from_fn(crate::error::render_error_pages))
                    .wrap(from_fn(crate::web::compress::compress))
                    .wrap(security_headers(https))
                    .wrap(TracingLogger::<PierreRootSpan>::new())
                    .wrap(from_fn(track_requests))
                    .wrap(from_fn(request_id))
            })
            .workers(workers)
            .listen(listener)?
            .run()
        };

        let metrics_server = HttpServer::new(move || {
            App::new()
                .app_data(metrics.clone())
                .route("/metrics", web::get().to(metrics_endpoint))
        })
        .workers(1)
        .listen(metrics_listener)?
        .run();

        tracing::info!(
            port,
            metrics_port,
            workers,
            connections_per_worker = per_worker,
            public_url = %settings.public_url,
            "Pierre is listening"
        );
        Ok(Self {
            port,
            metrics_port,
            server,
            metrics_server,
            pools,
            background,
        })
    }

    /// The bound public port.
    #[must_use]
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The bound metrics port.
    #[must_use]
    pub const fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// The background pool (periodic tasks, tests).
    #[must_use]
    pub const fn background_db(&self) -> &Db {
        &self.background
    }

    /// Serve until a shutdown signal, then close every pool.
    ///
    /// # Errors
    /// If either server fails.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let metrics_handle = self.metrics_server.handle();
        let result = tokio::select! {
            result = self.server => result,
            result = self.metrics_server => result,
        };
        metrics_handle.stop(true).await;
        self.pools.close_all().await;
        Ok(result?)
    }
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("metrics_port", &self.metrics_port)
            .finish_non_exhaustive()
    }
}

/// `pierre worker`: run only the job worker (no public listener).
///
/// Same settings, pool and provider context as `serve`, and `/metrics` on
/// `METRICS_ADDR`, until `shutdown` completes (see [`crate::jobs::run_until`]
/// for what happens to a job in progress).
///
/// # Errors
/// If the metrics listener cannot be bound or migrations fail.
pub async fn run_worker(
    settings: Settings,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let options =
        db::connect_options(&settings.database).context("DATABASE_URL could not be used")?;
    let pools = DbPools::default();
    let background = pools.create(&settings.database, options, BACKGROUND_POOL_SIZE);
    if settings.database.migrate_on_start {
        db::migrate(background.pool())
            .await
            .context("could not apply database migrations")?;
    }
    let metrics_listener = TcpListener::bind(settings.metrics_addr)
        .with_context(|| format!("could not listen on METRICS_ADDR {}", settings.metrics_addr))?;
    let metrics_port = metrics_listener.local_addr()?.port();
    let metrics =
        web::Data::new(Metrics::new(pools.clone())?.with_queue(background.pool().clone()));
    let provider_metrics = Arc::new(ProviderMetrics::new(metrics.registry())?);
    let providers = ProviderCtx::new(Arc::clone(&settings), clock, provider_metrics)
        .context("could not build the HTTP client for providers")?;
    let metrics_server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .route("/metrics", web::get().to(metrics_endpoint))
    })
    .workers(1)
    .disable_signals()
    .listen(metrics_listener)?
    .run();
    let metrics_handle = metrics_server.handle();
    let metrics_task = tokio::spawn(metrics_server);
    tracing::info!(metrics_port, "Pierre worker is running jobs");
    crate::jobs::run_until(
        crate::jobs::Worker {
            pool: background.pool().clone(),
            providers,
            wake: crate::jobs::Wake::default(),
        },
        shutdown,
    )
    .await;
    metrics_handle.stop(true).await;
    let _ = metrics_task.await;
    pools.close_all().await;
    tracing::info!("Pierre worker stopped");
    Ok(())
}

/// Completes on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
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
        () = interrupt => {}
        () = terminate => {}
    }
}

/// Remove expired sessions and old throttling records every ten minutes.
fn spawn_cleanup(db: Db, clock: Clock) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_mins(10));
        loop {
            every.tick().await;
            let now = clock.now();
            match delete_expired(db.pool(), now).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "expired sessions removed"),
                Err(err) => tracing::warn!(error = %err, "could not remove expired sessions"),
            }
            if let Ok(mut conn) = db.pool().acquire().await
                && let Err(err) = crate::db::attempts::delete_old(&mut conn, now).await
            {
                tracing::warn!(error = %err, "could not remove old sign-in attempts");
            }
        }
    });
}

/// Split the instance's connection budget between the workers, keeping
/// [`BACKGROUND_POOL_SIZE`] for background work; at least one per worker.
#[must_use]
pub fn per_worker_connections(total: u32, workers: usize) -> u32 {
    let workers = u32::try_from(workers).unwrap_or(u32::MAX).max(1);
    (total.saturating_sub(BACKGROUND_POOL_SIZE) / workers).max(1)
}

async fn not_found() -> Result<actix_web::HttpResponse, AppError> {
    Err(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::per_worker_connections;

    #[test]
    fn the_connection_budget_is_split_between_workers() {
        assert_eq!(per_worker_connections(20, 2), 8);
        assert_eq!(per_worker_connections(20, 1), 17);
        assert_eq!(per_worker_connections(2, 4), 1);
        assert_eq!(per_worker_connections(10_000, 0), 9_997);
    }
}
