//! The athlete's provider connections (`/connections`).
//!
//! Connecting over OAuth (`POST /connections/{provider}/connect` → the
//! provider → `GET /oauth/{provider}/callback`), disconnecting, and the live
//! backfill progress (`GET /connections/{provider}/status`, polled by htmx).
//!
//! The pending authorization (state, PKCE verifier, provider, import range,
//! start time) lives in the session. A callback is accepted only when its
//! `state` names a pending entry of *this* session, started for the provider
//! in the path (mix-up defence), less than [`PENDING_LIFETIME`] ago. The entry
//! is removed on first use, whatever the outcome, so a callback URL cannot be
//! replayed. Every outcome is counted in `oauth_flows_total{provider,outcome}`.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq as _;

use crate::auth::{CurrentUser, client_ip_text, user_agent};
use crate::db::audit::{self, NewEvent, event};
use crate::db::{connections, jobs};
use crate::domain::Provider;
use crate::error::AppError;
use crate::providers::oauth::{self, App, OAuthError, Unavailable, provider_name};
use crate::providers::tokens::{self, Connection, NewConnection};
use crate::state::AppState;
use crate::web::format;
use crate::web::forms::{redirect, render_with_status};
use crate::web::layout::{Flash, FlashLevel, PageContext};
use crate::web::thresholds::{Phase, RecomputeView};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/connections").route(web::get().to(page)))
        .service(web::resource("/connections/{provider}/connect").route(web::post().to(connect)))
        .service(
            web::resource("/connections/{provider}/disconnect").route(web::post().to(disconnect)),
        )
        .service(
            web::resource("/connections/{provider}/status").route(web::get().to(status_fragment)),
        )
        .service(web::resource("/oauth/{provider}/callback").route(web::get().to(callback)));
}

/// A pending authorization expires after this long.
pub const PENDING_LIFETIME: TimeDelta = TimeDelta::minutes(10);
/// At most this many authorizations pending in one session (oldest dropped).
const MAX_PENDING: usize = 4;
/// Session entry: the pending authorizations.
const PENDING_KEY: &str = "oauth_pending";
/// Session entry: the message for the next `/connections` page.
const FLASH_KEY: &str = "connections_flash";

/// One authorization started in this session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    state: String,
    provider: String,
    verifier: Option<String>,
    /// The import range chosen ("30d", "90d", "1y", "all").
    range: String,
    /// Unix seconds.
    created: i64,
}

/// How far back to import, as offered at connect time.
const RANGES: [(&str, &str); 4] = [
    ("30d", "The last 30 days"),
    ("90d", "The last 90 days"),
    ("1y", "The last year"),
    ("all", "Everything"),
];

/// The reconnect form's range: keep what the connection has.
const KEEP_RANGE: &str = "keep";

/// How far back an import goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    From(DateTime<Utc>),
    Everything,
}

impl Since {
    /// The first moment to import, `None` for everything.
    const fn after(self) -> Option<DateTime<Utc>> {
        match self {
            Self::From(at) => Some(at),
            Self::Everything => None,
        }
    }
}

/// The range's start; `None` for an unknown range.
fn range_start(range: &str, now: DateTime<Utc>) -> Option<Since> {
    match range {
        "30d" => Some(Since::From(now - TimeDelta::days(30))),
        "90d" => Some(Since::From(now - TimeDelta::days(90))),
        "1y" => Some(Since::From(now - TimeDelta::days(365))),
        "all" => Some(Since::Everything),
        _ => None,
    }
}

