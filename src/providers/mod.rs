//! Talking to the providers (Strava, Garmin).
//!
//! The shared HTTP client and context, the athletes' tokens, and (in
//! submodules) the OAuth client, the app-wide rate budget and the API clients
//! used by the sync jobs.
//!
//! The same [`ProviderCtx`] is held by the web workers (`AppState`) and by the
//! job worker, so a token refreshed by one is seen by the other through
//! PostgreSQL, never through process memory.

pub mod budget;
pub mod oauth;
pub mod setup;
pub mod strava;
pub mod subscriptions;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Settings;
use crate::metrics::ProviderMetrics;

/// Timeout of one outgoing call (connect + answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// Timeout for establishing a connection to a provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What code that calls a provider needs.
#[derive(Debug, Clone)]
pub struct ProviderCtx {
    /// One pooled HTTP client for every provider call. It never follows
    /// redirects (OAuth token endpoints must not be redirected).
    pub http: reqwest::Client,
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub metrics: Arc<ProviderMetrics>,
}

impl ProviderCtx {
    /// Build the HTTP client.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(
        settings: Arc<Settings>,
        clock: Clock,
        metrics: Arc<ProviderMetrics>,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("Pierre/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT)
            .build()?;
        Ok(Self {
            http,
            settings,
            clock,
            metrics,
        })
    }
}
