//! Administration of the OAuth apps (one per provider): `/admin/oauth-apps`
//! lists them, `/admin/oauth-apps/{provider}` edits one.
//!
//! * Secrets (client secret, webhook verify token) are write-only: sealed
//!   with the current data key ([`crate::crypto`]) before they reach the
//!   database, never rendered back (the page shows when they were set), and
//!   kept when the "replace" field is left empty. A form with errors does not
//!   echo a typed secret either.
//! * URLs must be `https://`, or `http://` to a loopback host (the provider
//!   simulator on the same machine).
//! * Every change is audited (`oauth_app_created` / `oauth_app_changed`) with
//!   the names of the changed fields, never their secret values.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Deserialize;

use crate::auth::{RequireAdmin, client_ip_text, user_agent};
use crate::crypto::{Aad, Sealed};
use crate::db::audit::{self, NewEvent, event};
use crate::db::oauth_apps::{self, AppRow, AppUpdate, column};
use crate::domain::Provider;
use crate::error::AppError;
use crate::providers::budget::{self, Usage};
use crate::providers::subscriptions;
use crate::state::AppState;
use crate::web::forms::{FieldErrors, redirect, render_with_status, text_field};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/oauth-apps").route(web::get().to(list_page)))
        .service(
            web::resource("/admin/oauth-apps/{id}")
                .route(web::get().to(edit_page))
                .route(web::post().to(save)),
        )
        .service(
            web::resource("/admin/oauth-apps/{id}/subscription")
                .route(web::post().to(subscription)),
        )
        .service(
            web::resource("/admin/oauth-apps/{id}/test").route(web::post().to(test_credentials)),
        );
}

/// Largest rate limit accepted (requests per window).
const MAX_LIMIT: i32 = 10_000_000;
/// Longest secret accepted.
const MAX_SECRET: usize = 500;
/// Longest URL accepted.
const MAX_URL: usize = 2000;

fn no_store(mut res: HttpResponse) -> HttpResponse {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

// ---------------------------------------------------------------------- list

/// One provider in the list.
#[derive(Debug)]
pub struct AppListRow {
    pub provider: &'static str,
    pub name: String,
    pub configured: bool,
    pub enabled: bool,
    pub client_id: String,
    pub secret_set: bool,
    pub connected: i64,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "admin/oauth_apps.html")]
struct ListPage {
    ctx: PageContext,
    rows: Vec<AppListRow>,
}

async fn list_page(
    ctx: PageContext,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let listed = oauth_apps::list(&mut conn).await;
    let apps = conn.check(listed)?;
    let counted = oauth_apps::connection_counts(&mut conn).await;
    let counts = conn.check(counted)?;
    drop(conn);
    let rows = Provider::ALL
        .into_iter()
        .map(|provider| {
            let app = apps.iter().find(|a| a.provider == provider.as_str());
            let connected = counts
                .iter()
                .find(|(p, _)| p == provider.as_str())
                .map_or(0, |(_, n)| *n);
            AppListRow {
                provider: provider.as_str(),
                name: app.map_or_else(
                    || provider.defaults().display_name.to_owned(),
                    |a| a.display_name.clone(),
                ),
                configured: app.is_some(),
                enabled: app.is_some_and(|a| a.enabled),
                client_id: app.map(|a| a.client_id.clone()).unwrap_or_default(),
                secret_set: app.is_some_and(|a| a.client_secret.is_some()),
                connected,
                updated: app.map(|a| when(a.updated_at)).unwrap_or_default(),
            }
        })
        .collect();
    Ok(no_store(render_with_status(
        &ListPage { ctx, rows },
        StatusCode::OK,
    )?))
}

// ---------------------------------------------------------------------- edit

/// The form's values (never a secret).
#[derive(Debug, Clone)]
pub struct AppFormView {
    pub display_name: String,
    pub client_id: String,
    pub authorize_url: String,
    pub token_url: String,
    pub api_base_url: String,
    pub scopes: String,
    pub enabled: bool,
    pub limit_short: String,
    pub limit_daily: String,
    pub read_limit_short: String,
    pub read_limit_daily: String,
}