fn provider_of(raw: &str) -> Result<Provider, AppError> {
    Provider::parse(raw).ok_or(AppError::NotFound)
}

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The page's Content-Security-Policy with `form-action` widened to the
/// origins of the given authorize URLs: the connect forms answer with a
/// redirect to the provider, which `form-action 'self'` would block.
fn allow_form_redirects(mut res: HttpResponse, authorize_urls: &[&str]) -> HttpResponse {
    let mut origins: Vec<String> = authorize_urls
        .iter()
        .filter_map(|u| url::Url::parse(u).ok())
        .map(|u| u.origin())
        .filter(url::Origin::is_tuple)
        .map(|o| o.ascii_serialization())
        .collect();
    origins.sort();
    origins.dedup();
    if origins.is_empty() {
        return res;
    }
    let policy = crate::web::headers::CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origins.join(" ")),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    res
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%-d %b %Y %H:%M UTC").to_string()
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFlash {
    success: bool,
    message: String,
}

fn set_flash(user: &CurrentUser, success: bool, message: String) {
    if let Err(err) = user
        .session
        .insert(FLASH_KEY, StoredFlash { success, message })
    {
        tracing::warn!(error = %err, "could not store a flash message");
    }
}

fn take_pending(user: &CurrentUser) -> Vec<Pending> {
    user.session
        .get::<Vec<Pending>>(PENDING_KEY)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn store_pending(user: &CurrentUser, pending: &[Pending]) -> Result<(), AppError> {
    if pending.is_empty() {
        user.session.remove(PENDING_KEY);
        return Ok(());
    }
    user.session
        .insert(PENDING_KEY, pending)
        .map_err(|e| AppError::internal(anyhow::anyhow!("session: {e}")))
}

// ---------------------------------------------------------------------- page

/// What to show for a provider's latest backfill (the jobs' status box):
/// active jobs, finished ones for ten minutes, failed ones until the next.
#[must_use]
pub fn backfill_view(
    p: Option<&jobs::Progress>,
    provider: Provider,
    now: DateTime<Utc>,
) -> Option<RecomputeView> {
    let name = provider_name(provider);
    let count = |n: i32| {
        format!(
            "{} {}",
            format::thousands(i64::from(n)),
            if n == 1 { "activity" } else { "activities" }
        )
    };
    let poll = format!("/connections/{}/status", provider.as_str());
    RecomputeView::of_job(
        p,
        now,
        poll,
        TimeDelta::minutes(10),
        |phase, p| match phase {
            Phase::Retrying => {
                format!("Importing your {name} history hit a problem and will be retried shortly.")
            }
            Phase::Queued => format!("Your {name} history will start importing in a moment."),
            Phase::Running if p.total > 0 => format!(
                "Importing your {name} history: {} of {} activities.",
                format::thousands(i64::from(p.done)),
                format::thousands(i64::from(p.total))
            ),
            Phase::Running => format!("Importing your {name} history: {} so far.", count(p.done)),
            Phase::Done => format!(
                "Your {name} history is imported ({}).",
                count(p.total.max(p.done))
            ),
            Phase::Dead => format!(
                "Importing your {name} history failed. New activities still arrive; to import the history again, disconnect and connect {name}. If it keeps failing, tell your administrator."
            ),
        },
    )
}

/// One provider on the page.
#[derive(Debug)]
pub struct ProviderView {
    pub provider: &'static str,
    pub name: &'static str,
    /// The admin has configured and enabled its app.
    pub available: bool,
    /// Why not, when not available.
    pub unavailable: String,
    pub connection: Option<ConnectionView>,
    pub backfill: Option<RecomputeView>,
    /// Strava: disconnecting deletes its activities (Strava's terms).
    pub deletes_on_disconnect: bool,
    /// Activities imported from this provider.
    pub imported: String,
    pub imported_count: i64,
    /// Where the connect form leads (for the page's CSP), when available.
    pub authorize_url: Option<String>,
}

/// A connection, formatted.
#[derive(Debug)]
pub struct ConnectionView {
    pub athlete: String,
    pub scopes: String,
    pub since: String,
    pub last_sync: String,
    pub next_sync: String,
    pub import_from: String,
    pub needs_reauth: bool,
    pub status_label: &'static str,
    pub status_tone: &'static str,
    pub last_error: Option<String>,
    pub last_error_at: String,
}

impl ConnectionView {
    fn of(c: &Connection, provider: Provider) -> Self {
        let name = provider_name(provider);
        let (status_label, status_tone) = match c.status.as_str() {
            "active" => ("Connected", "success"),
            "needs_reauth" => ("Reconnect needed", "warning"),
            "revoked" => ("Access revoked", "danger"),
            _ => ("Sync problem", "danger"),
        };
        let athlete = if c.athlete_name.is_empty() {
            format!("{name} athlete {}", c.external_athlete_id)
        } else {
            format!(
                "{} ({name} athlete {})",
                c.athlete_name, c.external_athlete_id
            )
        };
        Self {
            athlete,
            scopes: if c.granted_scopes.is_empty() {
                "—".to_owned()
            } else {
                c.granted_scopes.replace(',', ", ")
            },
            since: when(c.created_at),
            last_sync: c.last_sync_at.map_or_else(|| "Not yet".to_owned(), when),
            next_sync: c
                .next_sync_at
                .map_or_else(|| "When new activities arrive".to_owned(), when),
            import_from: c.backfill_after.map_or_else(
                || "Everything".to_owned(),
                |d| d.format("%-d %b %Y").to_string(),
            ),
            needs_reauth: matches!(c.status.as_str(), "needs_reauth" | "revoked"),
            status_label,
            status_tone,
            last_error: c.last_error.clone(),
            last_error_at: c.last_error_at.map(when).unwrap_or_default(),
        }
    }
}

#[derive(Template)]
#[template(path = "connections/page.html")]
struct Page {
    ctx: PageContext,
    providers: Vec<ProviderView>,
    ranges: Vec<(&'static str, &'static str)>,
    is_admin: bool,
}

async fn provider_view(
    state: &AppState,
    user: &CurrentUser,
    provider: Provider,
) -> Result<ProviderView, AppError> {
    let mut conn = state.db.conn().await?;
    let app = App::load(&mut conn, &state.settings.data_keys, provider).await;
    let app = conn.check(app)?;
    let found = tokens::get(&mut conn, user.id(), provider).await;
    let connection = conn.check(found)?;
    let latest = connections::latest_backfill(&mut conn, user.id(), provider.as_str()).await;
    let latest = conn.check(latest)?;
    let counted = connections::count_from_source(&mut conn, user.id(), provider.as_str()).await;
    let imported = conn.check(counted)?;
    drop(conn);
    let name = provider_name(provider);
    let unavailable = match &app {
        Ok(_) => String::new(),
        Err(Unavailable::NotConfigured) => format!(
            "{name} is not set up on this Pierre instance yet. An administrator can set it up under Admin → OAuth apps."
        ),
        Err(Unavailable::SecretUnreadable) => format!(
            "{name} cannot be used right now: its app secret cannot be read. Tell your administrator."
        ),
    };
    Ok(ProviderView {
        provider: provider.as_str(),
        name,
        available: app.is_ok(),
        unavailable,
        connection: connection.as_ref().map(|c| ConnectionView::of(c, provider)),
        backfill: backfill_view(latest.as_ref(), provider, state.clock.now()),
        deletes_on_disconnect: provider == Provider::Strava,
        imported: format!(
            "{} {}",
            format::thousands(imported),
            if imported == 1 {
                "activity"
            } else {
                "activities"
            }
        ),
        imported_count: imported,
        authorize_url: app.ok().map(|a| a.authorize_url),
    })
}

/// `GET /connections`.
async fn page(
    mut ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    if let Ok(Some(flash)) = user.session.get::<StoredFlash>(FLASH_KEY) {
        user.session.remove(FLASH_KEY);
        ctx.flashes.push(Flash {
            level: if flash.success {
                FlashLevel::Success
            } else {
                FlashLevel::Error
            },
            message: flash.message,
        });
    }
    let mut providers = Vec::new();
    for provider in Provider::ALL {
        providers.push(provider_view(&state, &user, provider).await?);
    }
    let is_admin = ctx.user.as_ref().is_some_and(|u| u.is_admin);
    let targets: Vec<String> = providers
        .iter()
        .filter_map(|p| p.authorize_url.clone())
        .collect();
    let targets: Vec<&str> = targets.iter().map(String::as_str).collect();
    let res = render_with_status(
        &Page {
            ctx,
            providers,
            ranges: RANGES.to_vec(),
            is_admin,
        },
        StatusCode::OK,
    )?;
    Ok(no_store(allow_form_redirects(res, &targets)))
}

#[derive(Template)]
#[template(path = "connections/status.html")]
struct StatusFragment {
    provider: &'static str,
    backfill: Option<RecomputeView>,
}

/// `GET /connections/{provider}/status`: the backfill progress, for htmx polling.
async fn status_fragment(
    path: web::Path<String>,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let mut conn = state.db.conn().await?;
    let latest = connections::latest_backfill(&mut conn, user.id(), provider.as_str()).await;
    let latest = conn.check(latest)?;
    drop(conn);
    Ok(no_store(render_with_status(
        &StatusFragment {
            provider: provider.as_str(),
            backfill: backfill_view(latest.as_ref(), provider, state.clock.now()),
        },
        StatusCode::OK,
    )?))
}

// ------------------------------------------------------------------- connect

#[derive(Debug, Deserialize)]
struct ConnectForm {
    #[serde(default)]
    range: String,
}

/// `POST /connections/{provider}/connect`: remember the authorization in the
/// session and send the browser to the provider.
async fn connect(
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<ConnectForm>,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let name = provider_name(provider);
    let now = state.clock.now();
    let range = form.range.trim();
    if range != KEEP_RANGE && range_start(range, now).is_none() {
        return Err(AppError::Unprocessable(
            "Choose how far back to import: the last 30 days, 90 days, year, or everything."
                .to_owned(),
        ));
    }
    let mut conn = state.db.conn().await?;
    let app = App::load(&mut conn, &state.settings.data_keys, provider).await;
    let app = conn.check(app)?;
    drop(conn);
    let Ok(app) = app else {
        state
            .providers
            .metrics
            .oauth(provider.as_str(), "not_configured");
        return Err(AppError::Unprocessable(format!(
            "{name} is not set up on this Pierre instance yet, so it cannot be connected. Ask your administrator."
        )));
    };
    let redirect_uri = oauth::redirect_uri(&state.settings, provider);
    let started = oauth::authorize(&app, &redirect_uri).map_err(|err| {
        state
            .providers
            .metrics
            .oauth(provider.as_str(), "not_configured");
        AppError::Unprocessable(format!(
            "{name} cannot be connected: {err}. Tell your administrator."
        ))
    })?;
    let mut pending: Vec<Pending> = take_pending(&user)
        .into_iter()
        .filter(|p| now.timestamp() - p.created < PENDING_LIFETIME.num_seconds())
        .collect();
    pending.push(Pending {
        state: started.state,
        provider: provider.as_str().to_owned(),
        verifier: started.pkce_verifier,
        range: range.to_owned(),
        created: now.timestamp(),
    });
    let excess = pending.len().saturating_sub(MAX_PENDING);
    pending.drain(..excess);
    store_pending(&user, &pending)?;
    Ok(no_store(redirect(&req, started.url.as_str())))
}

// ------------------------------------------------------------------ callback

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    scope: Option<String>,
    error: Option<String>,
}

