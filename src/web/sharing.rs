//! Sharing with coaches: invitations, access changes, revocation.
//!
//! The athlete's `/settings/sharing` (invite a coach by email, cancel, change
//! access, revoke), a coach's invitation link (`/invitations/{token}`,
//! accepted by an athlete while signed in), the coach's `/coach/invitations`
//! (accept or decline athletes' invitations, create and cancel links) and a
//! coach ending a link.
//!
//! * Every change is one transaction with its audit row (actor = who acted,
//!   subject = the other side).
//! * Invitations are used once, atomically ([`coaching::consume`]); expired,
//!   used or unknown ones are refused with a page saying which.
//! * Accepting an athlete's invitation grants the coach role to a user who
//!   does not hold it yet (audited as `role_granted`, with the invitation):
//!   being invited as a coach and accepting is the consent that matters.
//! * Ids that are not the user's to act on answer 404, like missing ones.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{CurrentUser, RequireCoach, Role, client_ip_text, user_agent};
use crate::db::audit::{self, NewEvent, event};
use crate::db::coaching::{self, Access, Invitation, Kind, Outcome, Target, TokenState};
use crate::db::users;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{
    FieldErrors, email_field, is_htmx, parse_id, redirect, render_with_status,
};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/settings/sharing").route(web::get().to(sharing_page)))
        .service(web::resource("/settings/sharing/invite").route(web::post().to(invite)))
        .service(
            web::resource("/settings/sharing/invitations/{id}/cancel")
                .route(web::post().to(cancel_invitation)),
        )
        .service(
            web::resource("/settings/sharing/coaches/{id}/access")
                .route(web::post().to(change_access)),
        )
        .service(
            web::resource("/settings/sharing/coaches/{id}/revoke").route(web::post().to(revoke)),
        )
        .service(
            web::resource("/invitations/{token}")
                .route(web::get().to(token_page))
                .route(web::post().to(accept_token)),
        )
        .service(web::resource("/coach/invitations").route(web::get().to(coach_page)))
        .service(web::resource("/coach/invitations/link").route(web::post().to(create_link)))
        .service(
            web::resource("/coach/invitations/{id}/accept").route(web::post().to(coach_accept)),
        )
        .service(
            web::resource("/coach/invitations/{id}/decline").route(web::post().to(coach_decline)),
        )
        .service(
            web::resource("/coach/invitations/{id}/cancel").route(web::post().to(coach_cancel)),
        )
        .service(web::resource("/coach/athletes/{id}/end").route(web::post().to(coach_end)));
}

use crate::auth::csrf::token_of as token;

/// What each access level shows, for the pages.
pub const SUMMARY_EXPLAINED: &str = "Summary: your dashboard figures, training load, calendar and activity summaries (distance, time, load, averages).";
/// See [`SUMMARY_EXPLAINED`].
pub const FULL_EXPLAINED: &str = "Full: everything in Summary, plus each activity's streams, charts, routes (maps) and original files.";

fn access_options() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "summary",
            "Summary — figures, load, calendar, activity summaries",
        ),
        (
            "full",
            "Full — also streams, charts, routes, original files",
        ),
    ]
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

/// Who acts, from where.
struct Acting {
    user: Uuid,
    ip: String,
    agent: String,
}

impl Acting {
    fn new(req: &HttpRequest, state: &AppState, user: &CurrentUser) -> Self {
        Self {
            user: user.id(),
            ip: client_ip_text(req, &state.settings),
            agent: user_agent(req),
        }
    }

    fn event<'a>(
        &'a self,
        event_type: &'a str,
        subject: Option<Uuid>,
        subject_email: Option<&'a str>,
        details: serde_json::Value,
    ) -> NewEvent<'a> {
        NewEvent {
            actor: Some(self.user),
            subject,
            subject_email,
            event_type,
            ip: &self.ip,
            user_agent: &self.agent,
            success: true,
            details,
        }
    }
}

// ------------------------------------------------------- athlete's settings

/// A coach of the athlete, as the sharing page lists them.
#[derive(Debug)]
pub struct CoachRow {
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub access: &'static str,
    pub access_label: &'static str,
    pub since: String,
}

/// A pending invitation, as the pages list it.
#[derive(Debug)]
pub struct InvitationRow {
    pub id: Uuid,
    /// The invited address, or the inviting user's name and address.
    pub who: String,
    pub access_label: &'static str,
    pub sent: String,
    pub expires: String,
}