/// What the page says about a stored secret.
#[derive(Debug, Clone, Default)]
pub struct SecretView {
    /// "set on …", or None when no secret is stored.
    pub set_on: Option<String>,
    /// Why the stored value cannot be used (cannot be decrypted).
    pub problem: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/oauth_app.html")]
struct EditPage {
    ctx: PageContext,
    provider: &'static str,
    configured: bool,
    form: AppFormView,
    secret: SecretView,
    verify_token: SecretView,
    subscription_id: String,
    callback_url: String,
    /// Where the provider sends webhooks (`{public URL}/webhooks/{provider}`).
    webhook_url: String,
    connected: i64,
    usage: UsageView,
    recent_errors: Vec<ErrorView>,
    /// The result of a subscription or credentials action.
    outcome: Option<Outcome>,
    notice: Option<&'static str>,
    errors: FieldErrors,
    /// A secret was typed in a form that had errors: it must be typed again.
    secret_dropped: bool,
}

#[derive(Debug, Deserialize)]
struct EditQuery {
    done: Option<String>,
}

fn provider_of(raw: &str) -> Result<Provider, AppError> {
    Provider::parse(raw).ok_or(AppError::NotFound)
}

fn view_of(provider: Provider, app: Option<&AppRow>) -> AppFormView {
    app.map_or_else(
        || {
            let d = provider.defaults();
            AppFormView {
                display_name: d.display_name.to_owned(),
                client_id: String::new(),
                authorize_url: d.authorize_url.to_owned(),
                token_url: d.token_url.to_owned(),
                api_base_url: d.api_base_url.to_owned(),
                scopes: d.scopes.to_owned(),
                enabled: false,
                limit_short: d.limit_short.to_string(),
                limit_daily: d.limit_daily.to_string(),
                read_limit_short: d.read_limit_short.to_string(),
                read_limit_daily: d.read_limit_daily.to_string(),
            }
        },
        |a| AppFormView {
            display_name: a.display_name.clone(),
            client_id: a.client_id.clone(),
            authorize_url: a.authorize_url.clone(),
            token_url: a.token_url.clone(),
            api_base_url: a.api_base_url.clone(),
            scopes: a.scopes.clone(),
            enabled: a.enabled,
            limit_short: a.limit_short.to_string(),
            limit_daily: a.limit_daily.to_string(),
            read_limit_short: a.read_limit_short.to_string(),
            read_limit_daily: a.read_limit_daily.to_string(),
        },
    )
}

/// Whether a stored secret opens with the configured keys, and when it was set.
fn secret_view(
    state: &AppState,
    provider: Provider,
    col: &str,
    stored: Option<&[u8]>,
    set_at: Option<DateTime<Utc>>,
) -> SecretView {
    let Some(stored) = stored else {
        return SecretView::default();
    };
    let aad = Aad::app(provider.as_str(), col);
    let problem = Sealed::from_bytes(stored)
        .and_then(|sealed| state.settings.data_keys.open(&sealed, &aad))
        .err()
        .map(|err| format!("The stored value cannot be used: {err}. Replace it."));
    SecretView {
        set_on: Some(set_at.map_or_else(|| "an unknown date".to_owned(), when)),
        problem,
    }
}

/// `{PIERRE_PUBLIC_URL}/oauth/{provider}/callback`.
fn callback_url(state: &AppState, provider: Provider) -> String {
    crate::providers::oauth::redirect_uri(&state.settings, provider)
}

/// `{PIERRE_PUBLIC_URL}/webhooks/{provider}`.
fn webhook_url(state: &AppState, provider: Provider) -> String {
    format!(
        "{}/webhooks/{}",
        state.settings.public_url.as_str().trim_end_matches('/'),
        provider.as_str()
    )
}

struct Loaded {
    app: Option<AppRow>,
    connected: i64,
    /// The counts of the current window and day, and a 429 block in force.
    usage: (Usage, Option<DateTime<Utc>>),
    errors: Vec<oauth_apps::ProviderError>,
}

/// Recent provider errors shown.
const ERRORS_SHOWN: i64 = 20;

/// One usage bar: calls in a window against the app's limit.
#[derive(Debug, Clone)]
pub struct UsageRow {
    pub id: &'static str,
    pub label: &'static str,
    pub used: i64,
    pub limit: i64,
    /// "12 of 200", or "no calls yet" when the window has no count.
    pub figure: String,
    pub over: bool,
}

/// API usage in the current 15-minute window and UTC day.
#[derive(Debug, Clone, Default)]
pub struct UsageView {
    pub rows: Vec<UsageRow>,
    /// "Blocked by a 429 until …" while the provider refuses calls.
    pub blocked: Option<String>,
}

/// The usage bars: counts of the current windows ([`budget::current`]: a
/// count from an earlier window or day is no call in this one).
#[must_use]
pub fn usage_view(
    usage: Usage,
    blocked_until: Option<DateTime<Utc>>,
    limits: [i32; 4],
) -> UsageView {
    let counted = |n: i32| (n > 0).then_some(n);
    let row = |id, label, used: Option<i32>, limit: i32| {
        let limit = i64::from(limit.max(1));
        used.map_or_else(
            || UsageRow {
                id,
                label,
                used: 0,
                limit,
                figure: "no calls yet".to_owned(),
                over: false,
            },
            |used| {
                let used = i64::from(used.max(0));
                UsageRow {
                    id,
                    label,
                    used: used.min(limit),
                    limit,
                    figure: format!(
                        "{} of {} ({}%)",
                        crate::web::format::thousands(used),
                        crate::web::format::thousands(limit),
                        used * 100 / limit
                    ),
                    over: used * 10 >= limit * 9,
                }
            },
        )
    };
    UsageView {
        rows: vec![
            row(
                "usage-short",
                "All calls, this 15 minutes",
                counted(usage.short),
                limits[0],
            ),
            row(
                "usage-short-read",
                "Read calls, this 15 minutes",
                counted(usage.read_short),
                limits[2],
            ),
            row(
                "usage-daily",
                "All calls, today (UTC)",
                counted(usage.daily),
                limits[1],
            ),
            row(
                "usage-daily-read",
                "Read calls, today (UTC)",
                counted(usage.read_daily),
                limits[3],
            ),
        ],
        blocked: blocked_until.map(|until| {
            format!(
                "The provider answered 429: calls are paused until {}.",
                when(until)
            )
        }),
    }
}

/// A provider error as the page lists it.
#[derive(Debug, Clone)]
pub struct ErrorView {
    pub at: String,
    pub kind: String,
    pub status: String,
    pub message: String,
    pub athlete: String,
}

/// The result of an action on the page.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `success`, `warning` or `error`.
    pub tone: &'static str,
    pub title: String,
    pub lines: Vec<String>,
}

