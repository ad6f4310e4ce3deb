//! Strava's API v3 as the sync jobs use it: the athlete's activity list,
//! one activity, its streams.
//!
//! Every call: an access token ([`super::tokens::access_token`]), one unit of
//! the app-wide budget ([`super::budget::acquire`]; no room → [`ApiError::RateLimited`]
//! at once, never a long sleep), the call with the shared client's timeouts,
//! the provider's usage headers fed back into the budget, a metric, and a
//! classification of the outcome:
//!
//! | answer | error | side effect |
//! |---|---|---|
//! | 429 | `RateLimited { until }` (next window, or midnight when the day is used up) | budget blocked until then |
//! | 401 | `Unauthorized` | connection `needs_reauth` with an actionable message |
//! | 404 | `Gone` | — |
//! | 5xx, timeout, invalid or truncated JSON | `Transient` | — |
//!
//! Errors an admin should see go to `provider_errors`. Messages never contain
//! tokens (the token only travels in the `Authorization` header).

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;
use uuid::Uuid;

use super::ProviderCtx;
use super::budget::{self, Grant, Limits};
use super::tokens::{self, TokenError};
use crate::db::{oauth_apps, provider_errors};
use crate::domain::provider::Provider;

const PROVIDER: &str = "strava";

/// Largest answer body accepted (a long activity's streams are a few MB).
pub const MAX_BODY: usize = 64 * 1024 * 1024;
/// Most activities one list page may hold (Strava's maximum).
pub const MAX_PER_PAGE: u32 = 200;
/// The streams Pierre asks for.
pub const STREAM_KEYS: &str =
    "time,latlng,altitude,heartrate,watts,cadence,velocity_smooth,distance,temp";

/// Why a call gave nothing usable.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No room in the budget, or Strava answered 429: try again at `until`.
    #[error("Strava's rate limit is reached until {until}")]
    RateLimited { until: DateTime<Utc> },
    /// Strava refused the athlete's token (revoked, or a scope missing); the
    /// connection is marked `needs_reauth`.
    #[error("Strava no longer accepts this connection; the athlete must connect again")]
    Unauthorized,
    /// The athlete has no Strava connection (any more).
    #[error("the athlete is not connected to Strava")]
    NotConnected,
    /// The resource does not exist (deleted, or not the athlete's).
    #[error("not found on Strava")]
    Gone,
    /// Worth retrying later: 5xx, timeout, network, an unreadable answer.
    #[error("{0}")]
    Transient(String),
    /// The Strava app is not configured or disabled by an admin.
    #[error("the Strava app is not configured or is disabled")]
    NotConfigured,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// `SummaryActivity` / `DetailedActivity`: the fields Pierre uses.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct StravaActivity {
    pub id: u64,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub sport_type: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    pub start_date: DateTime<Utc>,
    #[serde(default)]
    pub utc_offset: Option<f64>,
    #[serde(default)]
    pub elapsed_time: Option<f64>,
    #[serde(default)]
    pub moving_time: Option<f64>,
    #[serde(default)]
    pub distance: Option<f64>,
    #[serde(default)]
    pub total_elevation_gain: Option<f64>,
    #[serde(default)]
    pub average_speed: Option<f64>,
    #[serde(default)]
    pub max_speed: Option<f64>,
    #[serde(default)]
    pub average_heartrate: Option<f64>,
    #[serde(default)]
    pub max_heartrate: Option<f64>,
    #[serde(default)]
    pub average_watts: Option<f64>,
    #[serde(default)]
    pub max_watts: Option<f64>,
    #[serde(default)]
    pub weighted_average_watts: Option<f64>,
    /// False when Strava estimated the watts (no power meter).
    #[serde(default)]
    pub device_watts: Option<bool>,
    #[serde(default)]
    pub average_cadence: Option<f64>,
    #[serde(default)]
    pub calories: Option<f64>,
    #[serde(default)]
    pub trainer: Option<bool>,
    #[serde(default)]
    pub device_name: Option<String>,
}

/// One stream of a `key_by_type=true` answer.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Default)]
pub struct Series<T> {
    pub data: Vec<T>,
}

