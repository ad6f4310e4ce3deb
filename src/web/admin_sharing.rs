//! Administration of sharing: a user's coaching links and invitations (on
//! their admin page) and, per source, whether coaches may see its activities.
//!
//! Changing a source's visibility queues, in the same transaction, a
//! [`jobs::REBUILD_COACH`] job that rebuilds the coach-scope summaries of every
//! athlete with activities of that source (in batches, with progress the page
//! polls): the change is durable even if the instance stops halfway, and the
//! request does not grow with the instance. Coach views filter activities by
//! the visibility at query time, so only the coach *figures* wait for the job.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::{RequireAdmin, client_ip_text, user_agent};
use crate::db::audit::{self, NewEvent, event};
use chrono::{DateTime, TimeDelta, Utc};

use crate::db::coaching::{self, Kind};
use crate::db::jobs;
use crate::db::users::{self, UserRow};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::admin::respond;
use crate::web::format;
use crate::web::forms::redirect;
use crate::web::layout::PageContext;
use crate::web::thresholds::{Phase, RecomputeView};

/// Invitations listed on a user's admin page.
const MAX_INVITATIONS: i64 = 50;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/sharing")
            .route(web::get().to(sharing_page))
            .route(web::post().to(set_visibility)),
    );
    cfg.service(web::resource("/admin/sharing/rebuild").route(web::get().to(rebuild_status)));
}

use crate::auth::csrf::token_of as token;

/// A link as the admin sees it.
#[derive(Debug)]
pub struct AdminLink {
    pub other_id: uuid::Uuid,
    pub other_email: String,
    pub access: &'static str,
    pub since: String,
}

/// An invitation as the admin sees it.
#[derive(Debug)]
pub struct AdminInvitation {
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    pub access: &'static str,
    pub state: String,
    pub created: String,
}

/// A user's coaching, for their admin page.
#[derive(Debug, Default)]
pub struct UserCoaching {
    /// Coaches who see this user.
    pub coaches: Vec<AdminLink>,
    /// Athletes this user coaches.
    pub athletes: Vec<AdminLink>,
    pub invitations: Vec<AdminInvitation>,
}