/// A connect flow that ended without a connection: a styled page saying what
/// happened and what to do, with a button to try again when that can help.
#[derive(Template)]
#[template(path = "connections/outcome.html")]
struct Outcome {
    ctx: PageContext,
    status: u16,
    title: String,
    message: String,
    /// Offer "Connect … again" for this provider with this range.
    retry: Option<(&'static str, &'static str, String)>,
}

struct Ended {
    status: StatusCode,
    outcome: &'static str,
    title: String,
    message: String,
    retry: bool,
}

fn ended(
    status: StatusCode,
    outcome: &'static str,
    title: impl Into<String>,
    message: impl Into<String>,
    retry: bool,
) -> Ended {
    Ended {
        status,
        outcome,
        title: title.into(),
        message: message.into(),
        retry,
    }
}

/// `GET /oauth/{provider}/callback`: the provider sends the browser back here.
async fn callback(
    req: HttpRequest,
    ctx: PageContext,
    path: web::Path<String>,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let metrics = &state.providers.metrics;
    let now = state.clock.now();
    let name = provider_name(provider);

    // Find and consume the pending entry: single use, whatever happens next.
    let mut pending = take_pending(&user);
    let found = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| {
            pending
                .iter()
                .position(|p| bool::from(p.state.as_bytes().ct_eq(s.as_bytes())))
        })
        .map(|i| pending.remove(i));
    pending.retain(|p| now.timestamp() - p.created < PENDING_LIFETIME.num_seconds());
    store_pending(&user, &pending)?;
    let Some(found) = found else {
        metrics.oauth(provider.as_str(), "state_invalid");
        return Err(AppError::BadRequest(format!(
            "This link back from {name} is not valid for this browser session, or it was already used. Nothing was connected. Start again from the Connections page."
        )));
    };
    if found.provider != provider.as_str() {
        metrics.oauth(provider.as_str(), "state_mismatch");
        return Err(AppError::BadRequest(format!(
            "This answer came back for {name}, but the connection was started for another provider. Nothing was connected. Start again from the Connections page."
        )));
    }
    if now.timestamp() - found.created >= PENDING_LIFETIME.num_seconds() {
        metrics.oauth(provider.as_str(), "state_expired");
        return Err(AppError::BadRequest(format!(
            "Connecting {name} took longer than {} minutes, so this attempt expired. Nothing was connected. Start again from the Connections page.",
            PENDING_LIFETIME.num_minutes()
        )));
    }

    let result = finish(&req, &state, &user, provider, &found, &query).await;
    let end = match result {
        Ok(message) => {
            metrics.oauth(provider.as_str(), "connected");
            set_flash(&user, true, message);
            return Ok(no_store(redirect(&req, "/connections")));
        }
        Err(Finish::App(err)) => {
            metrics.oauth(provider.as_str(), "error");
            return Err(err);
        }
        Err(Finish::Ended(end)) => end,
    };
    metrics.oauth(provider.as_str(), end.outcome);
    let retry = end
        .retry
        .then(|| (provider.as_str(), name, found.range.clone()));
    // The "connect again" form redirects to the provider: allow it in the CSP.
    let target = if retry.is_some() {
        let mut conn = state.db.conn().await?;
        let app = App::load(&mut conn, &state.settings.data_keys, provider).await;
        conn.check(app)?.ok().map(|a| a.authorize_url)
    } else {
        None
    };
    let res = render_with_status(
        &Outcome {
            ctx,
            status: end.status.as_u16(),
            title: end.title,
            message: end.message,
            retry,
        },
        end.status,
    )?;
    Ok(no_store(allow_form_redirects(
        res,
        &target.as_deref().into_iter().collect::<Vec<_>>(),
    )))
}