impl Outcome {
    fn error(title: impl Into<String>) -> Self {
        Self {
            tone: "error",
            title: title.into(),
            lines: Vec::new(),
        }
    }
}

async fn load(state: &AppState, provider: Provider) -> Result<Loaded, AppError> {
    let mut conn = state.db.conn().await?;
    let found = oauth_apps::get(&mut conn, provider.as_str()).await;
    let app = conn.check(found)?;
    let counted = oauth_apps::connection_counts(&mut conn).await;
    let connected = conn
        .check(counted)?
        .into_iter()
        .find(|(p, _)| p == provider.as_str())
        .map_or(0, |(_, n)| n);
    let read = budget::current(&mut conn, provider.as_str(), state.clock.now()).await;
    let usage = conn.check(read)?;
    let read = oauth_apps::recent_errors(&mut conn, provider.as_str(), ERRORS_SHOWN).await;
    let errors = conn.check(read)?;
    Ok(Loaded {
        app,
        connected,
        usage,
        errors,
    })
}

fn page(
    ctx: PageContext,
    state: &AppState,
    provider: Provider,
    loaded: &Loaded,
    form: AppFormView,
) -> EditPage {
    let app = loaded.app.as_ref();
    EditPage {
        ctx,
        provider: provider.as_str(),
        configured: app.is_some(),
        form,
        secret: secret_view(
            state,
            provider,
            column::CLIENT_SECRET,
            app.and_then(|a| a.client_secret.as_deref()),
            app.and_then(|a| a.client_secret_set_at),
        ),
        verify_token: secret_view(
            state,
            provider,
            column::WEBHOOK_VERIFY_TOKEN,
            app.and_then(|a| a.webhook_verify_token.as_deref()),
            app.and_then(|a| a.webhook_verify_token_set_at),
        ),
        subscription_id: app
            .and_then(|a| a.subscription_id.clone())
            .unwrap_or_default(),
        callback_url: callback_url(state, provider),
        webhook_url: webhook_url(state, provider),
        connected: loaded.connected,
        usage: usage_view(
            loaded.usage.0,
            loaded.usage.1,
            app.map_or_else(
                || {
                    let d = provider.defaults();
                    [
                        d.limit_short,
                        d.limit_daily,
                        d.read_limit_short,
                        d.read_limit_daily,
                    ]
                },
                |a| {
                    [
                        a.limit_short,
                        a.limit_daily,
                        a.read_limit_short,
                        a.read_limit_daily,
                    ]
                },
            ),
        ),
        recent_errors: loaded
            .errors
            .iter()
            .map(|e| ErrorView {
                at: when(e.at),
                kind: e.kind.clone(),
                status: e.status.map(|s| s.to_string()).unwrap_or_default(),
                message: e.message.clone(),
                athlete: e.user_email.clone().unwrap_or_default(),
            })
            .collect(),
        outcome: None,
        notice: None,
        errors: FieldErrors::default(),
        secret_dropped: false,
    }
}

