//! State shared with handlers through `web::Data<AppState>`.
//!
//! One `AppState` is built per actix worker (inside the `HttpServer::new`
//! closure), each with its own small connection pool.

use std::sync::Arc;

use crate::auth::password::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;

/// Per-worker application state.
#[derive(Debug, Clone)]
pub struct AppState {
    /// This worker's connection pool.
    pub db: Db,
    /// Settings, shared read-only by every worker.
    pub settings: Arc<Settings>,
    /// "Now", controllable in tests.
    pub clock: Clock,
    /// Password hashing, off the async threads; shared by every worker.
    pub hasher: PasswordHasher,
    /// Wakes this instance's job worker after an enqueue.
    pub jobs: crate::jobs::Wake,
    /// HTTP client, clock and metrics for provider calls (shared with the job worker).
    pub providers: crate::providers::ProviderCtx,
    /// Rendered dashboard charts, shared by the workers.
    pub chart_cache: Arc<crate::web::dashboard::ChartCache>,
    /// Coach roster figures per athlete, shared by the workers.
    pub roster_cache: Arc<crate::web::roster::RosterCache>,
}