enum Finish {
    Ended(Ended),
    App(AppError),
}

impl From<AppError> for Finish {
    fn from(err: AppError) -> Self {
        Self::App(err)
    }
}

impl From<sqlx::Error> for Finish {
    fn from(err: sqlx::Error) -> Self {
        Self::App(err.into())
    }
}

/// The provider's answer on the callback: the code and the granted scopes, or
/// how the flow ends (denied, an error, no code, a missing scope).
fn read_answer(provider: Provider, query: &CallbackQuery) -> Result<(&str, String), Ended> {
    let name = provider_name(provider);
    if let Some(error) = query.error.as_deref() {
        return Err(if error == "access_denied" {
            ended(
                StatusCode::OK,
                "denied",
                format!("You cancelled connecting {name}"),
                format!(
                    "{name} was not connected and nothing was stored. You can connect it whenever you like."
                ),
                true,
            )
        } else {
            ended(
                StatusCode::BAD_GATEWAY,
                "provider_error",
                format!("{name} could not authorize Pierre"),
                format!(
                    "{name} answered with an error instead of an authorization. Nothing was stored. Try again in a moment."
                ),
                true,
            )
        });
    }
    let Some(code) = query.code.as_deref().filter(|c| !c.is_empty()) else {
        return Err(ended(
            StatusCode::BAD_REQUEST,
            "no_code",
            format!("{name} sent no authorization"),
            "The answer carried no authorization code. Nothing was stored. Try again.",
            true,
        ));
    };
    let granted = query.scope.clone().unwrap_or_default();
    if let Some(missing) = oauth::missing_scope(provider, &granted) {
        return Err(ended(
            StatusCode::UNPROCESSABLE_ENTITY,
            "scope_missing",
            format!("Pierre needs permission to read your {name} activities"),
            format!(
                "The permission “View data about your activities” ({missing}) was not granted, so Pierre could not import anything. Nothing was stored. Connect again and leave that box ticked."
            ),
            true,
        ));
    }
    Ok((code, granted))
}

