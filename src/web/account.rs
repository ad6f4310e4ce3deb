//! The signed-in home and the user's own settings: profile, security
//! (password, sessions), account deletion.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::auth::password::{self, Verified};
use crate::auth::session_store::SESSION_ID_KEY;
use crate::auth::{CurrentUser, describe_device, user_agent};
use crate::db::audit::{self, NewEvent, event};
use crate::db::users;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{FieldErrors, is_htmx, redirect, render_with_status, text_field};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings/profile")
            .route(web::get().to(profile_page))
            .route(web::post().to(update_profile)),
    )
    .service(web::resource("/settings/security").route(web::get().to(security_page)))
    .service(web::resource("/settings/password").route(web::post().to(change_password)))
    .service(web::resource("/settings/sessions/end").route(web::post().to(end_session)))
    .service(
        web::resource("/settings/sessions/end-others").route(web::post().to(end_other_sessions)),
    )
    .service(
        web::resource("/settings/account")
            .route(web::get().to(account_page))
            .route(web::post().to(delete_account)),
    );
}

use crate::auth::csrf::token_of as token;

/// An audit event the user causes on their own account.
fn own_event<'a>(
    user: &'a CurrentUser,
    event_type: &'a str,
    ip: &'a str,
    user_agent: &'a str,
) -> NewEvent<'a> {
    NewEvent {
        actor: Some(user.id()),
        subject: Some(user.id()),
        subject_email: Some(&user.user.email),
        event_type,
        ip,
        user_agent,
        success: true,
        ..NewEvent::default()
    }
}

/// The current session's stored id hash.
fn current_key_hash(user: &CurrentUser) -> Option<Vec<u8>> {
    user.session
        .get::<String>(SESSION_ID_KEY)
        .ok()
        .flatten()
        .and_then(|encoded| URL_SAFE_NO_PAD.decode(encoded).ok())
}

/// Time zones offered in the profile form (IANA names).
pub const TIME_ZONES: &[&str] = &[
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Brussels",
    "Europe/Zurich",
    "Europe/Vienna",
    "Europe/Stockholm",
    "Europe/Oslo",
    "Europe/Copenhagen",
    "Europe/Helsinki",
    "Europe/Warsaw",
    "Europe/Prague",
    "Europe/Ljubljana",
    "Europe/Athens",
    "Europe/Istanbul",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/Argentina/Buenos_Aires",
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
];

#[derive(Template)]
#[template(path = "account/profile.html", blocks = ["form"])]
struct ProfilePage {
    ctx: PageContext,
    csrf_token: String,
    user: CurrentUser,
    display_name: String,
    units: String,
    time_zones: Vec<(&'static str, &'static str)>,
    time_zone: String,
    errors: FieldErrors,
    saved: bool,
}

async fn profile_page(
    req: HttpRequest,
    ctx: PageContext,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = ProfilePage {
        ctx,
        csrf_token: token(&req),
        time_zones: tz_options(),
        time_zone: user.user.time_zone.clone(),
        display_name: user.user.display_name.clone(),
        units: user.user.units.clone(),
        user,
        errors: FieldErrors::default(),
        saved: false,
    };
    render_with_status(&page, StatusCode::OK)
}

fn tz_options() -> Vec<(&'static str, &'static str)> {
    TIME_ZONES.iter().map(|tz| (*tz, *tz)).collect()
}

#[derive(Debug, Deserialize)]
struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    units: String,
}

async fn update_profile(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<ProfileForm>,
) -> Result<HttpResponse, AppError> {
    let mut errors = FieldErrors::default();
    let display_name = text_field(
        &mut errors,
        "display_name",
        "Display name",
        &form.display_name,
        true,
        100,
    );
    let time_zone = form.time_zone.trim().to_owned();
    if !TIME_ZONES.contains(&time_zone.as_str()) {
        errors.add("time_zone", "Choose a time zone from the list.");
    }
    let units = form.units.trim().to_owned();
    if !matches!(units.as_str(), "metric" | "imperial") {
        errors.add("units", "Choose metric or imperial units.");
    }
    let saved = errors.is_empty();
    if saved {
        let mut tx = state.db.pool().begin().await?;
        users::update_profile(&mut tx, user.id(), &display_name, &time_zone, &units).await?;
        let ip = crate::auth::client_ip_text(&req, &state.settings);
        audit::record(
            &mut tx,
            own_event(&user, event::PROFILE_CHANGED, &ip, &user_agent(&req)),
        )
        .await?;
        tx.commit().await?;
    }
    let status = if saved {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ProfilePage {
        ctx,
        csrf_token: token(&req),
        user,
        display_name,
        time_zones: tz_options(),
        time_zone,
        units,
        errors,
        saved,
    };
    if is_htmx(&req) {
        render_with_status(&page.as_form(), status)
    } else {
        render_with_status(&page, status)
    }
}

/// One row of the sessions list.
#[derive(Debug)]
pub struct SessionView {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub started: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "account/security.html", blocks = ["password_form", "sessions"])]
struct SecurityPage {
    ctx: PageContext,
    csrf_token: String,
    sessions: Vec<SessionView>,
    errors: FieldErrors,
    notice: Option<String>,
}