/// The streams answer (`key_by_type=true`); absent keys are `None`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
pub struct StravaStreams {
    #[serde(default)]
    pub time: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub latlng: Option<Series<Option<[f64; 2]>>>,
    #[serde(default)]
    pub altitude: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub heartrate: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub watts: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub cadence: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub velocity_smooth: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub distance: Option<Series<Option<f64>>>,
    #[serde(default)]
    pub temp: Option<Series<Option<f64>>>,
}

/// Filters of the activity list (`before`/`after`: epoch seconds, exclusive).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListParams {
    pub before: Option<i64>,
    pub after: Option<i64>,
    pub page: u32,
    pub per_page: u32,
}

/// The Strava API client of one configured app.
#[derive(Debug, Clone)]
pub struct Strava {
    ctx: ProviderCtx,
    pool: PgPool,
    base: String,
    limits: Limits,
}

/// Record an error for the admin page (best effort: a failure to record is logged only).
pub async fn record_error(
    pool: &PgPool,
    user_id: Option<Uuid>,
    kind: &str,
    status: Option<i32>,
    message: &str,
) {
    let recorded = match pool.acquire().await {
        Ok(mut conn) => {
            provider_errors::insert(&mut conn, PROVIDER, user_id, kind, status, message).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "could not record a provider error");
    }
}

fn transient_from(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "Strava did not answer in time".to_owned()
    } else if err.is_connect() {
        "could not connect to Strava".to_owned()
    } else {
        "the request to Strava failed".to_owned()
    }
}

impl Strava {
    /// The client of the configured Strava app.
    ///
    /// # Errors
    /// [`ApiError::NotConfigured`] without an enabled app; database errors.
    pub async fn load(ctx: &ProviderCtx, pool: &PgPool) -> Result<Self, ApiError> {
        let mut conn = pool.acquire().await?;
        let app = oauth_apps::get(&mut conn, PROVIDER)
            .await?
            .filter(|a| a.enabled)
            .ok_or(ApiError::NotConfigured)?;
        Ok(Self {
            ctx: ctx.clone(),
            pool: pool.clone(),
            base: app.api_base_url.trim_end_matches('/').to_owned(),
            limits: Limits::from(&app),
        })
    }

    /// The athlete's activities, newest first.
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn list_activities(
        &self,
        user_id: Uuid,
        params: ListParams,
    ) -> Result<Vec<StravaActivity>, ApiError> {
        let mut query = vec![
            ("page", params.page.max(1).to_string()),
            (
                "per_page",
                params.per_page.clamp(1, MAX_PER_PAGE).to_string(),
            ),
        ];
        if let Some(before) = params.before {
            query.push(("before", before.to_string()));
        }
        if let Some(after) = params.after {
            query.push(("after", after.to_string()));
        }
        self.get(user_id, "activities", "/athlete/activities", &query)
            .await
    }

    /// One activity (detailed).
    ///
    /// # Errors
    /// See [`ApiError`].
    pub async fn activity(&self, user_id: Uuid, id: u64) -> Result<StravaActivity, ApiError> {
        self.get(user_id, "activity", &format!("/activities/{id}"), &[])
            .await
    }

    /// The streams of one activity.
    ///
    /// # Errors
    /// See [`ApiError`]; an activity without streams (manual) is [`ApiError::Gone`].
    pub async fn streams(&self, user_id: Uuid, id: u64) -> Result<StravaStreams, ApiError> {
        let query = [
            ("keys", STREAM_KEYS.to_owned()),
            ("key_by_type", "true".to_owned()),
        ];
        self.get(
            user_id,
            "streams",
            &format!("/activities/{id}/streams"),
            &query,
        )
        .await
    }

