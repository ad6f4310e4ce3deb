//! `/admin/jobs`: the background job queue for administrators.
//!
//! Counts by kind and state, the queue's depth and the age of its oldest due
//! job, running jobs with their progress, and dead jobs (out of attempts) with
//! their error, a page at a time, each with a "Retry" button. Retrying puts a
//! dead job back in the queue, due now with its attempts reset, in one
//! transaction with its audit row, and wakes this instance's worker.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::{RequireAdmin, client_ip_text, user_agent};
use crate::db::audit::{self, NewEvent, event};
use crate::db::jobs::{self, JobRow};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::admin::{PAGE_SIZE, Pager, page_number, respond, wants_fragment};
use crate::web::format::thousands;
use crate::web::forms::redirect;
use crate::web::layout::PageContext;

/// Running jobs shown (there are rarely more than a few per worker).
const RUNNING_SHOWN: i64 = 50;
/// The states, in the order the counts table shows them.
const STATES: [&str; 4] = ["queued", "running", "dead", "done"];

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/admin/jobs").route(web::get().to(jobs_page)))
        .service(web::resource("/admin/jobs/{id}/retry").route(web::post().to(retry)));
}

/// One kind's counts, in [`STATES`] order.
#[derive(Debug)]
pub struct KindCounts {
    pub kind: String,
    pub counts: [String; 4],
}

/// A job as the page shows it.
#[derive(Debug)]
pub struct JobView {
    pub id: i64,
    pub kind: String,
    pub athlete: String,
    pub attempts: i32,
    pub error: String,
    pub done: i32,
    pub total: i32,
    pub progress: String,
    pub updated: String,
}

fn when(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// "3 s", "4 min 10 s", "2 h 5 min", "3 d 4 h".
#[must_use]
pub fn age(secs: f64) -> String {
    let secs = secs.max(0.0).round();
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "rounded, non-negative, bounded by f64's range; only displayed"
    )]
    let s = secs.min(9.0e15) as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn view(row: JobRow) -> JobView {
    let progress = if row.progress_total > 0 {
        format!(
            "{} of {}",
            thousands(i64::from(row.progress_done)),
            thousands(i64::from(row.progress_total))
        )
    } else {
        "starting".to_owned()
    };
    JobView {
        id: row.id,
        kind: row.kind,
        athlete: row.user_email.unwrap_or_else(|| "—".to_owned()),
        attempts: row.attempts,
        error: row.last_error.unwrap_or_default(),
        done: row.progress_done,
        total: row.progress_total,
        progress,
        updated: when(row.updated_at),
    }
}

#[derive(Template)]
#[template(path = "admin/jobs.html", blocks = ["dead_rows", "running_rows"])]
struct JobsPage {
    ctx: PageContext,
    kinds: Vec<KindCounts>,
    queued: String,
    dead_total: String,
    oldest_due: Option<String>,
    running: Vec<JobView>,
    running_total: i64,
    dead: Vec<JobView>,
    pager: Pager,
    notice: Option<(&'static str, &'static str)>,
}

#[derive(Debug, Deserialize)]
struct JobsQuery {
    page: Option<String>,
    done: Option<String>,
    /// `running`: only the running jobs (the section polls itself over htmx).
    part: Option<String>,
}

/// The notice for a code put in the URL after a retry: (tone, message).
fn notice(code: Option<&str>) -> Option<(&'static str, &'static str)> {
    Some(match code? {
        "retried" => (
            "success",
            "The job is queued again with its attempts reset; a worker will pick it up shortly.",
        ),
        "not_dead" => (
            "warning",
            "Only dead jobs can be retried. This one is queued, running or finished already.",
        ),
        "duplicate" => (
            "warning",
            "The same work is already queued or running, so this job stays dead.",
        ),
        _ => return None,
    })
}