async fn edit_page(
    ctx: PageContext,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
    path: web::Path<String>,
    query: web::Query<EditQuery>,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let loaded = load(&state, provider).await?;
    let form = view_of(provider, loaded.app.as_ref());
    let mut edit = page(ctx, &state, provider, &loaded, form);
    edit.notice = match query.done.as_deref() {
        Some("saved") => Some("Saved."),
        Some("unchanged") => Some("Nothing changed."),
        Some("subscribed") => Some(
            "Push subscription created: Strava validated the callback URL and will send events to it.",
        ),
        Some("subscription_adopted") => Some(
            "Strava already had a push subscription to this instance's webhook URL; its id is stored now.",
        ),
        Some("unsubscribed") => Some("Push subscription deleted: Strava sends no more events."),
        Some("subscription_gone") => {
            Some("Strava had no such subscription any more; the stored id was cleared.")
        }
        _ => None,
    };
    Ok(no_store(render_with_status(&edit, StatusCode::OK)?))
}

// ---------------------------------------------------------------------- save

#[derive(Deserialize)]
struct AppForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
    #[serde(default)]
    authorize_url: String,
    #[serde(default)]
    token_url: String,
    #[serde(default)]
    api_base_url: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    webhook_verify_token: String,
    #[serde(default)]
    enabled: Option<String>,
    #[serde(default)]
    limit_short: String,
    #[serde(default)]
    limit_daily: String,
    #[serde(default)]
    read_limit_short: String,
    #[serde(default)]
    read_limit_daily: String,
}

// Hand-written so that a typed secret never reaches a log through `{:?}`.
impl std::fmt::Debug for AppForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppForm")
            .field("display_name", &self.display_name)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// Whether a host is this machine (where `http://` is allowed).
fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Validate an endpoint URL: absolute, `https://` (or `http://` to a loopback
/// host), no credentials or fragment. Returns it normalised.
pub fn endpoint_url(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
) -> String {
    let raw = raw.trim();
    if raw.is_empty() {
        errors.add(field, format!("{label} is required."));
        return String::new();
    }
    if raw.len() > MAX_URL {
        errors.add(
            field,
            format!("{label} must be at most {MAX_URL} characters."),
        );
        return raw.chars().take(MAX_URL).collect();
    }
    let Ok(url) = url::Url::parse(raw) else {
        errors.add(
            field,
            format!("{label} must be an absolute URL such as https://www.strava.com/oauth/token."),
        );
        return raw.to_owned();
    };
    let Some(host) = url.host() else {
        errors.add(field, format!("{label} must name a host."));
        return raw.to_owned();
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&host) => {}
        "http" => {
            errors.add(
                field,
                format!("{label} must use https:// (http:// is allowed only for localhost, as with the provider simulator)."),
            );
            return raw.to_owned();
        }
        _ => {
            errors.add(field, format!("{label} must be an https:// URL."));
            return raw.to_owned();
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        errors.add(
            field,
            format!("{label} cannot contain a user name or password."),
        );
    } else if url.fragment().is_some() {
        errors.add(field, format!("{label} cannot contain a #fragment."));
    }
    url.to_string()
}

/// A rate limit: a whole number from 1 to [`MAX_LIMIT`].
fn limit_field(errors: &mut FieldErrors, field: &'static str, label: &str, raw: &str) -> i32 {
    match raw.trim().replace([',', '_', ' '], "").parse::<i32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
        _ => {
            errors.add(
                field,
                format!("{label} must be a whole number from 1 to {MAX_LIMIT}."),
            );
            0
        }
    }
}

/// Scopes: comma- or space-separated names, stored comma-separated.
fn scopes_field(errors: &mut FieldErrors, raw: &str) -> String {
    let scopes: Vec<&str> = raw
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    if raw.len() > 500 {
        errors.add("scopes", "Scopes must be at most 500 characters.");
    } else if scopes.iter().any(|s| {
        !s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-' | '.' | '/'))
    }) {
        errors.add(
            "scopes",
            "Scopes are names such as read or activity:read_all, separated by commas.",
        );
    }
    scopes.join(",")
}

/// A typed secret, or None when the field was left empty (keep the stored one).
fn secret_field(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
) -> Option<SecretString> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if raw.chars().count() > MAX_SECRET {
        errors.add(
            field,
            format!("{label} must be at most {MAX_SECRET} characters."),
        );
    } else if raw.chars().any(char::is_control) {
        errors.add(field, format!("{label} cannot contain control characters."));
    }
    Some(SecretString::from(raw.to_owned()))
}

/// A validated form: the values to show again, what to save, and the errors.
struct Validated {
    view: AppFormView,
    secret: Option<SecretString>,
    verify: Option<SecretString>,
    limits: [i32; 4],
    errors: FieldErrors,
}

