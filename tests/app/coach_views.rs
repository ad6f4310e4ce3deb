//! Read-only coach views of a linked athlete (`/coach/athletes/{id}…`):
//! summary and full access, withheld sources (Strava), revocation on the next
//! request, other coaches and other athletes' ids, no edit controls, and a
//! constant statement count for the coach's dashboard.
//!
//! Links are made directly in SQL (the sharing UI lives on another branch).

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{NaiveDate, TimeDelta};
use pierre::db::activities::{self, NewActivity, Source, Stored};
use pierre::domain::Sport;
use uuid::Uuid;

use crate::accounts::{create_user, signed_in};
use crate::dashboard::activity_on;
use crate::support::{TestApp, html, new_client, text_of};

/// Store an activity of `source` on `day` with a known load, optionally with
/// an original file; its id.
pub async fn store(
    app: &TestApp,
    user: Uuid,
    source: Source,
    name: &str,
    day: NaiveDate,
    load: f64,
    original: Option<&[u8]>,
) -> Uuid {
    static SEED: AtomicU64 = AtomicU64::new(1);
    let parsed = activity_on(day, Sport::Cycling, SEED.fetch_add(1, Ordering::Relaxed));
    let mut metrics = pierre::training::metrics_for(&parsed, &[]);
    metrics.load = load;
    metrics.load_source = pierre::analytics::load::LoadSource::Power;
    let gz = original.map(|bytes| {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        (enc.finish().unwrap(), i64::try_from(bytes.len()).unwrap())
    });
    let mut tx = app.db.begin().await.unwrap();
    let stored = activities::insert(
        &mut tx,
        &NewActivity {
            user_id: user,
            source,
            external_id: None,
            name,
            parsed: &parsed,
            file_sha256: None,
            original: gz.as_ref().map(|(g, n)| ("ride.fit", g.as_slice(), *n)),
            metrics: Some(&metrics),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    match stored {
        Stored::Imported(id) => id,
        other => panic!("not imported: {other:?}"),
    }
}

pub async fn link(app: &TestApp, coach: Uuid, athlete: Uuid, access: &str) {
    sqlx::query("INSERT INTO coach_links (coach_id, athlete_id, access) VALUES ($1, $2, $3)")
        .bind(coach)
        .bind(athlete)
        .bind(access)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn name(app: &TestApp, user: Uuid, display: &str) {
    sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
        .bind(user)
        .bind(display)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn get(client: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

fn metric(doc: &scraper::Html, name: &str) -> String {
    text_of(doc, &format!("[data-metric=\"{name}\"]")).unwrap_or_default()
}

/// Ana: two uploaded rides and three from Strava.
struct Ana {
    id: Uuid,
    client: reqwest::Client,
    uploads: [Uuid; 2],
    stravas: [Uuid; 3],
}

async fn ana(app: &TestApp) -> Ana {
    let (client, id) = signed_in(app, "ana@example.org", &["athlete"]).await;
    name(app, id, "Ana").await;
    let today = app.clock.now().date_naive();
    let day = |n: i64| today - TimeDelta::days(n);
    let original: &[u8] = b"the original file";
    let uploads = [
        store(
            app,
            id,
            Source::Upload,
            "Uploaded ride",
            day(10),
            80.0,
            Some(original),
        )
        .await,
        store(
            app,
            id,
            Source::Upload,
            "Uploaded today",
            day(0),
            50.0,
            None,
        )
        .await,
    ];
    let stravas = [
        // With a file, so that refusing its original to coaches is the source rule at work.
        store(
            app,
            id,
            Source::Strava,
            "Strava one",
            day(1),
            120.0,
            Some(original),
        )
        .await,
        store(app, id, Source::Strava, "Strava two", day(2), 110.0, None).await,
        store(app, id, Source::Strava, "Strava three", day(3), 100.0, None).await,
    ];
    Ana {
        id,
        client,
        uploads,
        stravas,
    }
}

/// Everything a coach view must not carry: post forms, CSRF fields, links to
/// the signed-in user's own pages, upload or settings.
fn assert_read_only(body: &str, base: &str, what: &str) {
    let doc = html(body);
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    // The one form a coach has: a comment on the activity, posted under the coach view.
    assert_eq!(
        doc.select(&sel(
            "main form[method=\"post\"]:not([action$=\"/comments\"]), \
             main form:not([action$=\"/comments\"]) input[name=\"csrf_token\"]"
        ))
        .count(),
        0,
        "{what}: no forms that change anything"
    );
    for form in doc.select(&sel("main form[action$=\"/comments\"]")) {
        let action = form.value().attr("action").unwrap();
        assert!(
            action.starts_with(base),
            "{what}: the comment form posts to {action}, outside the coach view"
        );
    }
    for a in doc.select(&sel("main a[href]")) {
        let href = a.value().attr("href").unwrap();
        assert!(
            href.starts_with(base) || href.starts_with('#'),
            "{what}: link {href} leaves the coach view"
        );
    }
    for control in [
        "activity-edit",
        "activity-delete",
        "/activities/upload",
        "/settings/",
    ] {
        assert!(
            !doc.select(&sel("main")).any(|m| m.html().contains(control)),
            "{what}: {control} is absent"
        );
    }
}

#[tokio::test]
async fn a_summary_coach_sees_figures_calendar_list_and_summaries_but_no_streams_or_strava() {
    let app = TestApp::spawn().await;
    let ana = ana(&app).await;
    let (coach, coach_id) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    link(&app, coach_id, ana.id, "summary").await;
    let base = format!("/coach/athletes/{}", ana.id);

    // A failed recompute of Ana's is hers to see, not her coach's.
    sqlx::query(
        "INSERT INTO jobs (kind, user_id, payload, state, attempts, last_error)
         VALUES ('recompute_metrics', $1, '{\"from\": \"2026-01-01\"}', 'dead', 5, 'boom')",
    )
    .bind(ana.id)
    .execute(&app.db)
    .await
    .unwrap();
    let (_, own) = get(&ana.client, &app, "/dashboard").await;
    assert!(
        text_of(&html(&own), "#recompute-status").is_some_and(|t| t.contains("failed")),
        "the athlete sees her recompute"
    );

    // Dashboard: banner, withheld count, figures from the uploads only.
    let (status, body) = get(&coach, &app, &base).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only(&body, &base, "dashboard");
    let doc = html(&body);
    assert!(
        text_of(&doc, "#recompute-status").is_none_or(|t| t.trim().is_empty()),
        "no recompute box for the coach"
    );
    assert!(
        text_of(&doc, "#coach-banner")
            .unwrap()
            .contains("Viewing Ana's training as coach (summary access)")
    );
    assert!(
        text_of(&doc, "#withheld").unwrap().contains(
            "3 Strava activities are not shown: Strava's terms allow its data to be shown only to the athlete"
        ),
        "{body}"
    );
    assert!(
        text_of(&doc, "#coach-banner")
            .unwrap()
            .contains("computed only from the activities coaches may see")
    );
    for strava in ana.stravas {
        assert!(
            !body.contains(&strava.to_string()),
            "no Strava activity on the dashboard"
        );
    }
    assert!(!body.contains("Strava one"));
    assert_eq!(
        metric(&doc, "week-load"),
        "50",
        "only today's upload in the last 7 days"
    );
    let coach_ctl = metric(&doc, "ctl");
    // The athlete's own view counts everything.
    let (status, own) = get(&ana.client, &app, "/dashboard").await;
    assert_eq!(status, 200);
    let own = html(&own);
    assert_eq!(metric(&own, "week-load"), "380");
    assert_ne!(metric(&own, "ctl"), coach_ctl);
    assert!(
        text_of(&own, "#coach-banner").is_none(),
        "no banner for the athlete"
    );
    // The range fragment over htmx keeps the coach's links.
    let res = coach
        .get(app.url(&format!("{base}?range=6w")))
        .header("HX-Request", "true")
        .header("HX-Target", "dash-range")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let fragment = res.text().await.unwrap();
    assert!(fragment.contains("id=\"dash-range\""));
    assert!(fragment.contains(&format!("{base}?range=1y")));

    // Calendar: uploads only, linked under the coach path.
    let (status, body) = get(&coach, &app, &format!("{base}/calendar")).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only(&body, &base, "calendar");
    assert!(body.contains(&format!("{base}/activities/{}", ana.uploads[1])));
    assert!(
        text_of(&html(&body), "#withheld")
            .unwrap()
            .contains("3 Strava activities are not shown")
    );
    for strava in ana.stravas {
        assert!(!body.contains(&strava.to_string()));
    }

    // List: two activities, the withheld count.
    let (status, body) = get(&coach, &app, &format!("{base}/activities")).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only(&body, &base, "list");
    let doc = html(&body);
    assert!(
        text_of(&doc, "#list-totals")
            .unwrap()
            .starts_with("2 activities")
    );
    assert!(
        text_of(&doc, "#withheld")
            .unwrap()
            .contains("3 Strava activities are not shown")
    );
    assert!(!body.contains("Strava two"));

    // Activity page: the summary, nothing from streams, no original.
    let page = format!("{base}/activities/{}", ana.uploads[0]);
    let (status, body) = get(&coach, &app, &page).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only(&body, &base, "activity");
    let doc = html(&body);
    assert!(
        text_of(&doc, "#activity-summary")
            .unwrap()
            .contains("Training load")
    );
    assert!(text_of(&doc, "#summary-only").is_some());
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(
        doc.select(&sel(".route-card, .chart-card, #zones, #laps, svg.chart"))
            .count(),
        0,
        "{body}"
    );
    assert!(
        !body.contains("/original"),
        "no download for summary access"
    );
    assert_eq!(get(&coach, &app, &format!("{page}/original")).await.0, 404);

    // Strava activities answer 404 as if they did not exist.
    for strava in ana.stravas {
        assert_eq!(
            get(&coach, &app, &format!("{base}/activities/{strava}"))
                .await
                .0,
            404
        );
    }
}

#[tokio::test]
async fn a_full_coach_sees_charts_route_and_the_original_file() {
    let app = TestApp::spawn().await;
    let ana = ana(&app).await;
    let (coach, coach_id) = signed_in(&app, "coach@example.org", &["coach"]).await;
    link(&app, coach_id, ana.id, "full").await;
    let base = format!("/coach/athletes/{}", ana.id);
    let page = format!("{base}/activities/{}", ana.uploads[0]);
    let (status, body) = get(&coach, &app, &page).await;
    assert_eq!(status, 200, "{body}");
    assert_read_only(&body, &base, "activity (full)");
    let doc = html(&body);
    assert!(
        text_of(&doc, "#coach-banner")
            .unwrap()
            .contains("Viewing Ana's training as coach (full access)")
    );
    let sel = |s: &str| scraper::Selector::parse(s).unwrap();
    assert_eq!(doc.select(&sel(".route-card")).count(), 1, "the route");
    assert!(doc.select(&sel(".chart-card")).count() >= 2, "the charts");
    assert!(text_of(&doc, "#summary-only").is_none());
    assert!(body.contains(&format!("{page}/original")));
    let res = coach
        .get(app.url(&format!("{page}/original")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"the original file");
    // Still nothing from Strava, even with full access.
    let strava = format!("{base}/activities/{}", ana.stravas[0]);
    assert_eq!(get(&coach, &app, &strava).await.0, 404);
    assert_eq!(
        get(&coach, &app, &format!("{strava}/original")).await.0,
        404
    );
}

#[tokio::test]
async fn revocation_other_coaches_and_other_athletes_ids_answer_404() {
    let app = TestApp::spawn().await;
    let ana = ana(&app).await;
    let ben = create_user(&app, "ben@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    let ben_ride = store(&app, ben, Source::Upload, "Ben's ride", today, 60.0, None).await;
    let (coach, coach_id) = signed_in(&app, "coach@example.org", &["coach"]).await;
    link(&app, coach_id, ana.id, "full").await;
    link(&app, coach_id, ben, "full").await;
    let base = format!("/coach/athletes/{}", ana.id);
    let pages = [
        base.clone(),
        format!("{base}/calendar"),
        format!("{base}/activities"),
        format!("{base}/activities/{}", ana.uploads[0]),
        format!("{base}/activities/{}/original", ana.uploads[0]),
    ];
    for page in &pages {
        assert_eq!(get(&coach, &app, page).await.0, 200, "{page}");
    }
    // Ben's activity under Ana's path.
    assert_eq!(
        get(&coach, &app, &format!("{base}/activities/{ben_ride}"))
            .await
            .0,
        404
    );
    assert_eq!(
        get(
            &coach,
            &app,
            &format!("{base}/activities/{ben_ride}/original")
        )
        .await
        .0,
        404
    );
    assert_eq!(
        get(&coach, &app, &format!("{base}/activities/not-a-uuid"))
            .await
            .0,
        404
    );
    assert_eq!(get(&coach, &app, "/coach/athletes/not-a-uuid").await.0, 404);

    // Another coach, and a signed-in athlete who is not a coach.
    let (other, _) = signed_in(&app, "other-coach@example.org", &["coach"]).await;
    let (athlete, _) = signed_in(&app, "cleo@example.org", &["athlete"]).await;
    for page in &pages {
        assert_eq!(
            get(&other, &app, page).await.0,
            404,
            "another coach: {page}"
        );
        assert_eq!(
            get(&athlete, &app, page).await.0,
            403,
            "not a coach: {page}"
        );
        assert_eq!(
            get(&new_client(), &app, page).await.0,
            303,
            "anonymous: {page}"
        );
    }

    // Revoked: the same session gets 404 on its very next request.
    sqlx::query("DELETE FROM coach_links WHERE coach_id = $1 AND athlete_id = $2")
        .bind(coach_id)
        .bind(ana.id)
        .execute(&app.db)
        .await
        .unwrap();
    for page in &pages {
        assert_eq!(get(&coach, &app, page).await.0, 404, "revoked: {page}");
    }
    // Ben's link is untouched.
    assert_eq!(
        get(&coach, &app, &format!("/coach/athletes/{ben}")).await.0,
        200
    );
    // Downgraded to summary: the original file goes at once.
    sqlx::query(
        "UPDATE coach_links SET access = 'summary' WHERE coach_id = $1 AND athlete_id = $2",
    )
    .bind(coach_id)
    .bind(ben)
    .execute(&app.db)
    .await
    .unwrap();
    let ben_page = format!("/coach/athletes/{ben}/activities/{ben_ride}");
    let (status, body) = get(&coach, &app, &ben_page).await;
    assert_eq!(status, 200);
    assert!(body.contains("summary access"));
}

#[tokio::test]
async fn a_coach_cannot_reach_the_athletes_data_through_the_athletes_own_routes() {
    let app = TestApp::spawn().await;
    let ana = ana(&app).await;
    let (coach, coach_id) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    link(&app, coach_id, ana.id, "full").await;
    let token = app.csrf_token(&coach).await;
    let ride = ana.uploads[0];
    for path in [
        format!("/activities/{ride}"),
        format!("/activities/{ride}/original"),
        format!("/activities/{ride}/export.gpx"),
    ] {
        assert_eq!(get(&coach, &app, &path).await.0, 404, "{path}");
    }
    for (path, form) in [
        (
            format!("/activities/{ride}"),
            vec![("name", "Renamed by coach"), ("sport", "running")],
        ),
        (format!("/activities/{ride}/delete"), vec![]),
    ] {
        let mut form = form;
        form.push(("csrf_token", token.as_str()));
        let res = coach.post(app.url(&path)).form(&form).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }
    let (name, sport): (String, String) =
        sqlx::query_as("SELECT name, sport FROM activities WHERE id = $1")
            .bind(ride)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (name.as_str(), sport.as_str()),
        ("Uploaded ride", "cycling")
    );
    // The coach's own pages show the coach's own (empty) data, not Ana's.
    let (status, body) = get(&coach, &app, "/activities").await;
    assert_eq!(status, 200);
    assert!(!body.contains("Uploaded ride"));
    // No coach route accepts a POST.
    let res = coach
        .post(app.url(&format!("/coach/athletes/{}/activities/{ride}", ana.id)))
        .form(&[
            ("csrf_token", token.as_str()),
            ("name", "x"),
            ("sport", "running"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
}

#[tokio::test]
async fn the_coach_dashboard_is_built_from_a_constant_number_of_statements() {
    let (app, counter) = TestApp::spawn_counting().await;
    let today = app.clock.now().date_naive();
    let options = pierre::seed_bulk::BulkOptions {
        athletes: 1,
        days: 730,
        seed: 11,
        password: "two years of training".to_owned(),
        today,
    };
    pierre::seed_bulk::seed_bulk(&app.db, &options, |_| {})
        .await
        .unwrap();
    let athlete: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(pierre::seed_bulk::bulk_email(0))
        .fetch_one(&app.db)
        .await
        .unwrap();
    let (coach, coach_id) = signed_in(&app, "coach@example.org", &["coach"]).await;
    link(&app, coach_id, athlete, "summary").await;
    let base = format!("/coach/athletes/{athlete}");
    for range in ["", "?range=6w", "?range=all"] {
        // The session, the link, the overview (and the summary when the
        // charts are not cached yet).
        for (view, most) in [("first", 4), ("again", 3)] {
            counter.reset();
            let (status, body) = get(&coach, &app, &format!("{base}{range}")).await;
            assert_eq!(status, 200);
            assert!(
                !metric(&html(&body), "ctl").is_empty(),
                "the page has figures"
            );
            let statements = counter.statements();
            assert!(counter.count() <= most, "{range} {view}: {statements:#?}");
            assert!(
                statements.iter().all(|s| !s.contains("activity_streams")),
                "dashboards never read streams: {statements:#?}"
            );
        }
    }
    assert_eq!(counter.count(), 3, "{:#?}", counter.statements());
}