    async fn get<T: DeserializeOwned>(
        &self,
        user_id: Uuid,
        endpoint: &str,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ApiError> {
        let token =
            match tokens::access_token(&self.ctx, &self.pool, user_id, Provider::Strava).await {
                Ok(token) => token,
                Err(TokenError::NotConnected) => return Err(ApiError::NotConnected),
                // Already marked, with its sentence, where the refusal was seen.
                Err(TokenError::NeedsReauth) => return Err(ApiError::Unauthorized),
                Err(TokenError::Transient(message)) => return Err(ApiError::Transient(message)),
                Err(TokenError::Database(e)) => return Err(ApiError::Database(e)),
            };
        let now = self.ctx.clock.now();
        {
            let mut conn = self.pool.acquire().await?;
            if let Grant::Wait(until) =
                budget::acquire(&mut conn, PROVIDER, &self.limits, true, now).await?
            {
                return Err(ApiError::RateLimited { until });
            }
        }
        let url = format!("{}{path}", self.base);
        let sent = self
            .ctx
            .http
            .get(&url)
            .query(query)
            .bearer_auth(token.expose_secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                let status = if err.is_timeout() { "timeout" } else { "error" };
                self.ctx.metrics.call(PROVIDER, endpoint, status);
                let message = transient_from(&err);
                record_error(&self.pool, Some(user_id), "api", None, &message).await;
                return Err(ApiError::Transient(message));
            }
        };
        let status = response.status();
        self.ctx.metrics.call(PROVIDER, endpoint, status.as_str());
        let usage = budget::usage_from_headers(response.headers());
        if let Some(usage) = &usage {
            let mut conn = self.pool.acquire().await?;
            budget::observe(&mut conn, PROVIDER, usage, now).await?;
        }
        let code = i32::from(status.as_u16());
        if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            let until = usage.map_or_else(
                || budget::next_window(now),
                |u| budget::room_at(&u, &self.limits, true, now),
            );
            let mut conn = self.pool.acquire().await?;
            budget::block(&mut conn, PROVIDER, until, now).await?;
            drop(conn);
            record_error(
                &self.pool,
                Some(user_id),
                "api",
                Some(code),
                &format!("rate limited by Strava on {endpoint}; calls paused until {until}"),
            )
            .await;
            return Err(ApiError::RateLimited { until });
        }
        if status == reqwest::StatusCode::UNAUTHORIZED {
            let body = read_body(&mut response).await.unwrap_or_default();
            let missing_scope = String::from_utf8_lossy(&body).contains("read_permission");
            let message = if missing_scope {
                "Strava does not let Pierre read your activities. Connect Strava again and keep \"View data about your activities\" ticked."
            } else {
                "Strava no longer accepts Pierre's access to your account. Connect Strava again to resume syncing."
            };
            {
                let mut conn = self.pool.acquire().await?;
                let now = self.ctx.clock.now();
                tokens::mark_needs_reauth(&mut conn, user_id, Provider::Strava, message, now)
                    .await?;
            }
            record_error(
                &self.pool,
                Some(user_id),
                "api",
                Some(code),
                &format!("Strava refused the athlete's token on {endpoint}"),
            )
            .await;
            return Err(ApiError::Unauthorized);
        }
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ApiError::Gone);
        }
        if !status.is_success() {
            let message = format!("Strava answered {code} on {endpoint}");
            record_error(&self.pool, Some(user_id), "api", Some(code), &message).await;
            return Err(ApiError::Transient(message));
        }
        let body = match read_body(&mut response).await {
            Ok(body) => body,
            Err(message) => {
                record_error(&self.pool, Some(user_id), "api", Some(code), &message).await;
                return Err(ApiError::Transient(message));
            }
        };
        match serde_json::from_slice(&body) {
            Ok(value) => Ok(value),
            Err(e) => {
                let message = format!(
                    "Strava sent an unreadable answer on {endpoint} ({})",
                    classify(&e)
                );
                record_error(&self.pool, Some(user_id), "api", Some(code), &message).await;
                Err(ApiError::Transient(message))
            }
        }
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "cut short",
        serde_json::error::Category::Syntax => "invalid JSON",
        serde_json::error::Category::Data => "unexpected shape",
        serde_json::error::Category::Io => "read error",
    }
}

/// The body, at most [`MAX_BODY`] bytes.
async fn read_body(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err("Strava's answer is too large".to_owned());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(err) => return Err(transient_from(&err)),
        }
    }
}