fn validate(form: &AppForm, stored: Option<&AppRow>) -> Validated {
    let mut errors = FieldErrors::default();
    let display_name = text_field(
        &mut errors,
        "display_name",
        "The display name",
        &form.display_name,
        true,
        100,
    );
    let client_id = text_field(
        &mut errors,
        "client_id",
        "The client id",
        &form.client_id,
        false,
        200,
    );
    let secret = secret_field(
        &mut errors,
        "client_secret",
        "The client secret",
        &form.client_secret,
    );
    let verify = secret_field(
        &mut errors,
        "webhook_verify_token",
        "The webhook verify token",
        &form.webhook_verify_token,
    );
    let view = AppFormView {
        display_name,
        client_id,
        authorize_url: endpoint_url(
            &mut errors,
            "authorize_url",
            "The authorize URL",
            &form.authorize_url,
        ),
        token_url: endpoint_url(&mut errors, "token_url", "The token URL", &form.token_url),
        api_base_url: endpoint_url(
            &mut errors,
            "api_base_url",
            "The API base URL",
            &form.api_base_url,
        ),
        scopes: scopes_field(&mut errors, &form.scopes),
        enabled: form.enabled.is_some(),
        limit_short: form.limit_short.trim().to_owned(),
        limit_daily: form.limit_daily.trim().to_owned(),
        read_limit_short: form.read_limit_short.trim().to_owned(),
        read_limit_daily: form.read_limit_daily.trim().to_owned(),
    };
    let limits = limits_of(&mut errors, &view);
    if view.enabled {
        if view.client_id.is_empty() {
            errors.add("client_id", "Enter the client id before enabling the app.");
        }
        if secret.is_none() && stored.is_none_or(|a| a.client_secret.is_none()) {
            errors.add(
                "client_secret",
                "Enter the client secret before enabling the app.",
            );
        }
    }
    Validated {
        view,
        secret,
        verify,
        limits,
        errors,
    }
}

/// The four rate limits, checked against each other.
fn limits_of(errors: &mut FieldErrors, view: &AppFormView) -> [i32; 4] {
    let limits = [
        limit_field(
            errors,
            "limit_short",
            "The 15-minute limit",
            &view.limit_short,
        ),
        limit_field(errors, "limit_daily", "The daily limit", &view.limit_daily),
        limit_field(
            errors,
            "read_limit_short",
            "The 15-minute read limit",
            &view.read_limit_short,
        ),
        limit_field(
            errors,
            "read_limit_daily",
            "The daily read limit",
            &view.read_limit_daily,
        ),
    ];
    if limits[0] > 0 && limits[1] > 0 && limits[1] < limits[0] {
        errors.add(
            "limit_daily",
            "The daily limit cannot be lower than the 15-minute limit.",
        );
    }
    if limits[0] > 0 && limits[2] > limits[0] {
        errors.add(
            "read_limit_short",
            "The read limit cannot exceed the overall 15-minute limit.",
        );
    }
    if limits[1] > 0 && limits[3] > limits[1] {
        errors.add(
            "read_limit_daily",
            "The daily read limit cannot exceed the overall daily limit.",
        );
    }
    limits
}

async fn save(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
    form: web::Form<AppForm>,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let loaded = load(&state, provider).await?;
    let Validated {
        view,
        secret,
        verify,
        limits,
        errors,
    } = validate(&form, loaded.app.as_ref());
    if !errors.is_empty() {
        let typed_secret = secret.is_some() || verify.is_some();
        let mut edit = page(ctx, &state, provider, &loaded, view);
        edit.errors = errors;
        edit.secret_dropped = typed_secret;
        return Ok(no_store(render_with_status(
            &edit,
            StatusCode::UNPROCESSABLE_ENTITY,
        )?));
    }

    let keys = &state.settings.data_keys;
    let seal = |value: Option<&SecretString>, col: &str| -> Result<Option<Vec<u8>>, AppError> {
        value
            .map(|v| {
                keys.seal(v, &Aad::app(provider.as_str(), col))
                    .map(|s| s.to_bytes())
                    .map_err(|err| AppError::Internal(anyhow::anyhow!("sealing a secret: {err}")))
            })
            .transpose()
    };
    let update = AppUpdate {
        provider: provider.as_str(),
        display_name: &view.display_name,
        client_id: &view.client_id,
        client_secret: seal(secret.as_ref(), column::CLIENT_SECRET)?,
        authorize_url: &view.authorize_url,
        token_url: &view.token_url,
        api_base_url: &view.api_base_url,
        scopes: &view.scopes,
        webhook_verify_token: seal(verify.as_ref(), column::WEBHOOK_VERIFY_TOKEN)?,
        enabled: view.enabled,
        limit_short: limits[0],
        limit_daily: limits[1],
        read_limit_short: limits[2],
        read_limit_daily: limits[3],
    };
    let changed = changed_fields(loaded.app.as_ref(), &update);
    let target = format!("/admin/oauth-apps/{}", provider.as_str());
    if loaded.app.is_some() && changed.is_empty() {
        return Ok(redirect(&req, &format!("{target}?done=unchanged")));
    }
    let ip = client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    let mut tx = state.db.pool().begin().await?;
    let created = oauth_apps::save(&mut tx, &update, state.clock.now()).await?;
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(admin.0.id()),
            event_type: if created {
                event::OAUTH_APP_CREATED
            } else {
                event::OAUTH_APP_CHANGED
            },
            ip: &ip,
            user_agent: &agent,
            success: true,
            // Field names only: never a secret, sealed or not.
            details: serde_json::json!({
                "provider": provider.as_str(),
                "changed": changed,
                "enabled": update.enabled,
            }),
            ..NewEvent::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, &format!("{target}?done=saved")))
}

