//! The athlete dashboard: figures from known daily loads, weekly totals, the
//! range switch, empty states, and threshold changes recomputing history.

use chrono::{Datelike as _, NaiveDate, TimeDelta};
use pierre::domain::{ParsedActivity, Sport};
use pierre::synthetic::{self, AthleteProfile, PlannedSession, Workout};
use uuid::Uuid;

use crate::accounts::signed_in;
use crate::support::{TestApp, html, store_activity, text_of};

/// A one-hour synthetic activity on `day` at 08:00 UTC.
pub fn activity_on(day: NaiveDate, sport: Sport, seed: u64) -> ParsedActivity {
    let profile = AthleteProfile::triathlete();
    synthetic::activity(
        &profile,
        &PlannedSession {
            start: day.and_hms_opt(8, 0, 0).unwrap().and_utc(),
            sport,
            indoor: false,
            workout: Workout::Endurance,
            duration_s: 3600.0,
            seed,
        },
    )
}

/// Store `parsed` for `user` with the given load (other metrics computed
/// without thresholds), through the same insert the importer uses.
pub async fn store_with_load(
    app: &TestApp,
    user: Uuid,
    parsed: &ParsedActivity,
    load: f64,
) -> Uuid {
    let mut metrics = pierre::training::metrics_for(parsed, &[]);
    metrics.load = load;
    metrics.load_source = pierre::analytics::load::LoadSource::Power;
    store_activity(app, user, "Known load", parsed, Some(&metrics)).await
}

pub fn metric(doc: &scraper::Html, name: &str) -> String {
    text_of(doc, &format!("[data-metric=\"{name}\"]")).unwrap_or_default()
}

/// CTL/ATL by the recurrence of ANALYTICS.md, written out independently.
fn expected(loads: &[f64]) -> (f64, f64, f64) {
    let kc = 1.0 - (-1.0f64 / 42.0).exp();
    let ka = 1.0 - (-1.0f64 / 7.0).exp();
    let (mut ctl, mut atl, mut tsb) = (0.0, 0.0, 0.0);
    for l in loads {
        tsb = ctl - atl;
        ctl += (l - ctl) * kc;
        atl += (l - atl) * ka;
    }
    (ctl, atl, tsb)
}

#[tokio::test]
async fn the_dashboard_shows_fitness_fatigue_form_and_weekly_totals_from_known_loads() {
    let app = TestApp::spawn().await;
    let (client, user) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    // 100 on day −40, 80 on day −10, 60 and (running) 30 on day −1 or in this
    // week, 50 today.
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let plan = [
        (today - TimeDelta::days(40), Sport::Cycling, 100.0),
        (today - TimeDelta::days(10), Sport::Cycling, 80.0),
        (monday - TimeDelta::days(3), Sport::Running, 30.0),
        (today, Sport::Cycling, 50.0),
    ];
    for (i, (day, sport, load)) in plan.iter().enumerate() {
        store_with_load(&app, user, &activity_on(*day, *sport, i as u64), *load).await;
    }
    let first = plan[0].0;
    let n = usize::try_from((today - first).num_days()).unwrap() + 1;
    let mut loads = vec![0.0; n];
    for (day, _, load) in &plan {
        loads[usize::try_from((*day - first).num_days()).unwrap()] += load;
    }
    let (ctl, atl, tsb) = expected(&loads);

    let res = client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc = html(&res.text().await.unwrap());
    assert_eq!(metric(&doc, "ctl"), format!("{ctl:.0}"));
    assert_eq!(metric(&doc, "atl"), format!("{atl:.0}"));
    let shown_tsb = metric(&doc, "tsb").replace('−', "-").replace('+', "");
    assert!(
        (shown_tsb.parse::<f64>().unwrap() - tsb.round()).abs() < 1e-9,
        "{shown_tsb} vs {tsb}"
    );
    let week: f64 = loads.iter().rev().take(7).sum();
    assert_eq!(metric(&doc, "week-load"), format!("{week:.0}"));
    assert!(text_of(&doc, "#form-status").unwrap().contains("TSB"));

    // Weekly table: this week's cycling load is today's 50 (plus day −10 only
    // if it falls in this week, which it cannot); the four weeks before hold
    // 80 (day −10) → mean 20, and the run of 30 → mean 7.5.
    let ride = text_of(
        &doc,
        "#weekly tr[data-sport=\"Cycling\"] [data-col=\"load\"]",
    )
    .unwrap();
    assert!(ride.starts_with("50"), "{ride}");
    let ride_avg = text_of(
        &doc,
        "#weekly tr[data-sport=\"Cycling\"] [data-col=\"avg-load\"]",
    )
    .unwrap();
    assert_eq!(ride_avg, "20");
    let run_avg = text_of(
        &doc,
        "#weekly tr[data-sport=\"Running\"] [data-col=\"avg-load\"]",
    )
    .unwrap();
    assert_eq!(run_avg, "8", "7.5 rounds to 8");
    // Recent activities link to the activities; the PMC chart is drawn.
    assert!(
        doc.select(&scraper::Selector::parse("#recent a[href^=\"/activities/\"]").unwrap())
            .count()
            >= 4
    );
    assert!(
        doc.select(&scraper::Selector::parse("#dash-range svg").unwrap())
            .count()
            >= 1
    );
    // The rides carry power and the run distance: power curve, records,
    // best efforts (all set within two weeks: "new") and the heat map are drawn.
    let count = |sel: &str| doc.select(&scraper::Selector::parse(sel).unwrap()).count();
    assert_eq!(count("#power-curve-svg-svg-title"), 1, "power curve");
    assert!(count("#power-records tbody tr") >= 1);
    assert!(count("#best-efforts tbody tr") >= 1);
    assert!(count("#new-records li") >= 1);
    assert_eq!(
        count("#heat-map svg rect"),
        365,
        "one cell a day for a year"
    );

    // The range switch over htmx returns only the range region.
    let res = client
        .get(app.url("/dashboard?range=1y"))
        .header("HX-Request", "true")
        .header("HX-Target", "dash-range")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.trim_start().starts_with("<section id=\"dash-range\""),
        "{body:.200}"
    );
    assert!(!body.contains("<html"));
    assert!(body.contains("aria-current=\"page\">1 year"));
    // Without htmx the same URL is a full page; a bogus range falls back to 90 days.
    let full = client
        .get(app.url("/dashboard?range=bogus"))
        .send()
        .await
        .unwrap();
    assert_eq!(full.status(), 200);
    assert!(
        full.text()
            .await
            .unwrap()
            .contains("aria-current=\"page\">90 days")
    );
}