/// Load a user's links and invitations (three queries).
///
/// # Errors
/// Database errors.
pub async fn user_coaching(
    conn: &mut crate::db::Conn,
    user: &UserRow,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<UserCoaching, AppError> {
    let view = |links: Vec<coaching::Link>| {
        links
            .into_iter()
            .map(|l| AdminLink {
                other_id: if l.coach_id == user.id {
                    l.athlete_id
                } else {
                    l.coach_id
                },
                other_email: l.other_email,
                access: l.access.label(),
                since: l.since.format("%Y-%m-%d").to_string(),
            })
            .collect::<Vec<_>>()
    };
    let coaches = coaching::coaches_of(conn, user.id).await;
    let coaches = view(conn.check(coaches)?);
    let athletes = coaching::athletes_of(conn, user.id).await;
    let athletes = view(conn.check(athletes)?);
    let invitations = coaching::involving(
        conn,
        user.id,
        &users::normalize_email(&user.email),
        MAX_INVITATIONS,
    )
    .await;
    let invitations = conn
        .check(invitations)?
        .into_iter()
        .map(|inv| AdminInvitation {
            kind: match inv.kind {
                Kind::Athlete => "athlete invites coach",
                Kind::Coach => "coach link",
            },
            from: inv.creator_email,
            to: inv
                .email
                .unwrap_or_else(|| "whoever opens the link".to_owned()),
            access: inv.access.label(),
            state: match inv.used_at {
                Some(at) => format!("used {}", at.format("%Y-%m-%d")),
                None if inv.expires_at <= now => "expired".to_owned(),
                None => format!("pending until {}", inv.expires_at.format("%Y-%m-%d")),
            },
            created: inv.created_at.format("%Y-%m-%d").to_string(),
        })
        .collect();
    Ok(UserCoaching {
        coaches,
        athletes,
        invitations,
    })
}

/// One source's row on the page.
#[derive(Debug)]
pub struct SourceRow {
    pub source: String,
    pub label: &'static str,
    pub coach_visible: bool,
    pub note: &'static str,
    pub updated: String,
}

#[derive(Template)]
#[template(path = "admin/sharing.html")]
struct SharingPage {
    ctx: PageContext,
    csrf_token: String,
    sources: Vec<SourceRow>,
    notice: Option<String>,
    /// The latest coach summary rebuild, while it runs and shortly after.
    recompute: Option<RecomputeView>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

/// The latest rebuild as the admin sees it (the thresholds page's status box).
fn rebuild_view(p: Option<&jobs::Progress>, now: DateTime<Utc>) -> Option<RecomputeView> {
    let athletes = |n: i32| {
        format!(
            "{} {}",
            format::thousands(i64::from(n)),
            if n == 1 { "athlete" } else { "athletes" }
        )
    };
    RecomputeView::of_job(
        p,
        now,
        POLL,
        TimeDelta::minutes(1),
        |phase, p| match phase {
            Phase::Retrying => {
                "Recomputing the coach figures failed and will be retried shortly.".to_owned()
            }
            Phase::Queued => "The coach figures will be recomputed in a moment.".to_owned(),
            Phase::Running => format!(
                "Recomputing the coach figures: {} of {}.",
                format::thousands(i64::from(p.done)),
                athletes(p.total)
            ),
            Phase::Done => format!("Coach figures recomputed for {}.", athletes(p.total)),
            Phase::Dead => format!(
                "Recomputing the coach figures failed: {}. Retry it from Jobs.",
                p.last_error.as_deref().unwrap_or("unknown error")
            ),
        },
    )
}

/// Where the status box polls itself.
const POLL: &str = "/admin/sharing/rebuild";

#[derive(Template)]
#[template(path = "settings/recompute_status.html")]
struct RebuildStatus {
    recompute: Option<RecomputeView>,
}

/// `GET /admin/sharing/rebuild`: the latest rebuild's progress, for htmx polling.
async fn rebuild_status(
    state: web::Data<AppState>,
    _admin: RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let latest = jobs::latest_instance_job(&mut conn, jobs::REBUILD_COACH).await;
    let latest = conn.check(latest)?;
    drop(conn);
    respond(
        &RebuildStatus {
            recompute: rebuild_view(latest.as_ref(), state.clock.now()),
        },
        StatusCode::OK,
    )
}

const fn label(source: &str) -> (&'static str, &'static str) {
    match source.as_bytes() {
        b"strava" => (
            "Strava",
            "Strava's API agreement allows showing a user's data only to that user: keep this off unless you have Strava's permission.",
        ),
        b"garmin" => ("Garmin", ""),
        b"upload" => ("Uploaded files", ""),
        _ => ("Other", ""),
    }
}

async fn sharing_page(
    ctx: PageContext,
    req: HttpRequest,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let rows = coaching::source_visibility(&mut conn).await;
    let rows = conn.check(rows)?;
    let latest = jobs::latest_instance_job(&mut conn, jobs::REBUILD_COACH).await;
    let latest = conn.check(latest)?;
    drop(conn);
    let notice = match query.done.as_deref() {
        Some("changed") => Some("Saved. Coach views follow the new setting now.".to_owned()),
        Some("unchanged") => Some("Nothing to change.".to_owned()),
        _ => None,
    };
    let page = SharingPage {
        ctx,
        csrf_token: token(&req),
        sources: rows
            .into_iter()
            .map(|r| {
                let (label, note) = label(&r.source);
                SourceRow {
                    label,
                    note,
                    coach_visible: r.coach_visible,
                    updated: r.updated_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                    source: r.source,
                }
            })
            .collect(),
        notice,
        recompute: rebuild_view(latest.as_ref(), state.clock.now()),
    };
    respond(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct VisibilityForm {
    #[serde(default)]
    source: String,
    #[serde(default)]
    coach_visible: String,
}

async fn set_visibility(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    form: web::Form<VisibilityForm>,
) -> Result<HttpResponse, AppError> {
    let visible = match form.coach_visible.as_str() {
        "yes" => true,
        "no" => false,
        _ => {
            return Err(AppError::Unprocessable(
                "Choose whether coaches may see this source: yes or no.".to_owned(),
            ));
        }
    };
    let source = form.source.trim();
    let ip = client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    let mut tx = state.db.pool().begin().await?;
    let changed = coaching::set_source_visibility(&mut tx, source, visible)
        .await?
        .ok_or_else(|| AppError::Unprocessable("Choose a source from the list.".to_owned()))?;
    if !changed {
        return Ok(redirect(&req, "/admin/sharing?done=unchanged"));
    }
    let job = jobs::enqueue(
        &mut tx,
        jobs::REBUILD_COACH,
        None,
        &serde_json::json!({ "source": source }),
        None,
    )
    .await?;
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(admin.0.id()),
            subject: None,
            subject_email: None,
            event_type: event::SOURCE_VISIBILITY_CHANGED,
            ip: &ip,
            user_agent: &agent,
            success: true,
            details: serde_json::json!({
                "source": source,
                "coach_visible": visible,
                "job": job,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(redirect(&req, "/admin/sharing?done=changed"))
}
