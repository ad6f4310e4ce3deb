//! Comments on an activity: the section shown on the athlete's activity page
//! and on the coach's read-only view of it, and the two routes that add one.
//!
//! * The athlete comments (and replies: a reply is just another comment) on
//!   their own activity: `POST /activities/{id}/comments`.
//! * A linked coach comments with either access level, but only on
//!   activities the coach may see (their source is coach-visible):
//!   `POST /coach/athletes/{id}/activities/{activity_id}/comments`. Anything
//!   else — no link, someone else's activity, a withheld source — is a 404.
//! * Viewing the section marks the activity's comments read for the viewer;
//!   comments by others since the last view are marked "new".
//!
//! For the coach's activity page: build the section with [`section`] (with
//! [`coach_action`]) and `{% include "activities/comments.html" %}` with the
//! section in a field named `comments`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::db::comments;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::forms::{is_htmx, parse_id, redirect, render_with_status};
use crate::web::layout::PageContext;
use crate::web::subject::CoachSubject;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/activities/{id}/comments").route(web::post().to(athlete_comment)))
        .service(
            web::resource("/coach/athletes/{id}/activities/{activity_id}/comments")
                .route(web::post().to(coach_comment)),
        );
}

use crate::auth::csrf::token_of as token;

/// One comment as shown.
#[derive(Debug, Clone)]
pub struct CommentView {
    pub author: String,
    pub mine: bool,
    pub is_new: bool,
    pub time: String,
    pub iso: String,
    pub body: String,
}

/// The comments section of an activity page.
#[derive(Debug, Clone, Default)]
pub struct CommentsSection {
    pub items: Vec<CommentView>,
    /// Comments by others the viewer had not seen.
    pub unread: usize,
    /// Where the form posts.
    pub action: String,
    pub csrf_token: String,
    pub error: String,
    pub draft: String,
    pub max_len: usize,
}

/// Where the athlete's own page posts comments.
#[must_use]
pub fn athlete_action(activity_id: Uuid) -> String {
    format!("/activities/{activity_id}/comments")
}

/// Where a coach's view of an athlete's activity posts comments.
#[must_use]
pub fn coach_action(athlete_id: Uuid, activity_id: Uuid) -> String {
    format!("/coach/athletes/{athlete_id}/activities/{activity_id}/comments")
}

/// Load an activity's comments for `viewer` and mark them read (the caller
/// has already checked that the viewer may see the activity).
///
/// # Errors
/// Database errors.
pub async fn section(
    conn: &mut PgConnection,
    viewer: Uuid,
    activity_id: Uuid,
    action: String,
    csrf_token: String,
    now: DateTime<Utc>,
) -> Result<CommentsSection, sqlx::Error> {
    let read = comments::read_at(conn, viewer, activity_id).await?;
    let list = comments::list(conn, activity_id).await?;
    let items: Vec<CommentView> = list
        .into_iter()
        .map(|c| {
            let mine = c.author_id == viewer;
            CommentView {
                is_new: !mine && read.is_none_or(|r| c.created_at > r),
                author: c.author_name,
                mine,
                time: c.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                iso: c.created_at.to_rfc3339(),
                body: c.body,
            }
        })
        .collect();
    if items.iter().any(|c| c.is_new) || read.is_none() {
        comments::mark_read(conn, viewer, activity_id, now).await?;
    }
    Ok(CommentsSection {
        unread: items.iter().filter(|c| c.is_new).count(),
        items,
        action,
        csrf_token,
        error: String::new(),
        draft: String::new(),
        max_len: comments::MAX_BODY,
    })
}

/// The section alone (htmx answer).
#[derive(Template)]
#[template(path = "activities/comments_fragment.html")]
struct Fragment {
    comments: CommentsSection,
}

/// The section on a page of its own (a refused comment without htmx).
#[derive(Template)]
#[template(path = "activities/comment_page.html")]
struct RefusedPage {
    ctx: PageContext,
    back: String,
    comments: CommentsSection,
}

#[derive(Debug, Deserialize)]
struct CommentForm {
    #[serde(default)]
    body: String,
}

/// Which activity a comment is for, where its form posts, which page it is on.
struct Place {
    activity_id: Uuid,
    action: String,
    back: String,
}

/// Add the comment (or refuse it) and answer: the fresh section for htmx,
/// a redirect back to the page otherwise.
async fn add_and_answer(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    place: Place,
    body: &str,
) -> Result<HttpResponse, AppError> {
    let Place {
        activity_id,
        action,
        back,
    } = place;
    let now = state.clock.now();
    let checked = comments::check_body(body);
    let mut conn = state.db.conn().await?;
    if let Ok(text) = &checked {
        let added = comments::add(&mut conn, activity_id, user.id(), text, now).await;
        conn.check(added)?;
        if !is_htmx(req) {
            return Ok(redirect(req, &format!("{back}#comments")));
        }
    }
    let loaded = section(&mut conn, user.id(), activity_id, action, token(req), now).await;
    let mut section = conn.check(loaded)?;
    drop(conn);
    let status = match checked {
        Ok(_) => StatusCode::OK,
        Err(message) => {
            section.error = message;
            section.draft = body.chars().take(comments::MAX_BODY * 2).collect();
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    if is_htmx(req) {
        render_with_status(&Fragment { comments: section }, status)
    } else {
        render_with_status(
            &RefusedPage {
                ctx,
                back,
                comments: section,
            },
            status,
        )
    }
}

/// `POST /activities/{id}/comments`: the athlete on their own activity.
async fn athlete_comment(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<CommentForm>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let owner = comments::owner(&mut conn, id).await;
    let owner = conn.check(owner)?;
    drop(conn);
    if owner.is_none_or(|o| o.user_id != user.id()) {
        return Err(AppError::NotFound);
    }
    add_and_answer(
        &req,
        ctx,
        &state,
        &user,
        Place {
            activity_id: id,
            action: athlete_action(id),
            back: format!("/activities/{id}"),
        },
        &form.body,
    )
    .await
}

/// `POST /coach/athletes/{id}/activities/{activity_id}/comments`: a linked
/// coach (either access level) on an activity they may see. The coach and the
/// link are checked as on every coach page ([`CoachSubject`]: the coach role,
/// else 403; a link to an active athlete, else 404).
async fn coach_comment(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    coach: CoachSubject,
    path: web::Path<(String, String)>,
    form: web::Form<CommentForm>,
) -> Result<HttpResponse, AppError> {
    let (_, activity) = path.into_inner();
    let activity = parse_id(&activity)?;
    let athlete = coach.subject.athlete;
    let mut conn = state.db.conn().await?;
    let owner = comments::owner(&mut conn, activity).await;
    let owner = conn.check(owner)?;
    drop(conn);
    if owner.is_none_or(|o| o.user_id != athlete || !coach.subject.may_see(&o.source)) {
        return Err(AppError::NotFound);
    }
    add_and_answer(
        &req,
        ctx,
        &state,
        &coach.viewer,
        Place {
            activity_id: activity,
            action: coach_action(athlete, activity),
            back: format!("/coach/athletes/{athlete}/activities/{activity}"),
        },
        &form.body,
    )
    .await
}