// ------------------------------------------- subscription and credentials

#[derive(Debug, Deserialize)]
struct SubscriptionForm {
    #[serde(default)]
    action: String,
}

/// What an action on the provider needs: the stored app with its secrets open.
struct Opened {
    app: AppRow,
    secret: SecretString,
    verify: Option<SecretString>,
}

/// Open the app's secrets, or say (as an [`Outcome`]) why the action cannot run.
fn open_app(state: &AppState, provider: Provider, app: Option<&AppRow>) -> Result<Opened, Outcome> {
    if provider != Provider::Strava {
        return Err(Outcome::error(
            "Garmin has no subscription or credentials API to call: its ping URL is registered in the Garmin developer portal.",
        ));
    }
    let Some(app) = app else {
        return Err(Outcome::error("Save the app's settings first."));
    };
    if app.client_id.trim().is_empty() {
        return Err(Outcome::error("Set the client id first."));
    }
    let keys = &state.settings.data_keys;
    let open = |stored: Option<&[u8]>, col: &str| {
        stored.map(|bytes| {
            Sealed::from_bytes(bytes)
                .and_then(|sealed| keys.open(&sealed, &Aad::app(provider.as_str(), col)))
        })
    };
    let secret = match open(app.client_secret.as_deref(), column::CLIENT_SECRET) {
        None => return Err(Outcome::error("Set the client secret first.")),
        Some(Err(_)) => {
            return Err(Outcome::error(
                "The stored client secret cannot be decrypted with the configured keys. Replace it.",
            ));
        }
        Some(Ok(secret)) => secret,
    };
    let verify = match open(
        app.webhook_verify_token.as_deref(),
        column::WEBHOOK_VERIFY_TOKEN,
    ) {
        Some(Err(_)) => {
            return Err(Outcome::error(
                "The stored webhook verify token cannot be decrypted with the configured keys. Replace it.",
            ));
        }
        other => other.and_then(Result::ok),
    };
    Ok(Opened {
        app: app.clone(),
        secret,
        verify,
    })
}

/// The page with an action's outcome.
async fn with_outcome(
    ctx: PageContext,
    state: &AppState,
    provider: Provider,
    outcome: Outcome,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let loaded = load(state, provider).await?;
    let form = view_of(provider, loaded.app.as_ref());
    let mut edit = page(ctx, state, provider, &loaded, form);
    edit.outcome = Some(outcome);
    Ok(no_store(render_with_status(&edit, status)?))
}