async fn jobs_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    _admin: RequireAdmin,
    query: web::Query<JobsQuery>,
) -> Result<HttpResponse, AppError> {
    let page = page_number(query.page.as_deref());
    let mut conn = state.db.conn().await?;
    if query.part.as_deref() == Some("running") {
        let listed = jobs::in_state(&mut conn, "running", RUNNING_SHOWN, 0).await;
        let (running, running_total) = conn.check(listed)?;
        drop(conn);
        let page = JobsPage {
            ctx,
            kinds: Vec::new(),
            queued: String::new(),
            dead_total: String::new(),
            oldest_due: None,
            running: running.into_iter().map(view).collect(),
            running_total,
            dead: Vec::new(),
            pager: Pager::new("/admin/jobs", &[], 1, 0, 0),
            notice: None,
        };
        return respond(&page.as_running_rows(), StatusCode::OK);
    }
    let counted = jobs::counts(&mut conn).await;
    let counts = conn.check(counted)?;
    let read = jobs::queue_stats(&mut conn).await;
    let queue = conn.check(read)?;
    let listed = jobs::in_state(&mut conn, "running", RUNNING_SHOWN, 0).await;
    let (running, running_total) = conn.check(listed)?;
    let listed = jobs::in_state(&mut conn, "dead", PAGE_SIZE, (page - 1) * PAGE_SIZE).await;
    let (dead, dead_total) = conn.check(listed)?;
    drop(conn);

    let mut kinds: Vec<KindCounts> = Vec::new();
    for count in counts {
        let Some(index) = STATES.iter().position(|s| *s == count.state) else {
            continue;
        };
        if kinds.last().is_none_or(|k| k.kind != count.kind) {
            kinds.push(KindCounts {
                kind: count.kind.clone(),
                counts: Default::default(),
            });
        }
        if let Some(last) = kinds.last_mut() {
            last.counts[index] = thousands(count.n);
        }
    }
    for k in &mut kinds {
        for c in &mut k.counts {
            if c.is_empty() {
                "0".clone_into(c);
            }
        }
    }
    let queued: i64 = queue.waiting.iter().map(|(_, n)| n).sum();
    let dead: Vec<JobView> = dead.into_iter().map(view).collect();
    let pager = Pager::new("/admin/jobs", &[], page, dead_total, dead.len());
    let page = JobsPage {
        ctx,
        kinds,
        queued: thousands(queued),
        dead_total: thousands(dead_total),
        oldest_due: (queue.oldest_due_secs > 0.0).then(|| age(queue.oldest_due_secs)),
        running: running.into_iter().map(view).collect(),
        running_total,
        dead,
        pager,
        notice: notice(query.done.as_deref()),
    };
    if wants_fragment(&req) {
        respond(&page.as_dead_rows(), StatusCode::OK)
    } else {
        respond(&page, StatusCode::OK)
    }
}

async fn retry(
    req: HttpRequest,
    state: web::Data<AppState>,
    admin: RequireAdmin,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = path.trim().parse().map_err(|_| AppError::NotFound)?;
    let ip = client_ip_text(&req, &state.settings);
    let agent = user_agent(&req);
    let mut tx = state.db.pool().begin().await?;
    let Some(current) = jobs::state_of(&mut tx, id).await? else {
        return Err(AppError::NotFound);
    };
    if current != "dead" {
        return Ok(redirect(&req, "/admin/jobs?done=not_dead"));
    }
    let Some(retried) = jobs::retry(&mut tx, id).await? else {
        return Ok(redirect(&req, "/admin/jobs?done=duplicate"));
    };
    audit::record(
        &mut tx,
        NewEvent {
            actor: Some(admin.0.id()),
            subject: retried.user_id,
            event_type: event::JOB_RETRIED,
            ip: &ip,
            user_agent: &agent,
            success: true,
            details: serde_json::json!({ "job": id, "kind": retried.kind }),
            ..NewEvent::default()
        },
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(redirect(&req, "/admin/jobs?done=retried"))
}

#[cfg(test)]
mod tests {
    use super::age;

    #[test]
    fn ages_read_naturally() {
        assert_eq!(age(0.4), "0 s");
        assert_eq!(age(59.0), "59 s");
        assert_eq!(age(250.0), "4 min 10 s");
        assert_eq!(age(7_500.0), "2 h 5 min");
        assert_eq!(age(277_200.0), "3 d 5 h");
        assert_eq!(age(f64::INFINITY), age(9.0e15));
        assert_eq!(age(-3.0), "0 s");
    }
}