#[tokio::test]
async fn a_new_athlete_sees_explaining_empty_states_and_no_thresholds_is_said() {
    let app = TestApp::spawn().await;
    let (client, user) = signed_in(&app, "new@example.org", &["athlete"]).await;
    let body = client
        .get(app.url("/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("No activities yet"));
    assert!(body.contains("href=\"/activities/upload\""));
    assert!(body.contains("href=\"/settings/thresholds\""));

    // An activity without thresholds: no load is invented and the page says so.
    let parsed = activity_on(app.clock.now().date_naive(), Sport::Cycling, 3);
    let metrics = pierre::training::metrics_for(&parsed, &[]);
    assert!(metrics.load.abs() < f64::EPSILON, "no thresholds, no load");
    store_with_load(&app, user, &parsed, 0.0).await;
    let doc = html(
        &client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        text_of(&doc, "#no-thresholds")
            .unwrap()
            .contains("No thresholds yet")
    );
    assert!(text_of(&doc, "#load-sources").is_some());
}

async fn wait_for_job(app: &TestApp, user: Uuid) {
    for _ in 0..600 {
        let state: Option<String> = sqlx::query_scalar(
            "SELECT state FROM jobs WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(user)
        .fetch_optional(&app.db)
        .await
        .unwrap();
        match state.as_deref() {
            Some("done") => return,
            Some("dead") => panic!("the recompute job died"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
    panic!("the recompute job did not finish");
}

#[tokio::test]
async fn a_threshold_change_recomputes_history_in_the_background() {
    let app = TestApp::spawn().await;
    let (client, user) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    let old_day = today - TimeDelta::days(20);
    let recent_day = today - TimeDelta::days(2);
    let mut ids = Vec::new();
    for (i, day) in [old_day, recent_day].into_iter().enumerate() {
        let parsed = activity_on(day, Sport::Cycling, 10 + i as u64);
        let metrics = pierre::training::metrics_for(&parsed, &[]);
        let id = store_activity(&app, user, "Ride", &parsed, Some(&metrics)).await;
        ids.push((id, parsed));
    }
    let load_of = |id: Uuid| {
        let db = app.db.clone();
        async move {
            sqlx::query_as::<_, (f64, String)>(
                "SELECT load, load_source FROM activities WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(load_of(ids[0].0).await, (0.0, "none".to_owned()));

    // FTP from ten days ago: the recent ride gets power TSS, the old one not.
    let token = app.csrf_token(&client).await;
    let from = (today - TimeDelta::days(10)).format("%Y-%m-%d").to_string();
    let res = client
        .post(app.url("/settings/thresholds"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("sport", "cycling"),
            ("effective_from", from.as_str()),
            ("ftp", "250"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    wait_for_job(&app, user).await;

    let (old_load, old_source) = load_of(ids[0].0).await;
    assert_eq!(
        (old_load, old_source.as_str()),
        (0.0, "none"),
        "before the FTP date"
    );
    let (new_load, new_source) = load_of(ids[1].0).await;
    assert_eq!(new_source, "power");
    // The same value the importer would compute with that threshold.
    let history = pierre::db::thresholds::history(&mut app.db.acquire().await.unwrap(), user)
        .await
        .unwrap();
    let want = pierre::training::metrics_for(&ids[1].1, &history).load;
    assert!(
        (new_load - want).abs() < 1e-9 && want > 10.0,
        "{new_load} vs {want}"
    );

    // The daily load series was rebuilt: the dashboard's 7-day load is that TSS.
    let doc = html(
        &client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(metric(&doc, "week-load"), format!("{want:.0}"));
    // The progress fragment reports the finished job.
    let status = client
        .get(app.url("/settings/thresholds/recompute"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("recomputed"), "{status}");
    assert!(status.contains("(1 activity)"), "{status}");
    assert!(!status.contains("hx-trigger"), "no more polling once done");
}

#[tokio::test]
async fn the_activity_page_shows_time_in_zones_and_its_curve_against_the_90_day_best() {
    let app = TestApp::spawn().await;
    let (client, user) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::thresholds::upsert(
        &mut conn,
        user,
        "cycling",
        today - TimeDelta::days(200),
        &pierre::db::thresholds::Thresholds {
            ftp_w: Some(250.0),
            lthr_bpm: Some(165.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop(conn);
    let ride = activity_on(today - TimeDelta::days(5), Sport::Cycling, 21);
    let older = activity_on(today - TimeDelta::days(30), Sport::Cycling, 22);
    let id = store_with_load(&app, user, &ride, 50.0).await;
    store_with_load(&app, user, &older, 40.0).await;

    let body = client
        .get(app.url(&format!("/activities/{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&body);
    let zones = text_of(&doc, "#zones").unwrap();
    assert!(zones.contains("Time in power zones"), "{zones}");
    assert!(zones.contains("Time in heart-rate zones"));
    assert!(zones.contains("Z2 Endurance"));
    let curve = doc
        .select(&scraper::Selector::parse("#activity-curve-card svg polyline").unwrap())
        .count();
    assert_eq!(curve, 2, "this activity and the 90-day best");

    // The 90-day best is the per-rung maximum of both rides, computed here
    // from what the importer stored.
    let best: Vec<Option<f32>> = sqlx::query_scalar(
        "SELECT array_agg(m ORDER BY i) FROM (SELECT p.i, max(p.v) m FROM activities a,
             unnest(a.power_curve) WITH ORDINALITY p(v, i) WHERE a.user_id = $1 GROUP BY p.i) s",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let stored: Vec<Option<f32>> =
        sqlx::query_scalar("SELECT power_curve FROM activities WHERE id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(best.iter().zip(&stored).all(|(b, s)| b >= s));
    assert!(
        best.iter().zip(&stored).any(|(b, s)| b > s),
        "the older ride beats it somewhere"
    );
}

#[tokio::test]
async fn the_dashboard_of_five_years_is_built_from_at_most_five_statements() {
    let (app, counter) = TestApp::spawn_counting().await;
    let today = app.clock.now().date_naive();
    let options = pierre::seed_bulk::BulkOptions {
        athletes: 1,
        days: 1825,
        seed: 7,
        password: "five years of training".to_owned(),
        today,
    };
    pierre::seed_bulk::seed_bulk(&app.db, &options, |_| {})
        .await
        .unwrap();
    let activities: i64 = sqlx::query_scalar("SELECT count(*) FROM activities")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(activities > 1000, "five years: {activities}");
    let client = crate::support::new_client();
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("email", pierre::seed_bulk::bulk_email(0).as_str()),
            ("password", "five years of training"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    for range in ["", "?range=6w", "?range=1y", "?range=all"] {
        // First view of the range: the charts are drawn (the range's power
        // curve is read, except for "all"); the second view takes them from
        // the cache: the session lookup and the one overview statement.
        for (view, most) in [("first", 3), ("again", 2)] {
            counter.reset();
            let res = client
                .get(app.url(&format!("/dashboard{range}")))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            let doc = html(&res.text().await.unwrap());
            assert!(!metric(&doc, "ctl").is_empty(), "the page has figures");
            let statements = counter.statements();
            assert!(counter.count() <= most, "{range} {view}: {statements:#?}");
            assert!(
                statements.iter().all(|s| !s.contains("activity_streams")),
                "dashboards never read streams: {statements:#?}"
            );
        }
    }
    assert_eq!(counter.count(), 2, "{:#?}", counter.statements());
}

#[tokio::test]
async fn cached_charts_follow_new_imports_and_deletes() {
    let app = TestApp::spawn().await;
    let (client, user) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    store_with_load(
        &app,
        user,
        &activity_on(today - TimeDelta::days(3), Sport::Cycling, 1),
        100.0,
    )
    .await;
    let desc = |body: String| text_of(&html(&body), "#pmc-desc").unwrap_or_default();
    let get = || async {
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let first = desc(get().await);
    assert_eq!(
        desc(get().await),
        first,
        "the same charts again (from the cache)"
    );
    let id = store_with_load(&app, user, &activity_on(today, Sport::Cycling, 2), 200.0).await;
    let second = desc(get().await);
    assert_ne!(
        second, first,
        "a new import shows at once: {first} / {second}"
    );
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url(&format!("/activities/{id}/delete")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(desc(get().await), first, "and so does a delete");
}
