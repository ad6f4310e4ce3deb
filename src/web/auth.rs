//! Sign-up, sign-in and sign-out.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::TimeDelta;
use serde::Deserialize;

use crate::auth::csrf::{self};
use crate::auth::password::{self, Verified};
use crate::auth::session_store::{IP_KEY, USER_AGENT_KEY, USER_ID_KEY};
use crate::auth::{MaybeUser, Role, safe_next, user_agent};
use crate::db::attempts::{self, Limit, Scope};
use crate::db::audit::{self, NewEvent, event};
use crate::db::users::{self, Created};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{FieldErrors, email_field, redirect, render_with_status, text_field};
use crate::web::layout::PageContext;

/// Failed sign-ins per account per hour (SECURITY.md).
pub const ACCOUNT_LIMIT: Limit = Limit {
    max: 100,
    window: TimeDelta::hours(1),
};
/// Failed sign-ins per client IP per 15 minutes.
pub const IP_LIMIT: Limit = Limit {
    max: 50,
    window: TimeDelta::minutes(15),
};
/// Sign-ups per client IP per hour.
pub const SIGNUP_LIMIT: Limit = Limit {
    max: 20,
    window: TimeDelta::hours(1),
};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/signup")
            .route(web::get().to(signup_page))
            .route(web::post().to(signup)),
    )
    .service(
        web::resource("/login")
            .route(web::get().to(login_page))
            .route(web::post().to(login)),
    )
    .service(web::resource("/logout").route(web::post().to(logout)));
}

use crate::auth::csrf::token_of as token;

#[derive(Template)]
#[template(path = "auth/signup.html", blocks = ["form"])]
struct SignupPage {
    ctx: PageContext,
    csrf_token: String,
    email: String,
    display_name: String,
    errors: FieldErrors,
}

#[derive(Debug, Deserialize)]
struct SignupForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
}

async fn signup_page(
    req: HttpRequest,
    ctx: PageContext,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    if user.0.is_some() {
        return Ok(redirect(&req, "/dashboard"));
    }
    let page = SignupPage {
        ctx,
        csrf_token: token(&req),
        email: String::new(),
        display_name: String::new(),
        errors: FieldErrors::default(),
    };
    render_with_status(&page, StatusCode::OK)
}

async fn signup(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<SignupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let email = email_field(&mut errors, "email", &form.email);
    let display_name = text_field(
        &mut errors,
        "display_name",
        "Display name",
        &form.display_name,
        true,
        100,
    );
    if let Err(message) = password::check_new_password(&form.password, &[&email, &display_name]) {
        errors.add("password", message);
    }
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    let now = state.clock.now();

    let mut conn = state.db.conn().await?;
    let blocked = attempts::blocked_for(&mut conn, Scope::SignupIp, &ip, SIGNUP_LIMIT, now).await;
    if let Some(wait) = conn.check(blocked)? {
        return Err(AppError::TooManyRequests(wait));
    }
    let recorded = attempts::record(&mut conn, Scope::SignupIp, &ip, now).await;
    conn.check(recorded)?;

    let rerender = |errors: FieldErrors| {
        let page = SignupPage {
            ctx: ctx.clone(),
            csrf_token: token(&req),
            email: email.clone(),
            display_name: display_name.clone(),
            errors,
        };
        if crate::web::forms::is_htmx(&req) {
            render_with_status(&page.as_form(), StatusCode::UNPROCESSABLE_ENTITY)
        } else {
            render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
    };
    if !errors.is_empty() {
        return rerender(errors);
    }

    let hash = state.hasher.hash(form.password).await?;
    let mut tx = state.db.pool().begin().await?;
    let created = users::create(
        &mut tx,
        &email,
        &display_name,
        &hash,
        &[Role::Athlete.as_str()],
    )
    .await?;
    let Created::Yes(user_id) = created else {
        drop(tx);
        let mut errors = FieldErrors::default();
        errors.add(
            "email",
            "An account with this email already exists. Sign in instead, or use another address.",
        );
        return rerender(errors);
    };
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(user_id),
            subject: Some(user_id),
            subject_email: Some(&email),
            event_type: event::SIGNUP,
            ip: &ip,
            user_agent: &agent,
            success: true,
            ..NewEvent::default()
        },
    )
    .await?;
    tx.commit().await?;

    start_session(&req, &state, &session, user_id, &ip, &agent)?;
    Ok(redirect(&req, "/dashboard"))
}

/// Make this browser signed in as `user_id`: a new session id (no fixation),
/// a new CSRF seed.
fn start_session(
    req: &HttpRequest,
    state: &AppState,
    session: &Session,
    user_id: uuid::Uuid,
    ip: &str,
    agent: &str,
) -> Result<(), AppError> {
    session.renew();
    session.clear();
    session
        .insert(USER_ID_KEY, user_id.to_string())
        .map_err(AppError::internal)?;
    session
        .insert(USER_AGENT_KEY, agent)
        .map_err(AppError::internal)?;
    session.insert(IP_KEY, ip).map_err(AppError::internal)?;
    csrf::rotate(req, &state.settings);
    Ok(())
}

