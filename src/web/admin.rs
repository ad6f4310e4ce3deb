//! Administration: the users list and one user's page with its actions, and
//! the audit log. Every route needs an admin ([`RequireAdmin`]).
//!
//! * Lists (`/admin/users`, `/admin/audit`) are GET forms with plain links for
//!   paging; htmx requests get only the `rows` block of the same template
//!   (and push the URL, so it stays shareable and the back button works).
//! * Actions are plain POST forms carrying the anti-forgery token. Each runs in
//!   one transaction with its audit row (actor = the admin, subject = the
//!   user), then redirects back with a fixed notice code. An action that
//!   changes nothing (granting a role already held…) writes nothing and says so.
//! * An admin cannot disable or delete their own account, nor revoke their own
//!   admin role: refused with a message, and the refusal is audited.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{CurrentUser, RequireAdmin, Role, client_ip, describe_device, user_agent};
use crate::db::audit::{self, EventRow, NewEvent, event};
use crate::db::users::{self, UserRow};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{FieldErrors, is_htmx, parse_id, redirect, render_with_status};
use crate::web::layout::PageContext;

/// Rows per page of the users list and the audit log.
pub const PAGE_SIZE: i64 = 25;
/// Highest page number accepted (keeps OFFSET bounded).
const MAX_PAGE: i64 = 10_000;
/// Longest search text accepted.
const MAX_SEARCH: usize = 254;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin").route(web::get().to(home)))
        .service(web::resource("/admin/users").route(web::get().to(users_page)))
        .service(web::resource("/admin/users/{id}").route(web::get().to(user_page)))
        .service(web::resource("/admin/users/{id}/roles").route(web::post().to(change_role)))
        .service(web::resource("/admin/users/{id}/disable").route(web::post().to(disable)))
        .service(web::resource("/admin/users/{id}/enable").route(web::post().to(enable)))
        .service(
            web::resource("/admin/users/{id}/sessions/end").route(web::post().to(end_sessions)),
        )
        .service(web::resource("/admin/users/{id}/delete").route(web::post().to(delete)))
        .service(web::resource("/admin/audit").route(web::get().to(audit_page)));
}

use crate::auth::csrf::token_of as token;

/// Whether to answer with the `rows` fragment: an htmx request, except
/// htmx's history restore, which needs the whole page.
pub(crate) fn wants_fragment(req: &HttpRequest) -> bool {
    is_htmx(req) && !req.headers().contains_key("hx-history-restore-request")
}

/// Render, marking the response private and dependent on `HX-Request`
/// (the same URL answers a page or a fragment).
pub(crate) fn respond(
    template: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut res = render_with_status(template, status)?;
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("HX-Request"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// A 1-based page number from the query; anything odd means page 1.
pub(crate) fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, MAX_PAGE)
}

/// Links of a paged list.
#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub first_item: i64,
    pub last_item: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `params` are the list's filters (empty ones are left out of the links).
    pub(crate) fn new(
        path: &str,
        params: &[(&str, &str)],
        page: i64,
        total: i64,
        shown: usize,
    ) -> Self {
        let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        let first_item = if shown == 0 {
            0
        } else {
            (page - 1) * PAGE_SIZE + 1
        };
        let shown = i64::try_from(shown).unwrap_or(PAGE_SIZE);
        let href = |page: i64| list_href(path, params, page);
        Self {
            page,
            pages,
            total,
            first_item,
            last_item: (first_item + shown - 1).max(0),
            prev: (page > 1).then(|| href((page - 1).min(pages))),
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

/// `path?k=v&…&page=n`, leaving out empty values and page 1.
fn list_href(path: &str, params: &[(&str, &str)], page: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in params.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
    }
    if page > 1 {
        query.append_pair("page", &page.to_string());
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

/// The message for a notice code put in the URL by a redirect after an action.
fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "role_granted" => "Role granted. It applies from the user's next request.",
        "role_revoked" => "Role revoked. It applies from the user's next request.",
        "disabled" => "Account disabled. All of its sessions were ended.",
        "enabled" => "Account enabled. The user can sign in again.",
        "sessions_ended" => "All of this user's sessions were ended.",
        "no_sessions" => "This user had no sessions to end.",
        "unchanged" => "Nothing to change: the account was already in that state.",
        "deleted" => "The user and everything they owned were deleted.",
        _ => return None,
    })
}

async fn home(_admin: RequireAdmin, req: HttpRequest) -> HttpResponse {
    redirect(&req, "/admin/users")
}

// ---------------------------------------------------------------- users list

