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
    connected: i64,
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

struct Loaded {
    app: Option<AppRow>,
    connected: i64,
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
    Ok(Loaded { app, connected })
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
        connected: loaded.connected,
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