#[derive(Template)]
#[template(path = "auth/login.html", blocks = ["form"])]
struct LoginPage {
    ctx: PageContext,
    csrf_token: String,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login_page(
    req: HttpRequest,
    ctx: PageContext,
    user: MaybeUser,
    query: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let next = safe_next(query.next.as_deref()).unwrap_or_default();
    if user.0.is_some() {
        return Ok(redirect(
            &req,
            if next.is_empty() { "/dashboard" } else { &next },
        ));
    }
    let page = LoginPage {
        ctx,
        csrf_token: token(&req),
        email: String::new(),
        next,
        error: None,
    };
    render_with_status(&page, StatusCode::OK)
}

const WRONG_CREDENTIALS: &str = "The email or password is not right. Check both and try again.";

async fn login(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let next = safe_next(form.next.as_deref()).unwrap_or_default();
    let email: String = form.email.trim().chars().take(254).collect();
    let ip = crate::auth::client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    let now = state.clock.now();
    let account_key = users::normalize_email(&email);

    let rerender = |error: String, status: StatusCode| {
        let page = LoginPage {
            ctx: ctx.clone(),
            csrf_token: token(&req),
            email: email.clone(),
            next: next.clone(),
            error: Some(error),
        };
        if crate::web::forms::is_htmx(&req) {
            render_with_status(&page.as_form(), status)
        } else {
            render_with_status(&page, status)
        }
    };
    if email.is_empty() || form.password.is_empty() {
        return rerender(
            "Enter your email and password.".to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    if form.password.chars().count() > password::MAX_LEN {
        return rerender(
            WRONG_CREDENTIALS.to_owned(),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }

    let mut conn = state.db.conn().await?;
    for (scope, key, limit) in [
        (Scope::LoginIp, ip.as_str(), IP_LIMIT),
        (Scope::LoginAccount, account_key.as_str(), ACCOUNT_LIMIT),
    ] {
        let blocked = attempts::blocked_for(&mut conn, scope, key, limit, now).await;
        if let Some(wait) = conn.check(blocked)? {
            return Err(AppError::TooManyRequests(wait));
        }
    }
    let found = users::credentials_by_email(&mut conn, &email).await;
    let credentials = conn.check(found)?;
    // Release the connection while hashing (~60 ms).
    drop(conn);
    let verified = state
        .hasher
        .verify(
            form.password.clone(),
            credentials.as_ref().map(|c| c.password_hash.clone()),
        )
        .await?;

    let mut tx = state.db.pool().begin().await?;
    let success = verified != Verified::No;
    let mut event = NewEvent {
        actor: credentials.as_ref().map(|c| c.id),
        subject: credentials.as_ref().map(|c| c.id),
        subject_email: Some(&account_key),
        event_type: event::LOGIN,
        ip: &ip,
        user_agent: &agent,
        success,
        ..NewEvent::default()
    };
    let Some(user) = credentials.filter(|_| success) else {
        {
            attempts::record(&mut tx, Scope::LoginAccount, &account_key, now).await?;
            attempts::record(&mut tx, Scope::LoginIp, &ip, now).await?;
            event.details = serde_json::json!({ "reason": "wrong email or password" });
            audit::record(&mut tx, event).await?;
            tx.commit().await?;
            return rerender(
                WRONG_CREDENTIALS.to_owned(),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    if user.disabled {
        event.success = false;
        event.details = serde_json::json!({ "reason": "account disabled" });
        audit::record(&mut tx, event).await?;
        tx.commit().await?;
        return rerender(
            "This account has been disabled. Contact your Pierre administrator to have it re-enabled.".to_owned(),
            StatusCode::FORBIDDEN,
        );
    }
    if let Verified::YesRehashed(new_hash) = verified {
        users::set_password_hash(&mut tx, user.id, &new_hash).await?;
    }
    audit::record(&mut tx, event).await?;
    tx.commit().await?;

    start_session(&req, &state, &session, user.id, &ip, &agent)?;
    let target = if next.is_empty() {
        "/dashboard".to_owned()
    } else {
        next
    };
    Ok(redirect(&req, &target))
}

/// `POST /logout`: end this session for good.
async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    user: MaybeUser,
) -> Result<HttpResponse, AppError> {
    if let Some(user) = user.0 {
        let ip = crate::auth::client_ip_text(&req, &state.settings);
        let agent = user_agent(&req);
        let mut conn = state.db.conn().await?;
        let recorded = audit::record(
            &mut conn,
            NewEvent {
                actor: Some(user.id()),
                subject: Some(user.id()),
                subject_email: Some(&user.user.email),
                event_type: event::LOGOUT,
                ip: &ip,
                user_agent: &agent,
                success: true,
                ..NewEvent::default()
            },
        )
        .await;
        conn.check(recorded)?;
    }
    session.purge();
    csrf::rotate(&req, &state.settings);
    Ok(redirect(&req, "/"))
}