async fn security_view(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: CurrentUser,
    errors: FieldErrors,
    notice: Option<String>,
) -> Result<SecurityPage, AppError> {
    let mut conn = state.db.conn().await?;
    let listed = users::sessions(&mut conn, user.id(), state.clock.now()).await;
    let rows = conn.check(listed)?;
    let current = current_key_hash(&user);
    let sessions = rows
        .into_iter()
        .map(|row| SessionView {
            current: current.as_deref() == Some(row.id_hash.as_slice()),
            id: URL_SAFE_NO_PAD.encode(&row.id_hash),
            device: describe_device(&row.user_agent),
            ip: row.ip,
            last_seen: row.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            started: row.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    Ok(SecurityPage {
        ctx,
        csrf_token: token(req),
        sessions,
        errors,
        notice,
    })
}

async fn security_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = security_view(&req, ctx, &state, user, FieldErrors::default(), None).await?;
    render_with_status(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let mut conn = state.db.conn().await?;
    let stored = users::password_hash(&mut conn, user.id()).await;
    let stored = conn.check(stored)?;
    drop(conn);
    let verified = if form.current_password.chars().count() > password::MAX_LEN {
        Verified::No
    } else {
        state.hasher.verify(form.current_password, stored).await?
    };
    if verified == Verified::No {
        errors.add("current_password", "That is not your current password.");
    }
    if let Err(message) = password::check_new_password(
        &form.new_password,
        &[&user.user.email, &user.user.display_name],
    ) {
        errors.add("new_password", message);
    }
    if !errors.is_empty() {
        let page = security_view(&req, ctx, &state, user, errors, None).await?;
        return if is_htmx(&req) {
            render_with_status(&page.as_password_form(), StatusCode::UNPROCESSABLE_ENTITY)
        } else {
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        };
    }
    let hash = state.hasher.hash(form.new_password).await?;
    let keep = current_key_hash(&user);
    let mut tx = state.db.pool().begin().await?;
    users::set_password_hash(&mut tx, user.id(), &hash).await?;
    let ended = users::end_sessions(&mut tx, user.id(), keep.as_deref()).await?;
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    audit::record(
        &mut tx,
        NewEvent {
            details: serde_json::json!({ "other_sessions_ended": ended }),
            ..own_event(&user, event::PASSWORD_CHANGED, &ip, &user_agent(&req))
        },
    )
    .await?;
    tx.commit().await?;
    let notice = if ended > 0 {
        format!("Password changed. {ended} other session(s) were signed out.")
    } else {
        "Password changed.".to_owned()
    };
    let page = security_view(
        &req,
        ctx,
        &state,
        user,
        FieldErrors::default(),
        Some(notice),
    )
    .await?;
    render_with_status(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct EndSessionForm {
    session: String,
}

async fn end_session(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<EndSessionForm>,
) -> Result<HttpResponse, AppError> {
    let id_hash = URL_SAFE_NO_PAD
        .decode(form.session.trim())
        .map_err(|_| AppError::NotFound)?;
    let mut tx = state.db.pool().begin().await?;
    if !users::end_session(&mut tx, user.id(), &id_hash).await? {
        return Err(AppError::NotFound);
    }
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    audit::record(
        &mut tx,
        own_event(&user, event::SESSION_ENDED, &ip, &user_agent(&req)),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/settings/security"))
}

async fn end_other_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let keep = current_key_hash(&user);
    let mut tx = state.db.pool().begin().await?;
    let ended = users::end_sessions(&mut tx, user.id(), keep.as_deref()).await?;
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    audit::record(
        &mut tx,
        NewEvent {
            details: serde_json::json!({ "ended": ended }),
            ..own_event(&user, event::SESSIONS_ENDED, &ip, &user_agent(&req))
        },
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/settings/security"))
}

#[derive(Template)]
#[template(path = "account/account.html", blocks = ["form"])]
struct AccountPage {
    ctx: PageContext,
    csrf_token: String,
    errors: FieldErrors,
}

async fn account_page(
    req: HttpRequest,
    ctx: PageContext,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = AccountPage {
        ctx,
        csrf_token: token(&req),
        errors: FieldErrors::default(),
    };
    drop(user);
    render_with_status(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    password: String,
}

async fn delete_account(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    session: Session,
    user: CurrentUser,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut conn = state.db.conn().await?;
    let stored = users::password_hash(&mut conn, user.id()).await;
    let stored = conn.check(stored)?;
    drop(conn);
    let verified = if form.password.chars().count() > password::MAX_LEN {
        Verified::No
    } else {
        state.hasher.verify(form.password, stored).await?
    };
    if verified == Verified::No {
        let mut errors = FieldErrors::default();
        errors.add(
            "password",
            "That is not your password. Your account was not deleted.",
        );
        let page = AccountPage {
            ctx,
            csrf_token: token(&req),
            errors,
        };
        return if is_htmx(&req) {
            render_with_status(&page.as_form(), StatusCode::UNPROCESSABLE_ENTITY)
        } else {
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        };
    }
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    let mut tx = state.db.pool().begin().await?;
    audit::record(
        &mut tx,
        NewEvent {
            actor: None,
            subject: None,
            subject_email: Some(&user.user.email),
            event_type: event::ACCOUNT_DELETED,
            ip: &ip,
            user_agent: &user_agent(&req),
            success: true,
            details: serde_json::json!({ "user_id": user.id() }),
        },
    )
    .await?;
    users::delete(&mut tx, user.id()).await?;
    tx.commit().await?;
    session.purge();
    crate::auth::csrf::rotate(&req, &state.settings);
    Ok(redirect(&req, "/?deleted=1"))
}