impl InvitationRow {
    fn sent_to(inv: &Invitation) -> Self {
        Self {
            id: inv.id,
            who: inv.email.clone().unwrap_or_default(),
            access_label: inv.access.label(),
            sent: day(inv.created_at),
            expires: day(inv.expires_at),
        }
    }

    fn from_creator(inv: &Invitation) -> Self {
        Self {
            who: format!("{} ({})", inv.creator_name, inv.creator_email),
            ..Self::sent_to(inv)
        }
    }
}

#[derive(Template)]
#[template(path = "sharing/settings.html", blocks = ["invite_form"])]
struct SharingPage {
    ctx: PageContext,
    csrf_token: String,
    coaches: Vec<CoachRow>,
    pending: Vec<InvitationRow>,
    /// Invitations addressed to this user (to coach someone).
    offers: usize,
    invite_email: String,
    invite_access: String,
    access_options: Vec<(&'static str, &'static str)>,
    summary_explained: &'static str,
    full_explained: &'static str,
    expiry_days: i64,
    errors: FieldErrors,
    notice: Option<&'static str>,
}

#[derive(Debug, Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn notice(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "invited" => {
            "Invitation sent. It waits for that address (also if it has no account yet) and expires unused after 14 days. Tell your coach to open Coach → Invitations in Pierre."
        }
        "cancelled" => "Invitation cancelled.",
        "access_changed" => "Access changed. It applies from your coach's next page view.",
        "revoked" => {
            "Access revoked. Your coach can no longer see your data, from their next page view."
        }
        "unchanged" => "Nothing to change.",
        "accepted" => "Done: you now share your training with this coach.",
        "coach_accepted" => "Invitation accepted: the athlete is now on your roster.",
        "declined" => "Invitation declined.",
        "link_cancelled" => "Invitation link cancelled.",
        "ended" => "You no longer coach this athlete.",
        _ => return None,
    })
}

/// The invitation form as last submitted.
#[derive(Debug, Default)]
struct Draft {
    email: String,
    access: String,
    errors: FieldErrors,
}

async fn sharing_view(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    draft: Draft,
    notice: Option<&'static str>,
) -> Result<SharingPage, AppError> {
    let now = state.clock.now();
    let mut conn = state.db.conn().await?;
    let coaches = coaching::coaches_of(&mut conn, user.id()).await;
    let coaches = conn.check(coaches)?;
    let pending = coaching::pending_sent(&mut conn, user.id(), Kind::Athlete, now).await;
    let pending = conn.check(pending)?;
    let offers =
        coaching::pending_for_email(&mut conn, &users::normalize_email(&user.user.email), now)
            .await;
    let offers = conn.check(offers)?.len();
    drop(conn);
    Ok(SharingPage {
        ctx,
        csrf_token: token(req),
        coaches: coaches
            .into_iter()
            .map(|l| CoachRow {
                id: l.coach_id,
                name: l.other_name,
                email: l.other_email,
                access: l.access.as_str(),
                access_label: l.access.label(),
                since: day(l.since),
            })
            .collect(),
        pending: pending.iter().map(InvitationRow::sent_to).collect(),
        offers,
        invite_email: draft.email,
        invite_access: draft.access,
        access_options: access_options(),
        summary_explained: SUMMARY_EXPLAINED,
        full_explained: FULL_EXPLAINED,
        expiry_days: coaching::INVITATION_DAYS,
        errors: draft.errors,
        notice,
    })
}

async fn sharing_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let page = sharing_view(
        &req,
        ctx,
        &state,
        &user,
        Draft {
            access: "summary".to_owned(),
            ..Draft::default()
        },
        notice(query.done.as_deref()),
    )
    .await?;
    render_with_status(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    access: String,
}