/// Audit an action on the provider (details: what, and how it ended; never a secret).
async fn audit_action(
    state: &AppState,
    req: &HttpRequest,
    admin: uuid::Uuid,
    event_type: &str,
    success: bool,
    details: serde_json::Value,
    subscription: Option<(Provider, Option<&str>)>,
) -> Result<(), AppError> {
    let ip = client_ip_text(req, &state.settings);
    let agent = user_agent(req);
    let mut tx = state.db.pool().begin().await?;
    if let Some((provider, id)) = subscription {
        oauth_apps::set_subscription(&mut tx, provider.as_str(), id).await?;
    }
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(admin),
            event_type,
            ip: &ip,
            user_agent: &agent,
            success,
            details,
            ..NewEvent::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A refused subscription call (`action`: `create` | `delete`): kept among the
/// provider's recent errors and audited; returns what the page then says.
async fn refused(
    state: &AppState,
    req: &HttpRequest,
    admin: uuid::Uuid,
    event_type: &str,
    action: &str,
    refusal: subscriptions::Refused,
) -> Result<Outcome, AppError> {
    let mut conn = state.db.conn().await?;
    let recorded = crate::db::provider_errors::insert(
        &mut conn,
        "strava",
        None,
        "webhook",
        refusal.status.map(i32::from),
        &refusal.message,
    )
    .await;
    conn.check(recorded)?;
    drop(conn);
    audit_action(
        state,
        req,
        admin,
        event_type,
        false,
        serde_json::json!({ "provider": "strava", "action": action, "status": refusal.status }),
        None,
    )
    .await?;
    Ok(Outcome {
        tone: "error",
        title: format!("The subscription was not {action}d."),
        lines: vec![refusal.message],
    })
}

/// `POST /admin/oauth-apps/{provider}/subscription` (`action=create|delete`).
async fn subscription(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
    form: web::Form<SubscriptionForm>,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let create = match form.action.as_str() {
        "create" => true,
        "delete" => false,
        _ => {
            return Err(AppError::BadRequest(
                "The action must be create or delete.".to_owned(),
            ));
        }
    };
    let loaded = load(&state, provider).await?;
    let opened = match open_app(&state, provider, loaded.app.as_ref()) {
        Ok(opened) => opened,
        Err(outcome) => {
            return with_outcome(
                ctx,
                &state,
                provider,
                outcome,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let api = subscriptions::App {
        api_base: &opened.app.api_base_url,
        client_id: &opened.app.client_id,
        client_secret: &opened.secret,
    };
    let admin_id = admin.0.id();
    if create {
        create_subscription(&req, ctx, &state, admin_id, provider, &opened, &api).await
    } else {
        delete_subscription(&req, ctx, &state, admin_id, provider, &opened, &api).await
    }
}

async fn create_subscription(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    admin_id: uuid::Uuid,
    provider: Provider,
    opened: &Opened,
    api: &subscriptions::App<'_>,
) -> Result<HttpResponse, AppError> {
    let target = format!("/admin/oauth-apps/{}", provider.as_str());
    let Some(verify) = opened.verify.as_ref() else {
        return with_outcome(
            ctx,
            state,
            provider,
            Outcome::error("Set a webhook verify token first: Strava sends it back when it validates the callback URL."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let callback = webhook_url(state, provider);
    match subscriptions::create(&state.providers, api, &callback, verify).await {
        Ok(id) => {
            let id = id.to_string();
            audit_action(
                state,
                req,
                admin_id,
                event::OAUTH_SUBSCRIPTION_CREATED,
                true,
                serde_json::json!({ "provider": "strava", "subscription_id": id, "callback_url": callback }),
                Some((provider, Some(&id))),
            )
            .await?;
            Ok(redirect(req, &format!("{target}?done=subscribed")))
        }
        Err(refusal) => {
            // Already subscribed to this very URL (e.g. the id was lost): adopt it.
            if refusal.already_exists
                && let Ok(existing) = subscriptions::list(&state.providers, api).await
                && let Some(found) = existing.iter().find(|s| s.callback_url == callback)
            {
                let id = found.id.to_string();
                audit_action(
                    state,
                    req,
                    admin_id,
                    event::OAUTH_SUBSCRIPTION_CREATED,
                    true,
                    serde_json::json!({ "provider": "strava", "subscription_id": id, "adopted": true }),
                    Some((provider, Some(&id))),
                )
                .await?;
                return Ok(redirect(
                    req,
                    &format!("{target}?done=subscription_adopted"),
                ));
            }
            let outcome = refused(
                state,
                req,
                admin_id,
                event::OAUTH_SUBSCRIPTION_CREATED,
                "create",
                refusal,
            )
            .await?;
            with_outcome(ctx, state, provider, outcome, StatusCode::OK).await
        }
    }
}

async fn delete_subscription(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    admin_id: uuid::Uuid,
    provider: Provider,
    opened: &Opened,
    api: &subscriptions::App<'_>,
) -> Result<HttpResponse, AppError> {
    let target = format!("/admin/oauth-apps/{}", provider.as_str());
    let Some(id) = opened.app.subscription_id.clone() else {
        return with_outcome(
            ctx,
            state,
            provider,
            Outcome::error("No subscription is stored for this app: there is nothing to delete."),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match subscriptions::delete(&state.providers, api, &id).await {
        Ok(existed) => {
            audit_action(
                state,
                req,
                admin_id,
                event::OAUTH_SUBSCRIPTION_DELETED,
                true,
                serde_json::json!({ "provider": "strava", "subscription_id": id, "existed": existed }),
                Some((provider, None)),
            )
            .await?;
            let code = if existed {
                "unsubscribed"
            } else {
                "subscription_gone"
            };
            Ok(redirect(req, &format!("{target}?done={code}")))
        }
        Err(refusal) => {
            let outcome = refused(
                state,
                req,
                admin_id,
                event::OAUTH_SUBSCRIPTION_DELETED,
                "delete",
                refusal,
            )
            .await?;
            with_outcome(ctx, state, provider, outcome, StatusCode::OK).await
        }
    }
}

/// `POST /admin/oauth-apps/{provider}/test`: are the client id and secret
/// accepted, and what subscription does the provider have?
async fn test_credentials(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let provider = provider_of(&path)?;
    let loaded = load(&state, provider).await?;
    let opened = match open_app(&state, provider, loaded.app.as_ref()) {
        Ok(opened) => opened,
        Err(outcome) => {
            return with_outcome(
                ctx,
                &state,
                provider,
                outcome,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let api = subscriptions::App {
        api_base: &opened.app.api_base_url,
        client_id: &opened.app.client_id,
        client_secret: &opened.secret,
    };
    let outcome = match subscriptions::list(&state.providers, &api).await {
        Ok(found) => {
            let mut lines = Vec::new();
            let ours = webhook_url(&state, provider);
            if found.is_empty() {
                lines.push("Strava has no push subscription for this app.".to_owned());
            }
            for s in &found {
                let whose = if s.callback_url == ours {
                    "this instance's webhook URL"
                } else {
                    "another URL"
                };
                lines.push(format!(
                    "Push subscription {} at Strava sends events to {} ({whose}).",
                    s.id, s.callback_url
                ));
            }
            let stored = opened.app.subscription_id.as_deref();
            if stored.is_some_and(|id| !found.iter().any(|s| s.id.to_string() == id)) {
                lines.push("The subscription id stored here is not known to Strava: delete it here, then create a new one.".to_owned());
            }
            Outcome {
                tone: "success",
                title: "Strava accepted the client id and secret.".to_owned(),
                lines,
            }
        }
        Err(refusal) => Outcome {
            tone: "error",
            title: "The credentials test failed.".to_owned(),
            lines: vec![refusal.message],
        },
    };
    audit_action(
        &state,
        &req,
        admin.0.id(),
        event::OAUTH_APP_TESTED,
        outcome.tone == "success",
        serde_json::json!({ "provider": provider.as_str() }),
        None,
    )
    .await?;
    with_outcome(ctx, &state, provider, outcome, StatusCode::OK).await
}

/// Names of the fields that differ from the stored app (all of them for a
/// new app); a secret counts as changed whenever a new one was given.
fn changed_fields(old: Option<&AppRow>, new: &AppUpdate<'_>) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut check = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    check(
        "display_name",
        old.is_none_or(|o| o.display_name != new.display_name),
    );
    check(
        "client_id",
        old.is_none_or(|o| o.client_id != new.client_id),
    );
    check("client_secret", new.client_secret.is_some());
    check(
        "authorize_url",
        old.is_none_or(|o| o.authorize_url != new.authorize_url),
    );
    check(
        "token_url",
        old.is_none_or(|o| o.token_url != new.token_url),
    );
    check(
        "api_base_url",
        old.is_none_or(|o| o.api_base_url != new.api_base_url),
    );
    check("scopes", old.is_none_or(|o| o.scopes != new.scopes));
    check("webhook_verify_token", new.webhook_verify_token.is_some());
    check("enabled", old.is_none_or(|o| o.enabled != new.enabled));
    check(
        "rate_limits",
        old.is_none_or(|o| {
            (
                o.limit_short,
                o.limit_daily,
                o.read_limit_short,
                o.read_limit_daily,
            ) != (
                new.limit_short,
                new.limit_daily,
                new.read_limit_short,
                new.read_limit_daily,
            )
        }),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_need_https_except_on_loopback() {
        let ok = [
            "https://www.strava.com/oauth/token",
            "http://127.0.0.1:8090/oauth/token",
            "http://localhost:8090/api/v3",
            "http://[::1]:8090/",
            "http://sim.localhost/",
        ];
        for raw in ok {
            let mut errors = FieldErrors::default();
            endpoint_url(&mut errors, "token_url", "The token URL", raw);
            assert!(errors.is_empty(), "{raw}: {errors:?}");
        }
        let bad = [
            "",
            "www.strava.com/oauth/token",
            "http://www.strava.com/oauth/token",
            "http://10.0.0.1/",
            "ftp://localhost/",
            "https://user:pw@strava.com/",
            "https://strava.com/#x",
            "javascript:alert(1)",
        ];
        for raw in bad {
            let mut errors = FieldErrors::default();
            endpoint_url(&mut errors, "token_url", "The token URL", raw);
            assert!(errors.get("token_url").is_some(), "{raw} accepted");
        }
    }

    #[test]
    fn scopes_are_normalised_to_commas() {
        let mut errors = FieldErrors::default();
        assert_eq!(
            scopes_field(&mut errors, " read, activity:read_all  profile:read_all"),
            "read,activity:read_all,profile:read_all"
        );
        assert!(errors.is_empty());
        scopes_field(&mut errors, "read;drop");
        assert!(errors.get("scopes").is_some());
    }
}
