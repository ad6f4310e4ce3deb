//! `/admin/jobs`: queue figures, running and dead jobs, retrying a dead job,
//! and the queue gauges on `/metrics`.

use std::time::Duration;

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, csrf_in, html, text_of};

/// An app whose in-process worker is off, so queued jobs stay queued.
async fn spawn_without_worker() -> TestApp {
    TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_WORKER", "off".to_owned())],
        ..Spawn::default()
    })
    .await
}

async fn insert_job(app: &TestApp, sql: &str, user: Option<uuid::Uuid>) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(user)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn dead_recompute(app: &TestApp, user: uuid::Uuid) -> i64 {
    insert_job(
        app,
        "INSERT INTO jobs (kind, user_id, payload, state, attempts, last_error)
         VALUES ('recompute_metrics', $1, '{\"from\": \"2026-01-01\"}', 'dead', 5, 'database went away')
         RETURNING id",
        Some(user),
    )
    .await
}

async fn state_of(app: &TestApp, id: i64) -> (String, i32) {
    sqlx::query_as("SELECT state, attempts FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// The value of an unlabelled or labelled sample in a metrics text.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|line| line.starts_with(name) && line[name.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn the_jobs_page_shows_counts_running_progress_and_dead_jobs_and_metrics_report_the_queue() {
    let app = spawn_without_worker().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let (_, rider) = signed_in(&app, "rider@example.org", &["athlete"]).await;
    insert_job(
        &app,
        "INSERT INTO jobs (kind, user_id, run_at) VALUES ('recompute_metrics', $1, now() - interval '90 seconds') RETURNING id",
        Some(rider),
    )
    .await;
    insert_job(
        &app,
        "INSERT INTO jobs (kind, user_id, run_at) VALUES ('sync_poll', $1, now() + interval '1 hour') RETURNING id",
        None,
    )
    .await;
    let running = insert_job(
        &app,
        "INSERT INTO jobs (kind, user_id, state, attempts, progress_done, progress_total, locked_until)
         VALUES ('sync_backfill', $1, 'running', 1, 240, 1380, now() + interval '5 minutes') RETURNING id",
        Some(rider),
    )
    .await;
    let dead = insert_job(
        &app,
        "INSERT INTO jobs (kind, user_id, state, attempts, last_error)
         VALUES ('sync_event', $1, 'dead', 5, 'Strava answered 500 Internal Server Error') RETURNING id",
        Some(rider),
    )
    .await;

    let res = admin.get(app.url("/admin/jobs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let doc = html(&body);
    assert_eq!(text_of(&doc, "#jobs-queued").unwrap(), "2");
    assert_eq!(text_of(&doc, "#jobs-dead-count").unwrap(), "1");
    assert_eq!(text_of(&doc, "#jobs-running-count").unwrap(), "1");
    let oldest = text_of(&doc, "#jobs-oldest-due").unwrap();
    assert!(oldest.starts_with("1 min"), "{oldest}");
    assert_eq!(
        text_of(&doc, "tr[data-kind=recompute_metrics] .count-queued").unwrap(),
        "1"
    );
    assert_eq!(
        text_of(&doc, "tr[data-kind=sync_backfill] .count-running").unwrap(),
        "1"
    );
    assert_eq!(
        text_of(&doc, "tr[data-kind=sync_event] .count-dead").unwrap(),
        "1"
    );
    let progress = text_of(
        &doc,
        &format!("#jobs-running tr[data-job=\"{running}\"] .job-progress"),
    )
    .unwrap();
    assert_eq!(progress, "240 of 1,380");
    let row = format!("#jobs-dead tr[data-job=\"{dead}\"]");
    assert_eq!(
        text_of(&doc, &format!("{row} .job-error")).unwrap(),
        "Strava answered 500 Internal Server Error"
    );
    assert_eq!(text_of(&doc, &format!("{row} .job-attempts")).unwrap(), "5");
    assert_eq!(
        text_of(&doc, &format!("{row} .job-athlete")).unwrap(),
        "rider@example.org"
    );
    assert!(body.contains(&format!("action=\"/admin/jobs/{dead}/retry\"")));
    assert!(csrf_in(&body).is_some(), "the retry form carries the token");
    // Linked from the admin navigation.
    assert!(
        body.contains("href=\"/admin/jobs\" aria-current=\"page\""),
        "{body}"
    );

    // The running section refreshes itself: a fragment with the progress.
    let part = admin
        .get(app.url("/admin/jobs?part=running"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        part.trim_start()
            .starts_with("<section class=\"card\" id=\"jobs-running\""),
        "{part}"
    );
    assert!(part.contains("240 of 1,380") && !part.contains("<html"));

    let metrics = app.metrics().await;
    assert_eq!(
        sample(&metrics, "pierre_jobs_waiting{kind=\"recompute_metrics\"}"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(&metrics, "pierre_jobs_waiting{kind=\"sync_poll\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&metrics, "pierre_jobs_waiting{kind=\"sync_event\"}"),
        Some(0.0)
    );
    assert_eq!(sample(&metrics, "pierre_jobs_dead"), Some(1.0));
    let age = sample(&metrics, "pierre_jobs_oldest_due_age_seconds").unwrap();
    assert!((89.0..600.0).contains(&age), "{age}");
}

#[tokio::test]
async fn an_admin_retries_a_dead_job_which_runs_again_and_is_audited() {
    let app = TestApp::spawn().await;
    let (admin, admin_id) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let (athlete, rider) = signed_in(&app, "rider@example.org", &["athlete"]).await;
    let dead = dead_recompute(&app, rider).await;

    // Not for athletes: refused, nothing changes.
    let token = app.csrf_token(&athlete).await;
    let res = athlete
        .post(app.url(&format!("/admin/jobs/{dead}/retry")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(state_of(&app, dead).await, ("dead".to_owned(), 5));
    // Not without the anti-forgery token either.
    let res = admin
        .post(app.url(&format!("/admin/jobs/{dead}/retry")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    assert_eq!(state_of(&app, dead).await.0, "dead");

    let token = app.csrf_token(&admin).await;
    let res = admin
        .post(app.url(&format!("/admin/jobs/{dead}/retry")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/jobs?done=retried");
    // The worker is woken and runs it (a recompute with nothing to recompute succeeds).
    let mut state = state_of(&app, dead).await;
    for _ in 0..100 {
        if state.0 == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        state = state_of(&app, dead).await;
    }
    assert_eq!(
        state,
        ("done".to_owned(), 1),
        "attempts were reset, then one run"
    );

    let (actor, subject, details): (uuid::Uuid, uuid::Uuid, serde_json::Value) = sqlx::query_as(
        "SELECT actor_user_id, subject_user_id, details FROM audit_events WHERE event_type = 'job_retried'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((actor, subject), (admin_id, rider));
    assert_eq!(details["job"], dead);
    assert_eq!(details["kind"], "recompute_metrics");

    // Only dead jobs can be retried; unknown ids are 404.
    let res = admin
        .post(app.url(&format!("/admin/jobs/{dead}/retry")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/admin/jobs?done=not_dead");
    let page = admin
        .get(app.url("/admin/jobs?done=not_dead"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text_of(&html(&page), "#admin-notice")
            .unwrap()
            .contains("Only dead jobs can be retried")
    );
    for path in ["/admin/jobs/424242/retry", "/admin/jobs/abc/retry"] {
        let res = admin
            .post(app.url(path))
            .form(&[("csrf_token", token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let audited: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_events WHERE event_type = 'job_retried'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn dead_jobs_are_listed_a_page_at_a_time() {
    let app = spawn_without_worker().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    sqlx::query(
        "INSERT INTO jobs (kind, state, attempts, last_error)
         SELECT 'sync_poll', 'dead', 5, 'failure ' || n FROM generate_series(1, 30) n",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let page = admin
        .get(app.url("/admin/jobs"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&page);
    let rows = scraper::Selector::parse("#jobs-dead-table tbody tr").unwrap();
    assert_eq!(doc.select(&rows).count(), 25);
    assert!(page.contains("href=\"/admin/jobs?page=2\""));
    let second = admin
        .get(app.url("/admin/jobs?page=2"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        second
            .trim_start()
            .starts_with("<section class=\"card\" id=\"jobs-dead\""),
        "{second}"
    );
    assert!(!second.contains("<html"));
    assert_eq!(html(&second).select(&rows).count(), 5);
}

#[tokio::test]
async fn a_dead_job_whose_twin_is_waiting_stays_dead() {
    let app = spawn_without_worker().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let dead = insert_job(
        &app,
        "INSERT INTO jobs (kind, state, attempts, dedupe_key, last_error)
         VALUES ('sync_event', 'dead', 5, 'strava:event:1', 'boom') RETURNING id",
        None,
    )
    .await;
    insert_job(
        &app,
        "INSERT INTO jobs (kind, dedupe_key) VALUES ('sync_event', 'strava:event:1') RETURNING id",
        None,
    )
    .await;
    let token = app.csrf_token(&admin).await;
    let res = admin
        .post(app.url(&format!("/admin/jobs/{dead}/retry")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/admin/jobs?done=duplicate");
    assert_eq!(state_of(&app, dead).await, ("dead".to_owned(), 5));
}