async fn invite(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<InviteForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let mut errors = FieldErrors::default();
    let email = email_field(&mut errors, "email", &form.email);
    let normalized = users::normalize_email(&email);
    let access = Access::parse(&form.access);
    if access.is_none() {
        errors.add("access", "Choose summary or full access.");
    }
    if errors.get("email").is_none() && normalized == users::normalize_email(&user.user.email) {
        errors.add(
            "email",
            "That is your own address: invite your coach's address.",
        );
    }
    let now = state.clock.now();
    let mut created = None;
    if errors.is_empty()
        && let Some(access) = access
    {
        let acting = Acting::new(&req, &state, &user);
        let mut tx = state.db.pool().begin().await?;
        let already = coaching::coaches_of(&mut tx, user.id())
            .await?
            .iter()
            .any(|l| users::normalize_email(&l.other_email) == normalized);
        if already {
            errors.add(
                "email",
                "This coach already sees your data. Change their access below instead.",
            );
        } else if let Some(id) =
            coaching::invite_coach(&mut tx, user.id(), &normalized, access, now).await?
        {
            audit::record(
                &mut tx,
                acting.event(
                    event::COACH_INVITED,
                    None,
                    Some(&normalized),
                    serde_json::json!({ "invitation": id, "access": access.as_str() }),
                ),
            )
            .await?;
            tx.commit().await?;
            created = Some(id);
        } else {
            errors.add(
                "email",
                "You already invited this address. Cancel that invitation first to send a new one.",
            );
        }
    }
    if created.is_some() {
        return Ok(redirect(&req, "/settings/sharing?done=invited"));
    }
    let page = sharing_view(
        &req,
        ctx,
        &state,
        &user,
        Draft {
            email,
            access: access.map_or("summary", Access::as_str).to_owned(),
            errors,
        },
        None,
    )
    .await?;
    if is_htmx(&req) {
        render_with_status(&page.as_invite_form(), StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
    }
}

async fn cancel_invitation(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let spent = coaching::consume(
        &mut tx,
        Target::CreatedBy(id, user.id()),
        user.id(),
        Outcome::Cancelled,
        state.clock.now(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        acting.event(
            event::COACH_INVITATION_CANCELLED,
            None,
            spent.email.as_deref(),
            serde_json::json!({ "invitation": spent.id, "kind": spent.kind.as_str() }),
        ),
    )
    .await?;
    tx.commit().await?;
    let target = if spent.kind == Kind::Coach {
        "/coach/invitations?done=link_cancelled"
    } else {
        "/settings/sharing?done=cancelled"
    };
    Ok(redirect(&req, target))
}

#[derive(Debug, Deserialize)]
struct AccessForm {
    #[serde(default)]
    access: String,
}

async fn change_access(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<AccessForm>,
) -> Result<HttpResponse, AppError> {
    let coach = parse_id(&path)?;
    let access = Access::parse(&form.access)
        .ok_or_else(|| AppError::Unprocessable("Choose summary or full access.".to_owned()))?;
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let before = coaching::set_access(&mut tx, coach, user.id(), access)
        .await?
        .ok_or(AppError::NotFound)?;
    if before == access {
        return Ok(redirect(&req, "/settings/sharing?done=unchanged"));
    }
    audit::record(
        &mut tx,
        acting.event(
            event::COACH_ACCESS_CHANGED,
            Some(coach),
            None,
            serde_json::json!({ "athlete": user.id(), "from": before.as_str(), "to": access.as_str() }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/settings/sharing?done=access_changed"))
}

/// End the link between `coach` and `athlete` (404 when there is none) and
/// audit it, in one transaction: the subject is the other side, the details
/// name the side acting (`athlete` revokes, `coach` ends) and the access the
/// link had.
async fn end_link(
    state: &AppState,
    acting: &Acting,
    coach: Uuid,
    athlete: Uuid,
    event_type: &str,
) -> Result<(), AppError> {
    let (side, other) = if acting.user == coach {
        ("coach", athlete)
    } else {
        ("athlete", coach)
    };
    let mut tx = state.db.pool().begin().await?;
    let before = coaching::unlink(&mut tx, coach, athlete)
        .await?
        .ok_or(AppError::NotFound)?;
    let mut details = serde_json::Map::new();
    details.insert(side.to_owned(), serde_json::json!(acting.user));
    details.insert("access".to_owned(), serde_json::json!(before.as_str()));
    audit::record(
        &mut tx,
        acting.event(event_type, Some(other), None, details.into()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let coach = parse_id(&path)?;
    let acting = Acting::new(&req, &state, &user);
    end_link(
        &state,
        &acting,
        coach,
        user.id(),
        event::COACH_ACCESS_REVOKED,
    )
    .await?;
    Ok(redirect(&req, "/settings/sharing?done=revoked"))
}

// ---------------------------------------------------- a coach's link token

#[derive(Template)]
#[template(path = "sharing/invitation.html")]
struct TokenPage {
    ctx: PageContext,
    csrf_token: String,
    token: String,
    coach_name: String,
    coach_email: String,
    expires: String,
    own: bool,
    already: Option<&'static str>,
    access_options: Vec<(&'static str, &'static str)>,
    summary_explained: &'static str,
    full_explained: &'static str,
    error: String,
}

#[derive(Template)]
#[template(path = "sharing/invitation_gone.html")]
struct GonePage {
    ctx: PageContext,
    status: u16,
    title: &'static str,
    message: &'static str,
}

fn gone(ctx: PageContext, state: &TokenState) -> Result<HttpResponse, AppError> {
    let (status, title, message) = match state {
        TokenState::Used(_) => (
            StatusCode::GONE,
            "This invitation was already used",
            "Each invitation link works once. Ask your coach for a new link.",
        ),
        TokenState::Expired(_) => (
            StatusCode::GONE,
            "This invitation has expired",
            "Invitation links are valid for 14 days. Ask your coach for a new link.",
        ),
        _ => (
            StatusCode::NOT_FOUND,
            "Invitation not found",
            "This invitation link is not valid. Check that you copied all of it, or ask your coach for a new one.",
        ),
    };
    render_with_status(
        &GonePage {
            ctx,
            status: status.as_u16(),
            title,
            message,
        },
        status,
    )
}

async fn token_view(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    token_text: &str,
    error: String,
) -> Result<Result<TokenPage, HttpResponse>, AppError> {
    let mut conn = state.db.conn().await?;
    let found = coaching::find_token(&mut conn, token_text, state.clock.now()).await;
    let found = conn.check(found)?;
    let TokenState::Pending(inv) = found else {
        drop(conn);
        return gone(ctx, &found).map(Err);
    };
    let current = coaching::access(&mut conn, inv.created_by, user.id()).await;
    let current = conn.check(current)?;
    Ok(Ok(TokenPage {
        ctx,
        csrf_token: token(req),
        token: token_text.to_owned(),
        own: inv.created_by == user.id(),
        coach_name: inv.creator_name,
        coach_email: inv.creator_email,
        expires: day(inv.expires_at),
        already: current.map(Access::label),
        access_options: access_options(),
        summary_explained: SUMMARY_EXPLAINED,
        full_explained: FULL_EXPLAINED,
        error,
    }))
}

async fn token_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    match token_view(&req, ctx, &state, &user, &path, String::new()).await? {
        Ok(page) => render_with_status(&page, StatusCode::OK),
        Err(res) => Ok(res),
    }
}

async fn accept_token(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<AccessForm>,
) -> Result<HttpResponse, AppError> {
    let token_text = path.into_inner();
    let Some(access) = Access::parse(&form.access) else {
        return match token_view(
            &req,
            ctx,
            &state,
            &user,
            &token_text,
            "Choose summary or full access.".to_owned(),
        )
        .await?
        {
            Ok(page) => render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY),
            Err(res) => Ok(res),
        };
    };
    let now = state.clock.now();
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let Some(spent) = coaching::consume(
        &mut tx,
        Target::Token(&token_text),
        user.id(),
        Outcome::Accepted,
        now,
    )
    .await?
    else {
        drop(tx);
        // Why: unknown, used, expired — or the coach's own link.
        return match token_view(
            &req,
            ctx,
            &state,
            &user,
            &token_text,
            "This is your own invitation link: send it to an athlete.".to_owned(),
        )
        .await?
        {
            Ok(page) => render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY),
            Err(res) => Ok(res),
        };
    };
    let before = coaching::link(&mut tx, spent.created_by, user.id(), access).await?;
    let event_type = if before.is_some() {
        event::COACH_ACCESS_CHANGED
    } else {
        event::COACH_ACCESS_GRANTED
    };
    audit::record(
        &mut tx,
        acting.event(
            event_type,
            Some(spent.created_by),
            None,
            serde_json::json!({
                "athlete": user.id(),
                "access": access.as_str(),
                "from": before.map(Access::as_str),
                "invitation": spent.id,
                "via": "coach_link",
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/settings/sharing?done=accepted"))
}

// ------------------------------------------------------------ coach's side

#[derive(Template)]
#[template(path = "sharing/coach_invitations.html")]
struct CoachPage {
    ctx: PageContext,
    csrf_token: String,
    is_coach: bool,
    offers: Vec<InvitationRow>,
    links: Vec<InvitationRow>,
    athletes: Vec<CoachRow>,
    /// A link just created: shown once (only its hash is stored).
    new_link: Option<String>,
    expiry_days: i64,
    notice: Option<&'static str>,
}

async fn coach_view(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    new_link: Option<String>,
    notice: Option<&'static str>,
) -> Result<CoachPage, AppError> {
    let now = state.clock.now();
    let mut conn = state.db.conn().await?;
    let offers =
        coaching::pending_for_email(&mut conn, &users::normalize_email(&user.user.email), now)
            .await;
    let offers = conn.check(offers)?;
    let links = coaching::pending_sent(&mut conn, user.id(), Kind::Coach, now).await;
    let links = conn.check(links)?;
    let athletes = coaching::athletes_of(&mut conn, user.id()).await;
    let athletes = conn.check(athletes)?;
    drop(conn);
    Ok(CoachPage {
        ctx,
        csrf_token: token(req),
        is_coach: user.has_role(Role::Coach),
        offers: offers.iter().map(InvitationRow::from_creator).collect(),
        links: links.iter().map(InvitationRow::sent_to).collect(),
        athletes: athletes
            .into_iter()
            .map(|l| CoachRow {
                id: l.athlete_id,
                name: l.other_name,
                email: l.other_email,
                access: l.access.as_str(),
                access_label: l.access.label(),
                since: day(l.since),
            })
            .collect(),
        new_link,
        expiry_days: coaching::INVITATION_DAYS,
        notice,
    })
}

async fn coach_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let page = coach_view(
        &req,
        ctx,
        &state,
        &user,
        None,
        notice(query.done.as_deref()),
    )
    .await?;
    render_with_status(&page, StatusCode::OK)
}

async fn create_link(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    RequireCoach(user): RequireCoach,
) -> Result<HttpResponse, AppError> {
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let (id, token_text) =
        coaching::create_link_token(&mut tx, user.id(), state.clock.now()).await?;
    audit::record(
        &mut tx,
        acting.event(
            event::COACH_INVITED,
            None,
            None,
            serde_json::json!({ "invitation": id, "kind": "coach_link" }),
        ),
    )
    .await?;
    tx.commit().await?;
    let link = format!(
        "{}/invitations/{token_text}",
        state.settings.public_url.as_str().trim_end_matches('/')
    );
    let page = coach_view(&req, ctx, &state, &user, Some(link), None).await?;
    // The token is in this page only: never cache it.
    let mut res = render_with_status(&page, StatusCode::OK)?;
    res.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn coach_accept(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let email = users::normalize_email(&user.user.email);
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let spent = coaching::consume(
        &mut tx,
        Target::ForEmail(id, &email),
        user.id(),
        Outcome::Accepted,
        state.clock.now(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    let athlete = spent.created_by;
    let before = coaching::link(&mut tx, user.id(), athlete, spent.access).await?;
    if !user.has_role(Role::Coach) && users::grant_role(&mut tx, user.id(), "coach").await? {
        audit::record(
            &mut tx,
            NewEvent {
                subject: Some(user.id()),
                subject_email: Some(&user.user.email),
                ..acting.event(
                    event::ROLE_GRANTED,
                    None,
                    None,
                    serde_json::json!({ "role": "coach", "via": "invitation", "invitation": spent.id }),
                )
            },
        )
        .await?;
    }
    audit::record(
        &mut tx,
        acting.event(
            if before.is_some() {
                event::COACH_ACCESS_CHANGED
            } else {
                event::COACH_ACCESS_GRANTED
            },
            Some(athlete),
            None,
            serde_json::json!({
                "coach": user.id(),
                "access": spent.access.as_str(),
                "from": before.map(Access::as_str),
                "invitation": spent.id,
                "via": "email_invitation",
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/coach/invitations?done=coach_accepted"))
}

async fn coach_decline(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let email = users::normalize_email(&user.user.email);
    let acting = Acting::new(&req, &state, &user);
    let mut tx = state.db.pool().begin().await?;
    let spent = coaching::consume(
        &mut tx,
        Target::ForEmail(id, &email),
        user.id(),
        Outcome::Declined,
        state.clock.now(),
    )
    .await?
    .ok_or(AppError::NotFound)?;
    audit::record(
        &mut tx,
        acting.event(
            event::COACH_INVITATION_DECLINED,
            Some(spent.created_by),
            None,
            serde_json::json!({ "invitation": spent.id }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(redirect(&req, "/coach/invitations?done=declined"))
}

async fn coach_cancel(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // The same as an athlete cancelling: only the creator's own invitation.
    cancel_invitation(req, state, user, path).await
}

async fn coach_end(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let athlete = parse_id(&path)?;
    let acting = Acting::new(&req, &state, &user);
    end_link(&state, &acting, user.id(), athlete, event::COACH_LINK_ENDED).await?;
    Ok(redirect(&req, "/coach/invitations?done=ended"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_notice_codes_show_nothing() {
        assert!(notice(Some("revoked")).is_some());
        assert_eq!(notice(Some("<b>")), None);
    }
}