/// One row of the users list.
#[derive(Debug)]
pub struct UserListRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub disabled: bool,
    pub sessions: i64,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/users.html", blocks = ["rows"])]
struct UsersPage {
    ctx: PageContext,
    q: String,
    rows: Vec<UserListRow>,
    pager: Pager,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct UsersQuery {
    q: Option<String>,
    page: Option<String>,
    done: Option<String>,
}

async fn users_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let q: String = query
        .q
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_SEARCH)
        .collect();
    let page = page_number(query.page.as_deref());
    let mut conn = state.db.conn().await?;
    let found = users::search(&mut conn, &q, PAGE_SIZE, (page - 1) * PAGE_SIZE).await;
    let (found, mut total) = conn.check(found)?;
    if found.is_empty() && page > 1 {
        // Past the last page: the window count came back empty too.
        let counted = users::search(&mut conn, &q, 1, 0).await;
        total = conn.check(counted)?.1;
    }
    drop(conn);
    let rows: Vec<UserListRow> = found
        .into_iter()
        .map(|user| UserListRow {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            roles: user.roles,
            disabled: user.disabled_at.is_some(),
            sessions: user.session_count,
            created: user.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    let pager = Pager::new("/admin/users", &[("q", &q)], page, total, rows.len());
    let page = UsersPage {
        ctx,
        q,
        rows,
        pager,
        notice: notice(query.done.as_deref()),
    };
    if wants_fragment(&req) {
        respond(&page.as_rows(), StatusCode::OK)
    } else {
        respond(&page, StatusCode::OK)
    }
}

// ----------------------------------------------------------------- one user

/// One user as their admin page shows them.
#[derive(Debug)]
pub struct UserView {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub disabled_since: Option<String>,
    pub created: String,
}

/// A role and whether the user holds it.
#[derive(Debug)]
pub struct RoleView {
    pub name: &'static str,
    pub held: bool,
}

/// One live session of the user.
#[derive(Debug)]
pub struct SessionView {
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub started: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    ctx: PageContext,
    csrf_token: String,
    user: UserView,
    roles: Vec<RoleView>,
    sessions: Vec<SessionView>,
    is_self: bool,
    audit_href: String,
    notice: Option<&'static str>,
    error: Option<String>,
    errors: FieldErrors,
    /// Coaching links and invitations (`admin_sharing`).
    coaching: crate::web::admin_sharing::UserCoaching,
}

#[derive(Debug, Deserialize)]
struct UserQuery {
    done: Option<String>,
}

/// Ids in URLs that do not parse are just another missing page.
/// What the user page says about the last action.
#[derive(Debug, Default)]
struct Feedback {
    notice: Option<&'static str>,
    error: Option<String>,
    errors: FieldErrors,
}

impl Feedback {
    fn error(message: &str) -> Self {
        Self {
            error: Some(message.to_owned()),
            ..Self::default()
        }
    }
}

/// The user page, with what to say about the last action.
async fn user_view(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    admin: &CurrentUser,
    id: Uuid,
    feedback: Feedback,
) -> Result<UserPage, AppError> {
    let mut conn = state.db.conn().await?;
    let found = users::by_id(&mut conn, id).await;
    let user = conn.check(found)?.ok_or(AppError::NotFound)?;
    let listed = users::sessions(&mut conn, id, state.clock.now()).await;
    let sessions = conn
        .check(listed)?
        .into_iter()
        .map(|s| SessionView {
            device: describe_device(&s.user_agent),
            ip: s.ip,
            last_seen: s.last_seen_at.format("%Y-%m-%d %H:%M UTC").to_string(),
            started: s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        })
        .collect();
    let coaching =
        crate::web::admin_sharing::user_coaching(&mut conn, &user, state.clock.now()).await?;
    drop(conn);
    let roles = Role::ALL
        .into_iter()
        .map(|role| RoleView {
            name: role.as_str(),
            held: user.roles.iter().any(|r| r == role.as_str()),
        })
        .collect();
    Ok(UserPage {
        ctx,
        csrf_token: token(req),
        audit_href: list_href("/admin/audit", &[("user", &user.email)], 1),
        is_self: admin.id() == user.id,
        user: UserView {
            id: user.id,
            email: user.email,
            display_name: user.display_name,
            disabled_since: user
                .disabled_at
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string()),
            created: user.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        },
        roles,
        sessions,
        notice: feedback.notice,
        error: feedback.error,
        errors: feedback.errors,
        coaching,
    })
}

async fn user_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
    query: web::Query<UserQuery>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let page = user_view(
        &req,
        ctx,
        &state,
        &admin.0,
        id,
        Feedback {
            notice: notice(query.done.as_deref()),
            ..Feedback::default()
        },
    )
    .await?;
    respond(&page, StatusCode::OK)
}