/// The rest of the callback once the state checked out: the provider's
/// answer, the scopes, the code exchange, storing. The flash message on success.
async fn finish(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    provider: Provider,
    found: &Pending,
    query: &CallbackQuery,
) -> Result<String, Finish> {
    let name = provider_name(provider);
    let now = state.clock.now();
    let (code, granted) = read_answer(provider, query).map_err(Finish::Ended)?;
    let mut conn = state.db.conn().await?;
    let app = App::load(&mut conn, &state.settings.data_keys, provider).await;
    let app = conn.check(app)?;
    drop(conn);
    let Ok(app) = app else {
        return Err(Finish::Ended(ended(
            StatusCode::CONFLICT,
            "not_configured",
            format!("{name} is not available"),
            format!(
                "{name} was switched off on this Pierre instance while you were away. Nothing was stored."
            ),
            false,
        )));
    };
    let redirect_uri = oauth::redirect_uri(&state.settings, provider);
    let exchanged = oauth::exchange_code(
        &state.providers,
        &app,
        &redirect_uri,
        code,
        found.verifier.as_deref(),
    )
    .await;
    let mut granted_tokens = match exchanged {
        Ok(g) => g,
        Err(err) => {
            tracing::warn!(provider = provider.as_str(), error = %err, "OAuth code exchange failed");
            let mut conn = state.db.conn().await?;
            let recorded = crate::db::provider_errors::insert(
                &mut conn,
                provider.as_str(),
                Some(user.id()),
                "oauth",
                err.status().map(i32::from),
                &format!("code exchange failed: {err}"),
            )
            .await;
            conn.check(recorded)?;
            return Err(Finish::Ended(match err {
                OAuthError::Rejected { .. } => ended(
                    StatusCode::BAD_GATEWAY,
                    "exchange_rejected",
                    format!("{name} did not accept the authorization"),
                    format!(
                        "{name} refused to complete the connection (the authorization may have expired). Nothing was stored. Try connecting again."
                    ),
                    true,
                ),
                _ => ended(
                    StatusCode::BAD_GATEWAY,
                    "exchange_failed",
                    format!("{name} is not answering properly"),
                    format!(
                        "Pierre could not complete the connection because {name} did not answer properly. Nothing was stored. Try again in a few minutes."
                    ),
                    true,
                ),
            }));
        }
    };
    if provider == Provider::Garmin && granted_tokens.athlete_id.is_none() {
        match oauth::garmin_user_id(&state.providers, &app, &granted_tokens.tokens.access).await {
            Ok(id) => granted_tokens.athlete_id = Some(id),
            Err(err) => {
                tracing::warn!(provider = "garmin", error = %err, "Garmin user id failed");
            }
        }
    }
    let Some(athlete_id) = granted_tokens.athlete_id.clone() else {
        return Err(Finish::Ended(ended(
            StatusCode::BAD_GATEWAY,
            "exchange_failed",
            format!("{name} did not say who you are"),
            format!(
                "{name} completed the authorization but did not name your account. Nothing was stored. Try again in a few minutes."
            ),
            true,
        )));
    };
    let after = if found.range == KEEP_RANGE {
        // Reconnecting keeps the range chosen when the athlete first connected.
        let mut conn = state.db.conn().await?;
        let existing = tokens::get(&mut conn, user.id(), provider).await;
        conn.check(existing)?.and_then(|c| c.backfill_after)
    } else {
        range_start(&found.range, now).and_then(Since::after)
    };

    store(
        req,
        state,
        user,
        provider,
        found,
        &granted,
        &athlete_id,
        &granted_tokens,
        after,
    )
    .await?;
    state.jobs.notify();
    let who = if granted_tokens.athlete_name.is_empty() {
        String::new()
    } else {
        format!(" as {}", granted_tokens.athlete_name)
    };
    Ok(format!(
        "{name} is connected{who}. Your activities are being imported."
    ))
}

/// Store the connection, audit it and queue the backfill, in one transaction.
#[expect(clippy::too_many_arguments, reason = "the pieces of one callback")]
async fn store(
    req: &HttpRequest,
    state: &AppState,
    user: &CurrentUser,
    provider: Provider,
    found: &Pending,
    granted: &str,
    athlete_id: &str,
    granted_tokens: &oauth::Granted,
    after: Option<DateTime<Utc>>,
) -> Result<(), Finish> {
    let name = provider_name(provider);
    let mut tx = state.db.pool().begin().await.map_err(AppError::from)?;
    if let Some(existing) = tokens::by_external(&mut tx, provider, athlete_id).await?
        && existing.user_id != user.id()
    {
        return Err(Finish::Ended(taken(name)));
    }
    let saved = tokens::save(
        &mut tx,
        &state.settings.data_keys,
        &NewConnection {
            user_id: user.id(),
            provider,
            external_athlete_id: athlete_id,
            athlete_name: &granted_tokens.athlete_name,
            granted_scopes: granted,
            tokens: &granted_tokens.tokens,
            backfill_after: after,
        },
    )
    .await;
    match saved {
        Ok(_) => {}
        Err(sqlx::Error::Database(db))
            if db.constraint() == Some("provider_connections_external_key") =>
        {
            return Err(Finish::Ended(taken(name)));
        }
        Err(err) => return Err(err.into()),
    }
    let ip = client_ip_text(req, &state.settings);
    let agent = user_agent(req);
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(user.id()),
            subject: Some(user.id()),
            subject_email: Some(&user.user.email),
            event_type: event::PROVIDER_CONNECTED,
            ip: &ip,
            user_agent: &agent,
            success: true,
            details: json!({
                "provider": provider.as_str(),
                "athlete": athlete_id,
                "scopes": granted,
                "import": found.range,
            }),
        },
    )
    .await?;
    jobs::enqueue(
        &mut tx,
        jobs::SYNC_BACKFILL,
        Some(user.id()),
        &json!({
            "provider": provider.as_str(),
            "after": after.map(|a| a.timestamp()),
        }),
        Some(&format!("backfill:{}:{}", user.id(), provider.as_str())),
    )
    .await?;
    tx.commit().await.map_err(AppError::from)?;
    Ok(())
}