/// Who acts, from where: what every admin audit row carries.
struct Acting {
    admin: Uuid,
    ip: String,
    agent: String,
}

impl Acting {
    fn new(req: &HttpRequest, state: &AppState, admin: &CurrentUser) -> Self {
        Self {
            admin: admin.id(),
            ip: client_ip(req, &state.settings)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            agent: user_agent(req),
        }
    }

    fn event<'a>(
        &'a self,
        user: &'a UserRow,
        event_type: &'a str,
        success: bool,
        details: serde_json::Value,
    ) -> NewEvent<'a> {
        NewEvent {
            actor: Some(self.admin),
            subject: Some(user.id),
            subject_email: Some(&user.email),
            event_type,
            ip: &self.ip,
            user_agent: &self.agent,
            success,
            details,
        }
    }
}

/// Refuse an action on the admin's own account: audit the refusal, show the
/// user page with the reason (422).
async fn refuse_self(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    admin: &CurrentUser,
    event_type: &str,
    message: &str,
) -> Result<HttpResponse, AppError> {
    let acting = Acting::new(req, state, admin);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, admin.id())
        .await?
        .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        acting.event(
            &user,
            event_type,
            false,
            serde_json::json!({ "reason": "an admin cannot do this to their own account" }),
        ),
    )
    .await?;
    tx.commit().await?;
    let page = user_view(req, ctx, state, admin, admin.id(), Feedback::error(message)).await?;
    respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
}

fn done(req: &HttpRequest, id: Uuid, code: &str) -> HttpResponse {
    redirect(req, &format!("/admin/users/{id}?done={code}"))
}

#[derive(Debug, Deserialize)]
struct RoleForm {
    #[serde(default)]
    role: String,
    #[serde(default)]
    action: String,
}