fn taken(name: &str) -> Ended {
    ended(
        StatusCode::CONFLICT,
        "athlete_taken",
        format!("This {name} account is already connected"),
        format!(
            "That {name} account is connected to another Pierre account. Each {name} account can be connected to one Pierre account only. Nothing was stored; disconnect it there first, or connect a different {name} account."
        ),
        false,
    )
}

// ---------------------------------------------------------------- disconnect

/// `POST /connections/{provider}/disconnect`: deauthorize at the provider
/// (best effort), delete the tokens, and for Strava the activities imported
/// from it (Strava's terms), in one transaction; audited.
async fn disconnect(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let name = provider_name(provider);
    let mut conn = state.db.conn().await?;
    let found = tokens::get(&mut conn, user.id(), provider).await;
    let existing = conn.check(found)?;
    let app = App::load(&mut conn, &state.settings.data_keys, provider).await;
    let app = conn.check(app)?;
    drop(conn);
    if existing.is_none() {
        set_flash(&user, true, format!("{name} is not connected."));
        return Ok(no_store(redirect(&req, "/connections")));
    }

    // Best effort: a failure is logged and recorded, the local tokens go anyway.
    let deauthorized = match &app {
        Ok(app) => {
            let outcome =
                match tokens::access_token(&state.providers, state.db.pool(), user.id(), provider)
                    .await
                {
                    Ok(access) => oauth::deauthorize(&state.providers, app, &access)
                        .await
                        .map_err(|e| (e.status(), e.to_string())),
                    Err(e) => Err((None, format!("no usable access token: {e}"))),
                };
            match outcome {
                Ok(()) => true,
                Err((status, message)) => {
                    tracing::warn!(provider = provider.as_str(), error = %message, "deauthorization failed; deleting the tokens anyway");
                    let mut conn = state.db.conn().await?;
                    let recorded = crate::db::provider_errors::insert(
                        &mut conn,
                        provider.as_str(),
                        Some(user.id()),
                        "oauth",
                        status.map(i32::from),
                        &format!("deauthorization failed: {message}"),
                    )
                    .await;
                    conn.check(recorded)?;
                    false
                }
            }
        }
        Err(_) => false,
    };

    let mut tx = state.db.pool().begin().await.map_err(AppError::from)?;
    let deleted = connections::forget(&mut tx, user.id(), provider).await?;
    let ip = client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(user.id()),
            subject: Some(user.id()),
            subject_email: Some(&user.user.email),
            event_type: event::PROVIDER_DISCONNECTED,
            ip: &ip,
            user_agent: &agent,
            success: true,
            details: json!({
                "provider": provider.as_str(),
                "deauthorized": deauthorized,
                "deleted_activities": deleted,
            }),
        },
    )
    .await?;
    tx.commit().await.map_err(AppError::from)?;
    let mut message = format!("{name} is disconnected.");
    if deleted > 0 {
        message = format!(
            "{message} {} imported from Strava {} deleted.",
            if deleted == 1 {
                "1 activity".to_owned()
            } else {
                format!(
                    "{} activities",
                    format::thousands(i64::try_from(deleted).unwrap_or(i64::MAX))
                )
            },
            if deleted == 1 { "was" } else { "were" }
        );
    }
    if !deauthorized {
        message = format!(
            "{message} Pierre could not tell {name} to revoke its access; you can remove Pierre from your {name} settings yourself."
        );
    }
    set_flash(&user, true, message);
    Ok(no_store(redirect(&req, "/connections")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(state: &str, done: i32, total: i32) -> jobs::Progress {
        jobs::Progress {
            id: 1,
            state: state.to_owned(),
            done,
            total,
            last_error: None,
            updated_at: Utc::now(),
        }
    }

    #[test]
    fn backfill_progress_reads_like_a_sentence() {
        let now = Utc::now();
        let running =
            backfill_view(Some(&progress("running", 240, 1380)), Provider::Strava, now).unwrap();
        assert!(running.active);
        assert_eq!(
            running.text,
            "Importing your Strava history: 240 of 1,380 activities."
        );
        let done = backfill_view(Some(&progress("done", 12, 12)), Provider::Strava, now).unwrap();
        assert!(!done.active);
        assert_eq!(
            done.text,
            "Your Strava history is imported (12 activities)."
        );
        assert!(backfill_view(None, Provider::Strava, now).is_none());
    }

    #[test]
    fn import_ranges() {
        let now = Utc::now();
        assert_eq!(range_start("all", now), Some(Since::Everything));
        assert_eq!(
            range_start("30d", now),
            Some(Since::From(now - TimeDelta::days(30)))
        );
        assert_eq!(range_start("forever", now), None);
    }
}