async fn change_role(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
    form: web::Form<RoleForm>,
) -> Result<HttpResponse, AppError> {
    let admin = admin.0;
    let id = parse_id(&path)?;
    let grant = match form.action.as_str() {
        "grant" => true,
        "revoke" => false,
        _ => {
            return Err(AppError::BadRequest(
                "The action must be grant or revoke.".to_owned(),
            ));
        }
    };
    let Ok(role) = Role::parse(&form.role) else {
        let page = user_view(
            &req,
            ctx,
            &state,
            &admin,
            id,
            Feedback::error("Choose athlete, coach or admin."),
        )
        .await?;
        return respond(&page, StatusCode::UNPROCESSABLE_ENTITY);
    };
    if !grant && role == Role::Admin && id == admin.id() {
        return refuse_self(
            &req,
            ctx,
            &state,
            &admin,
            event::ROLE_REVOKED,
            "You cannot remove your own admin role. Ask another administrator to do it.",
        )
        .await;
    }
    let acting = Acting::new(&req, &state, &admin);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let changed = if grant {
        users::grant_role(&mut tx, id, role.as_str()).await?
    } else {
        users::revoke_role(&mut tx, id, role.as_str()).await?
    };
    if !changed {
        return Ok(done(&req, id, "unchanged"));
    }
    let (event_type, code) = if grant {
        (event::ROLE_GRANTED, "role_granted")
    } else {
        (event::ROLE_REVOKED, "role_revoked")
    };
    audit::record(
        &mut tx,
        acting.event(
            &user,
            event_type,
            true,
            serde_json::json!({ "role": role.as_str() }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(done(&req, id, code))
}

async fn disable(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let admin = admin.0;
    let id = parse_id(&path)?;
    if id == admin.id() {
        return refuse_self(
            &req,
            ctx,
            &state,
            &admin,
            event::USER_DISABLED,
            "You cannot disable your own account. Ask another administrator to do it.",
        )
        .await;
    }
    let acting = Acting::new(&req, &state, &admin);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if user.disabled_at.is_some() {
        return Ok(done(&req, id, "unchanged"));
    }
    // Counted here for the audit row; `set_disabled` ends any left as well.
    let ended = users::end_sessions(&mut tx, id, None).await?;
    users::set_disabled(&mut tx, id, true).await?;
    audit::record(
        &mut tx,
        acting.event(
            &user,
            event::USER_DISABLED,
            true,
            serde_json::json!({ "sessions_ended": ended }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(done(&req, id, "disabled"))
}

async fn enable(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let acting = Acting::new(&req, &state, &admin.0);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if user.disabled_at.is_none() {
        return Ok(done(&req, id, "unchanged"));
    }
    users::set_disabled(&mut tx, id, false).await?;
    audit::record(
        &mut tx,
        acting.event(&user, event::USER_ENABLED, true, serde_json::json!({})),
    )
    .await?;
    tx.commit().await?;
    Ok(done(&req, id, "enabled"))
}

async fn end_sessions(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let acting = Acting::new(&req, &state, &admin.0);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let ended = users::end_sessions(&mut tx, id, None).await?;
    if ended == 0 {
        return Ok(done(&req, id, "no_sessions"));
    }
    audit::record(
        &mut tx,
        acting.event(
            &user,
            event::SESSIONS_ENDED,
            true,
            serde_json::json!({ "ended": ended, "by_admin": true }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(done(&req, id, "sessions_ended"))
}

#[derive(Debug, Deserialize)]
struct DeleteForm {
    #[serde(default)]
    confirm_email: String,
}

async fn delete(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
    form: web::Form<DeleteForm>,
) -> Result<HttpResponse, AppError> {
    let admin = admin.0;
    let id = parse_id(&path)?;
    if id == admin.id() {
        return refuse_self(
            &req,
            ctx,
            &state,
            &admin,
            event::USER_DELETED,
            "You cannot delete your own account from here. Ask another administrator, or use Settings → Account.",
        )
        .await;
    }
    let acting = Acting::new(&req, &state, &admin);
    let mut tx = state.db.pool().begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if users::normalize_email(&form.confirm_email) != users::normalize_email(&user.email) {
        drop(tx);
        let mut errors = FieldErrors::default();
        errors.add(
            "confirm_email",
            "Type the user's email address exactly to confirm. Nothing was deleted.",
        );
        let feedback = Feedback {
            errors,
            ..Feedback::default()
        };
        let page = user_view(&req, ctx, &state, &admin, id, feedback).await?;
        return respond(&page, StatusCode::UNPROCESSABLE_ENTITY);
    }
    audit::record(
        &mut tx,
        acting.event(
            &user,
            event::USER_DELETED,
            true,
            serde_json::json!({ "display_name": user.display_name, "roles": user.roles }),
        ),
    )
    .await?;
    users::delete(&mut tx, id).await?;
    tx.commit().await?;
    Ok(redirect(&req, "/admin/users?done=deleted"))
}

// ---------------------------------------------------------------- audit log

/// One event as the audit page shows it.
#[derive(Debug)]
pub struct EventView {
    pub time: String,
    pub actor: String,
    pub subject: String,
    pub event_type: String,
    pub success: bool,
    pub ip: String,
    pub device: String,
    pub details: String,
}

impl From<EventRow> for EventView {
    fn from(row: EventRow) -> Self {
        let from_cli = row.details.get("via").and_then(|v| v.as_str()) == Some("cli");
        Self {
            time: row.occurred_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            actor: row.actor_email.unwrap_or_else(|| {
                if from_cli {
                    "command line".to_owned()
                } else {
                    "—".to_owned()
                }
            }),
            subject: row.subject_email.unwrap_or_else(|| "—".to_owned()),
            event_type: row.event_type,
            success: row.outcome == "success",
            ip: if row.ip.is_empty() {
                "—".to_owned()
            } else {
                row.ip
            },
            device: if row.user_agent.is_empty() {
                "—".to_owned()
            } else {
                describe_device(&row.user_agent)
            },
            details: describe_details(&row.details),
        }
    }
}

/// `{"role":"admin","ended":2}` → `ended: 2, role: admin`.
fn describe_details(details: &serde_json::Value) -> String {
    let Some(map) = details.as_object() else {
        return details.to_string();
    };
    map.iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(text) => format!("{key}: {text}"),
            serde_json::Value::Array(items) => format!(
                "{key}: {}",
                items
                    .iter()
                    .map(|item| item
                        .as_str()
                        .map_or_else(|| item.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => format!("{key}: {other}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Template)]
#[template(path = "admin/audit.html", blocks = ["rows"])]
struct AuditPage {
    ctx: PageContext,
    user: String,
    event_type: String,
    from: String,
    to: String,
    event_types: &'static [&'static str],
    rows: Vec<EventView>,
    pager: Pager,
    errors: FieldErrors,
    problems: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct AuditQuery {
    user: Option<String>,
    event: Option<String>,
    from: Option<String>,
    to: Option<String>,
    page: Option<String>,
}

/// Start of a day, UTC.
const fn day_start(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

fn date_field(
    errors: &mut FieldErrors,
    problems: &mut Vec<String>,
    field: &'static str,
    label: &str,
    value: &str,
) -> Option<NaiveDate> {
    if value.is_empty() {
        return None;
    }
    let parsed = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok();
    if parsed.is_none() {
        let message = format!("{label}: enter a date like 2026-01-31.");
        errors.add(field, message.clone());
        problems.push(message);
    }
    parsed
}

async fn audit_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let clean = |value: Option<String>, max: usize| -> String {
        value
            .unwrap_or_default()
            .trim()
            .chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect()
    };
    let user = clean(query.user, MAX_SEARCH);
    let event_type = clean(query.event, 64);
    let from = clean(query.from, 10);
    let to = clean(query.to, 10);
    let page = page_number(query.page.as_deref());

    let mut errors = FieldErrors::default();
    let mut problems = Vec::new();
    if !event_type.is_empty() && !event::ALL.contains(&event_type.as_str()) {
        let message = "Event: choose an event type from the list.".to_owned();
        errors.add("event", message.clone());
        problems.push(message);
    }
    let from_date = date_field(&mut errors, &mut problems, "from", "From", &from);
    let to_date = date_field(&mut errors, &mut problems, "to", "To", &to);
    if let (Some(start), Some(end)) = (from_date, to_date)
        && end < start
    {
        let message = "To: the end date must be on or after the start date.".to_owned();
        errors.add("to", message.clone());
        problems.push(message);
    }

    let (rows, total) = if problems.is_empty() {
        let filter = audit::Filter {
            user: (!user.is_empty()).then(|| user.clone()),
            event_type: (!event_type.is_empty()).then(|| event_type.clone()),
            from: from_date.map(day_start),
            // "To" includes that whole day.
            until: to_date.and_then(|d| d.succ_opt()).map(day_start),
        };
        let mut conn = state.db.conn().await?;
        let found = audit::search(&mut conn, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await;
        let (found, mut total) = conn.check(found)?;
        if found.is_empty() && page > 1 {
            let counted = audit::search(&mut conn, &filter, 1, 0).await;
            total = conn.check(counted)?.1;
        }
        (
            found.into_iter().map(EventView::from).collect::<Vec<_>>(),
            total,
        )
    } else {
        (Vec::new(), 0)
    };
    let pager = Pager::new(
        "/admin/audit",
        &[
            ("user", &user),
            ("event", &event_type),
            ("from", &from),
            ("to", &to),
        ],
        page,
        total,
        rows.len(),
    );
    let invalid = !problems.is_empty();
    let page = AuditPage {
        ctx,
        user,
        event_type,
        from,
        to,
        event_types: event::ALL,
        rows,
        pager,
        errors,
        problems,
    };
    if wants_fragment(&req) {
        // htmx swaps only 2xx answers: the fragment carries the problems itself.
        respond(&page.as_rows(), StatusCode::OK)
    } else if invalid {
        respond(&page, StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        respond(&page, StatusCode::OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_links_keep_filters_and_leave_out_empty_ones() {
        assert_eq!(list_href("/admin/users", &[("q", "")], 1), "/admin/users");
        assert_eq!(
            list_href("/admin/users", &[("q", "a&b c")], 3),
            "/admin/users?q=a%26b+c&page=3"
        );
    }

    #[test]
    fn pager_counts_pages_and_items() {
        let pager = Pager::new("/x", &[], 2, 31, 6);
        assert_eq!(
            (pager.pages, pager.first_item, pager.last_item),
            (2, 26, 31)
        );
        assert_eq!(pager.prev.as_deref(), Some("/x"));
        assert_eq!(pager.next, None);
        let empty = Pager::new("/x", &[], 1, 0, 0);
        assert_eq!((empty.pages, empty.first_item, empty.last_item), (1, 0, 0));
        assert_eq!((empty.prev, empty.next), (None, None));
    }

    #[test]
    fn odd_page_numbers_mean_the_first_page() {
        assert_eq!(page_number(None), 1);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(Some("-4")), 1);
        assert_eq!(page_number(Some("7")), 7);
        assert_eq!(page_number(Some("99999999")), MAX_PAGE);
    }

    #[test]
    fn details_read_as_text() {
        assert_eq!(
            describe_details(
                &serde_json::json!({"role": "admin", "ended": 2, "roles": ["a", "b"]})
            ),
            "ended: 2; role: admin; roles: a, b"
        );
        assert_eq!(describe_details(&serde_json::json!({})), "");
    }

    #[test]
    fn unknown_notice_codes_show_nothing() {
        assert!(notice(Some("deleted")).is_some());
        assert_eq!(notice(Some("<script>")), None);
        assert_eq!(notice(None), None);
    }
}
