//! The coach roster (`GET /coach`): figures equal to the athlete's dashboard
//! for what coaches may see, flags, sorting, filtering and tags over htmx, a
//! revoked link, refusal of non-coaches, and a statement count independent of
//! the number of athletes.

use chrono::{NaiveDate, TimeDelta};
use pierre::db::summaries::{self, Scope, Summary};
use pierre::domain::Sport;
use uuid::Uuid;

use crate::accounts::{create_user, signed_in};
use crate::dashboard::{activity_on, metric, store_with_load};
use crate::support::{TestApp, html, text_of};

async fn link(app: &TestApp, coach: Uuid, athlete: Uuid) {
    sqlx::query(
        "INSERT INTO coach_links (coach_id, athlete_id, access) VALUES ($1, $2, 'summary')",
    )
    .bind(coach)
    .bind(athlete)
    .execute(&app.db)
    .await
    .unwrap();
}

async fn set_name(app: &TestApp, user: Uuid, name: &str) {
    sqlx::query("UPDATE users SET display_name = $2 WHERE id = $1")
        .bind(user)
        .bind(name)
        .execute(&app.db)
        .await
        .unwrap();
}

async fn add_thresholds(app: &TestApp, user: Uuid, from: NaiveDate) {
    sqlx::query(
        "INSERT INTO athlete_thresholds (user_id, sport, effective_from, ftp_w) VALUES ($1, 'cycling', $2, 250)",
    )
    .bind(user)
    .bind(from)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Store a coach summary (both scopes) of daily `loads` ending on `last`.
async fn store_loads(app: &TestApp, user: Uuid, last: NaiveDate, loads: &[f64]) {
    let first = last - TimeDelta::days(i64::try_from(loads.len()).unwrap() - 1);
    let s = Summary {
        first_day: first,
        loads: loads.to_vec(),
        ..Summary::empty(first)
    };
    let mut conn = app.db.acquire().await.unwrap();
    for scope in [Scope::All, Scope::Coach] {
        summaries::store(&mut conn, user, scope, &s).await.unwrap();
    }
}

/// A new athlete named `name` linked to `coach`.
async fn athlete(app: &TestApp, coach: Uuid, email: &str, name: &str) -> Uuid {
    let id = create_user(app, email, &["athlete"]).await;
    set_name(app, id, name).await;
    link(app, coach, id).await;
    id
}

fn row_metric(doc: &scraper::Html, athlete: Uuid, name: &str) -> String {
    text_of(
        doc,
        &format!("tr[data-athlete=\"{athlete}\"] [data-metric=\"{name}\"]"),
    )
    .unwrap_or_default()
}

fn row_flags(doc: &scraper::Html, athlete: Uuid) -> Vec<String> {
    let sel =
        scraper::Selector::parse(&format!("tr[data-athlete=\"{athlete}\"] [data-flag]")).unwrap();
    doc.select(&sel)
        .map(|e| e.value().attr("data-flag").unwrap().to_owned())
        .collect()
}

fn athlete_order(doc: &scraper::Html) -> Vec<String> {
    let sel = scraper::Selector::parse("#roster-table tbody tr[data-athlete] th a").unwrap();
    doc.select(&sel)
        .map(|e| e.text().collect::<String>())
        .collect()
}

async fn roster(client: &reqwest::Client, app: &TestApp, query: &str) -> scraper::Html {
    let res = client
        .get(app.url(&format!("/coach{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "/coach{query}");
    html(&res.text().await.unwrap())
}

#[tokio::test]
async fn roster_figures_equal_the_dashboard_and_leave_out_strava() {
    let app = TestApp::spawn().await;
    let (coach_client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let (ana_client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    set_name(&app, ana, "Ana").await;
    link(&app, coach, ana).await;
    let today = app.clock.now().date_naive();
    for (i, (days_ago, load)) in [(45, 90.0), (20, 120.0), (9, 60.0), (2, 150.0), (0, 40.0)]
        .into_iter()
        .enumerate()
    {
        let day = today - TimeDelta::days(days_ago);
        store_with_load(&app, ana, &activity_on(day, Sport::Cycling, i as u64), load).await;
    }
    let dash = html(
        &ana_client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    let doc = roster(&coach_client, &app, "").await;
    for name in ["ctl", "atl", "tsb", "week-load", "acwr", "ramp"] {
        let on_dashboard = metric(&dash, name).replace("/week", "");
        assert!(!on_dashboard.is_empty(), "{name} on the dashboard");
        assert_eq!(row_metric(&doc, ana, name), on_dashboard, "{name}");
    }
    assert!(
        text_of(&doc, "main").unwrap().contains("Strava"),
        "the page says what is counted"
    );

    // A Strava ride: on the athlete's dashboard, not in the coach's figures.
    let ride = activity_on(today - TimeDelta::days(1), Sport::Cycling, 99);
    let mut metrics = pierre::training::metrics_for(&ride, &[]);
    metrics.load = 300.0;
    metrics.load_source = pierre::analytics::load::LoadSource::Power;
    let mut tx = app.db.begin().await.unwrap();
    let stored = pierre::db::activities::insert(
        &mut tx,
        &pierre::db::activities::NewActivity {
            user_id: ana,
            source: pierre::db::activities::Source::Strava,
            external_id: Some("strava-1"),
            name: "Strava ride",
            parsed: &ride,
            file_sha256: None,
            original: None,
            metrics: Some(&metrics),
        },
    )
    .await
    .unwrap();
    assert!(
        matches!(stored, pierre::db::activities::Stored::Imported(_)),
        "{stored:?}"
    );
    tx.commit().await.unwrap();
    let dash_after = html(
        &ana_client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_ne!(
        metric(&dash_after, "week-load"),
        metric(&dash, "week-load"),
        "the athlete sees it"
    );
    let after = roster(&coach_client, &app, "").await;
    for name in ["ctl", "atl", "week-load"] {
        assert_eq!(
            row_metric(&after, ana, name),
            metric(&dash, name),
            "{name} without Strava"
        );
    }
    let last = row_metric(&after, ana, "last");
    assert!(last.contains("today"), "{last}");
    // The name links to the coach's view of the athlete; the sparkline is drawn.
    let link_sel = format!("tr[data-athlete=\"{ana}\"] a[href=\"/coach/athletes/{ana}\"]");
    assert_eq!(
        after
            .select(&scraper::Selector::parse(&link_sel).unwrap())
            .count(),
        1
    );
    let spark = format!("tr[data-athlete=\"{ana}\"] svg.sparkline polyline");
    assert_eq!(
        after
            .select(&scraper::Selector::parse(&spark).unwrap())
            .count(),
        1
    );
}

#[tokio::test]
async fn each_flag_appears_for_a_constructed_athlete() {
    let app = TestApp::spawn().await;
    let (client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let today = app.clock.now().date_naive();
    let year_ago = today - TimeDelta::days(365);
    // Steady: 50 a day for 120 days, thresholds: no flag.
    let steady = athlete(&app, coach, "steady@example.org", "Steady").await;
    store_loads(&app, steady, today, &[50.0; 120]).await;
    add_thresholds(&app, steady, year_ago).await;
    // Overreaching: 60 days at 40 then 14 at 220: TSB, ramp and ACWR.
    let over = athlete(&app, coach, "over@example.org", "Over").await;
    let mut loads = vec![40.0; 60];
    loads.extend([220.0; 14]);
    store_loads(&app, over, today, &loads).await;
    add_thresholds(&app, over, year_ago).await;
    // Inactive: steady until 10 days ago.
    let idle = athlete(&app, coach, "idle@example.org", "Idle").await;
    store_loads(&app, idle, today - TimeDelta::days(10), &[50.0; 100]).await;
    add_thresholds(&app, idle, year_ago).await;
    // No thresholds, otherwise steady.
    let bare = athlete(&app, coach, "bare@example.org", "Bare").await;
    store_loads(&app, bare, today, &[50.0; 120]).await;
    // Nothing recorded at all.
    let new = athlete(&app, coach, "new@example.org", "New").await;
    add_thresholds(&app, new, year_ago).await;

    let doc = roster(&client, &app, "").await;
    assert!(
        row_flags(&doc, steady).is_empty(),
        "{:?}",
        row_flags(&doc, steady)
    );
    assert_eq!(
        row_flags(&doc, over),
        ["TSB below −30", "Ramp above 8/week", "ACWR above 1.5"]
    );
    assert_eq!(row_flags(&doc, idle), ["Nothing for 7 days"]);
    assert!(row_metric(&doc, idle, "last").contains("10 days ago"));
    assert_eq!(row_flags(&doc, bare), ["No thresholds"]);
    assert_eq!(row_flags(&doc, new), ["Nothing for 7 days"]);
    assert_eq!(row_metric(&doc, new, "ctl"), "–");
    // TSB is coloured by the dashboard's form buckets.
    let tsb = scraper::Selector::parse(&format!(
        "tr[data-athlete=\"{over}\"] [data-metric=\"tsb\"]"
    ))
    .unwrap();
    let class = doc
        .select(&tsb)
        .next()
        .unwrap()
        .value()
        .attr("class")
        .unwrap()
        .to_owned();
    assert!(class.contains("tone-error"), "{class}");

    // Filtering by each flag.
    for (flag, who) in [
        ("form", vec!["Over"]),
        ("ramp", vec!["Over"]),
        ("acwr", vec!["Over"]),
        ("inactive", vec!["Idle", "New"]),
        ("thresholds", vec!["Bare"]),
    ] {
        let doc = roster(&client, &app, &format!("?flag={flag}")).await;
        assert_eq!(athlete_order(&doc), who, "flag={flag}");
    }
}

#[tokio::test]
async fn sorting_filtering_and_tags_round_trip_over_htmx() {
    let app = TestApp::spawn().await;
    let (client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let today = app.clock.now().date_naive();
    let mut ids = Vec::new();
    for (name, load) in [("Carla", 30.0), ("ana", 80.0), ("Bruno", 55.0)] {
        let id = athlete(
            &app,
            coach,
            &format!("{}@example.org", name.to_lowercase()),
            name,
        )
        .await;
        store_loads(&app, id, today, &vec![load; 90]).await;
        ids.push(id);
    }
    let doc = roster(&client, &app, "").await;
    assert_eq!(
        athlete_order(&doc),
        ["ana", "Bruno", "Carla"],
        "by name, case-insensitive"
    );
    let doc = roster(&client, &app, "?sort=ctl&dir=desc").await;
    assert_eq!(athlete_order(&doc), ["ana", "Bruno", "Carla"]);
    let doc = roster(&client, &app, "?sort=ctl").await;
    assert_eq!(athlete_order(&doc), ["Carla", "Bruno", "ana"]);
    // The active header sorts the other way next.
    let sel = scraper::Selector::parse("th[aria-sort=\"ascending\"] a").unwrap();
    let href = doc
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_owned();
    assert_eq!(href, "/coach?sort=ctl&dir=desc");
    let doc = roster(&client, &app, "?q=BRU").await;
    assert_eq!(athlete_order(&doc), ["Bruno"]);
    assert!(text_of(&doc, "#roster-count").unwrap().contains("1 of 3"));

    // htmx asks for the table region only.
    let res = client
        .get(app.url("/coach?sort=tsb"))
        .header("HX-Request", "true")
        .header("HX-Target", "roster-region")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.trim_start()
            .starts_with("<section id=\"roster-region\""),
        "{body:.200}"
    );
    assert!(!body.contains("<html"));
    assert!(
        !body.contains("roster-filters\" class"),
        "the filter form stays in place"
    );

    // The tag forms appear in the "edit groups" view only.
    let form = scraper::Selector::parse("form[action$=\"/tags\"]").unwrap();
    assert_eq!(doc.select(&form).count(), 0);
    let editing = roster(&client, &app, "?edit=groups").await;
    assert_eq!(editing.select(&form).count(), 3);
    let back = scraper::Selector::parse("form[action$=\"/tags\"] input[name=\"back\"]").unwrap();
    assert_eq!(
        editing.select(&back).next().unwrap().value().attr("value"),
        Some("/coach?edit=groups")
    );

    // Tags: add, filter, bad input, remove.
    let token = app.csrf_token(&client).await;
    let add = |athlete: Uuid, tag: &'static str| {
        let client = client.clone();
        let token = token.clone();
        let url = app.url(&format!("/coach/athletes/{athlete}/tags"));
        async move {
            client
                .post(url)
                .form(&[
                    ("csrf_token", token.as_str()),
                    ("tag", tag),
                    ("back", "/coach?sort=ctl"),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let res = add(ids[0], " juniors ").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/coach?sort=ctl");
    assert_eq!(add(ids[2], "juniors").await.status(), 303);
    assert_eq!(add(ids[2], "juniors").await.status(), 303, "twice is fine");
    let doc = roster(&client, &app, "?tag=juniors").await;
    assert_eq!(athlete_order(&doc), ["Bruno", "Carla"]);
    let opt = scraper::Selector::parse("#roster-tag option[selected]").unwrap();
    assert_eq!(
        doc.select(&opt).next().unwrap().text().collect::<String>(),
        "juniors"
    );
    let res = add(ids[0], "   ").await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("1 to 40 characters"));
    let long: &'static str = Box::leak("x".repeat(41).into_boxed_str());
    assert_eq!(add(ids[0], long).await.status(), 422);
    // Someone who is not linked: 404.
    let other = create_user(&app, "other@example.org", &["athlete"]).await;
    assert_eq!(add(other, "juniors").await.status(), 404);
    let res = client
        .post(app.url(&format!("/coach/athletes/{}/tags/delete", ids[0])))
        .form(&[
            ("csrf_token", token.as_str()),
            ("tag", "juniors"),
            ("back", "/coach?tag=juniors"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/coach",
        "the emptied filter is dropped"
    );
    let doc = roster(&client, &app, "?tag=juniors").await;
    assert_eq!(athlete_order(&doc), ["Bruno"]);
    let res = client
        .post(app.url(&format!("/coach/athletes/{other}/tags/delete")))
        .form(&[("csrf_token", token.as_str()), ("tag", "juniors")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn revoked_links_disappear_and_only_coaches_get_the_roster() {
    let app = TestApp::spawn().await;
    let (client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let doc = roster(&client, &app, "").await;
    let empty = text_of(&doc, "#roster-empty").unwrap();
    assert!(empty.contains("Settings → Sharing"), "{empty}");
    assert_eq!(
        doc.select(
            &scraper::Selector::parse("#roster-empty a[href=\"/coach/invitations\"]").unwrap()
        )
        .count(),
        1
    );
    assert_eq!(
        doc.select(&scraper::Selector::parse("nav a[href=\"/coach\"]").unwrap())
            .count(),
        1,
        "Coach in the main navigation"
    );
    let ana = athlete(&app, coach, "ana@example.org", "Ana").await;
    let doc = roster(&client, &app, "").await;
    assert_eq!(athlete_order(&doc), ["Ana"]);
    // A disabled athlete is not listed (her coach pages answer 404), and is back when enabled.
    for (disabled, shown) in [(true, &[] as &[&str]), (false, &["Ana"])] {
        sqlx::query("UPDATE users SET disabled_at = CASE WHEN $2 THEN now() END WHERE id = $1")
            .bind(ana)
            .bind(disabled)
            .execute(&app.db)
            .await
            .unwrap();
        assert_eq!(athlete_order(&roster(&client, &app, "").await), shown);
    }
    sqlx::query("DELETE FROM coach_links WHERE coach_id = $1 AND athlete_id = $2")
        .bind(coach)
        .bind(ana)
        .execute(&app.db)
        .await
        .unwrap();
    let doc = roster(&client, &app, "").await;
    assert!(athlete_order(&doc).is_empty());
    assert!(text_of(&doc, "#roster-empty").is_some());

    let (athlete_client, _) = signed_in(&app, "bea@example.org", &["athlete"]).await;
    assert_eq!(
        athlete_client
            .get(app.url("/coach"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let page = athlete_client
        .get(app.url("/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("href=\"/coach\""),
        "no Coach entry for athletes"
    );
    let res = crate::support::new_client()
        .get(app.url("/coach"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn the_roster_takes_as_many_statements_for_200_athletes_as_for_3() {
    let (app, counter) = TestApp::spawn_counting().await;
    let today = app.clock.now().date_naive();
    let options = pierre::seed_bulk::BulkOptions {
        athletes: 200,
        days: 120,
        seed: 11,
        password: "bulk".to_owned(),
        today,
    };
    pierre::seed_bulk::seed_bulk(&app.db, &options, |_| {})
        .await
        .unwrap();
    let (client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let link_first = |n: i64| {
        sqlx::query(
            "INSERT INTO coach_links (coach_id, athlete_id, access)
             SELECT $1, id, 'summary' FROM users WHERE email_normalized LIKE '%@bulk.pierre.local'
             ORDER BY email_normalized LIMIT $2 ON CONFLICT DO NOTHING",
        )
        .bind(coach)
        .bind(n)
        .execute(&app.db)
    };
    let mut counts = Vec::new();
    for n in [3, 200] {
        link_first(n).await.unwrap();
        for view in ["first", "cached"] {
            counter.reset();
            let doc = roster(&client, &app, "?sort=tsb").await;
            assert_eq!(athlete_order(&doc).len(), usize::try_from(n).unwrap());
            let statements = counter.statements();
            assert!(
                statements.iter().all(|s| !s.contains("FROM activities")),
                "{statements:#?}"
            );
            counts.push((n, view, counter.count(), statements));
        }
    }
    let (three, many) = counts.split_at(2);
    for (a, b) in three.iter().zip(many) {
        assert_eq!(a.2, b.2, "{} view: {:#?} vs {:#?}", a.1, a.3, b.3);
    }
    assert!(
        counts[1].2 <= 2,
        "cached: the session and the links: {:#?}",
        counts[1].3
    );
    assert!(counts[0].2 <= 3, "first: and the loads: {:#?}", counts[0].3);
}

#[tokio::test]
async fn the_demo_coach_sees_twelve_athletes_and_every_flag() {
    use pierre::seed_coach::{self, SeededCoach};
    let app = TestApp::spawn().await;
    let today = app.clock.now().date_naive();
    let seeded = seed_coach::seed_demo_coach(&app.db, today).await.unwrap();
    let SeededCoach::Created {
        athletes,
        activities,
    } = seeded
    else {
        panic!("{seeded:?}");
    };
    assert_eq!(athletes, 12);
    assert!(activities > 12 * 150, "{activities}");
    assert_eq!(
        seed_coach::seed_demo_coach(&app.db, today).await.unwrap(),
        SeededCoach::AlreadyThere
    );
    let client = crate::support::new_client();
    let res = crate::accounts::login(
        &app,
        &client,
        seed_coach::COACH_EMAIL,
        pierre::seed::DEMO_PASSWORD,
    )
    .await;
    assert_eq!(res.status(), 303);
    let doc = roster(&client, &app, "").await;
    assert_eq!(athlete_order(&doc).len(), 12);
    let by_name = |name: &str| -> Vec<String> {
        let sel = scraper::Selector::parse("#roster-table tbody tr[data-athlete]").unwrap();
        let row = doc
            .select(&sel)
            .find(|r| r.text().collect::<String>().contains(name))
            .unwrap_or_else(|| panic!("{name}"));
        let flag = scraper::Selector::parse("[data-flag]").unwrap();
        row.select(&flag)
            .map(|e| e.value().attr("data-flag").unwrap().to_owned())
            .collect()
    };
    let report: Vec<(String, Vec<String>)> = seed_coach::ATHLETES
        .iter()
        .map(|a| (a.1.to_owned(), by_name(a.1)))
        .collect();
    let has = |name: &str, flag: &str| {
        report
            .iter()
            .any(|(n, f)| n == name && f.iter().any(|x| x == flag))
    };
    assert!(has("Ana Ribeiro", "TSB below −30"), "{report:#?}");
    assert!(has("Ana Ribeiro", "Ramp above 8/week"), "{report:#?}");
    assert!(has("Felix Braun", "ACWR above 1.5"), "{report:#?}");
    assert!(has("Eva Lindqvist", "Nothing for 7 days"), "{report:#?}");
    assert!(
        has("Greta Rossi", "Nothing for 7 days"),
        "Strava withheld: {report:#?}"
    );
    assert!(has("Dan Moreau", "No thresholds"), "{report:#?}");
    for steady in ["Hugo Martin", "Jon Arrieta", "Kaia Nilsen"] {
        assert!(
            !report.iter().any(|(n, f)| n == steady
                && f.iter()
                    .any(|x| x.contains("Nothing") || x.contains("thresholds"))),
            "{report:#?}"
        );
    }
    // Tags came along.
    let doc = roster(&client, &app, "?tag=juniors").await;
    assert_eq!(athlete_order(&doc).len(), 3);
}

/// The rendered roster is reused only while nothing it shows changed: an
/// import (a new summary version), a new name or a tag shows on the next view.
#[tokio::test]
async fn a_cached_roster_follows_imports_names_and_tags() {
    let app = TestApp::spawn().await;
    let (client, coach) = signed_in(&app, "coach@example.org", &["athlete", "coach"]).await;
    let ana = athlete(&app, coach, "ana@example.org", "Ana").await;
    let today = app.clock.now().date_naive();
    store_loads(&app, ana, today - TimeDelta::days(1), &[80.0; 30]).await;
    let first = roster(&client, &app, "").await;
    let again = roster(&client, &app, "").await;
    assert_eq!(
        row_metric(&first, ana, "ctl"),
        row_metric(&again, ana, "ctl"),
        "the same inputs, the same page"
    );

    // More training: a new summary version, new figures.
    store_loads(&app, ana, today - TimeDelta::days(1), &[160.0; 30]).await;
    let after = roster(&client, &app, "").await;
    assert_ne!(
        row_metric(&after, ana, "ctl"),
        row_metric(&first, ana, "ctl")
    );

    // A new name and a tag.
    set_name(&app, ana, "Ana Ribeiro").await;
    sqlx::query("INSERT INTO coach_tags (coach_id, athlete_id, tag) VALUES ($1, $2, 'juniors')")
        .bind(coach)
        .bind(ana)
        .execute(&app.db)
        .await
        .unwrap();
    let renamed = text_of(&roster(&client, &app, "").await, "main").unwrap();
    assert!(renamed.contains("Ana Ribeiro"), "{renamed}");
    assert!(renamed.contains("juniors"), "{renamed}");
}

/// GET with explicit headers on a client that never decompresses.
async fn raw_get(
    client: &reqwest::Client,
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (Option<String>, Vec<u8>) {
    let mut req = client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path} {headers:?}");
    let encoding = res
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let vary = res
        .headers()
        .get("vary")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        vary.as_deref()
            .is_some_and(|v| v.contains("Accept-Encoding")),
        "{path}: Vary {vary:?}"
    );
    (encoding, res.bytes().await.unwrap().to_vec())
}

/// One gzip member, read by a decoder that refuses anything after it.
fn gunzip_one_member(body: &[u8]) -> String {
    use std::io::Read as _;
    let mut decoder = flate2::bufread::GzDecoder::new(body);
    let mut out = String::new();
    decoder.read_to_string(&mut out).unwrap();
    assert!(
        decoder.into_inner().is_empty(),
        "bytes after the gzip member"
    );
    out
}

/// The roster region is compressed once when cached and spliced into each
/// gzip body (page shell compressed per request around it): what a browser
/// decodes is byte for byte the page sent to a client without gzip, for the
/// whole page, the htmx region, a first (uncached) and a later (cached) view.
#[tokio::test]
async fn gzip_roster_bodies_decode_to_the_plain_page() {
    let app = TestApp::spawn().await;
    let email = "coach@example.org";
    create_user(&app, email, &["athlete", "coach"]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    let res = crate::accounts::login(&app, &client, email, crate::accounts::PASSWORD).await;
    assert_eq!(res.status(), 303);
    let coach: Uuid = sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let today = app.clock.now().date_naive();
    for i in 0..40 {
        let id = athlete(
            &app,
            coach,
            &format!("a{i}@example.org"),
            &format!("Athlete <{i}>"),
        )
        .await;
        let loads: Vec<f64> = (0..120)
            .map(|d| f64::from((d * 7 + i * 13) % 150))
            .collect();
        store_loads(&app, id, today - TimeDelta::days(1), &loads).await;
    }
    let gzip = [("accept-encoding", "gzip, deflate, br")];
    let htmx = [("hx-request", "true"), ("hx-target", "roster-region")];
    let htmx_gzip = [htmx[0], htmx[1], gzip[0]];

    for query in ["", "?sort=tsb&dir=desc"] {
        let path = format!("/coach{query}");
        // First view of this query compressed (the region is rendered and cached now),
        // then plain, then compressed again from the cache.
        let (enc, first) = raw_get(&client, &app, &path, &gzip).await;
        assert_eq!(enc.as_deref(), Some("gzip"));
        let (enc, plain) = raw_get(&client, &app, &path, &[]).await;
        assert_eq!(enc, None, "no Accept-Encoding, no gzip");
        let plain = String::from_utf8(plain).unwrap();
        assert!(
            plain.contains("Athlete &#60;7&#62;"),
            "{path}: names escaped"
        );
        assert_eq!(gunzip_one_member(&first), plain, "{path}, first view");
        let (enc, cached) = raw_get(&client, &app, &path, &gzip).await;
        assert_eq!(enc.as_deref(), Some("gzip"));
        assert!(
            cached.len() < plain.len() / 4,
            "compressed: {} of {}",
            cached.len(),
            plain.len()
        );
        assert_eq!(gunzip_one_member(&cached), plain, "{path}, cached view");

        let (enc, region) = raw_get(&client, &app, &path, &htmx).await;
        assert_eq!(enc, None);
        let region = String::from_utf8(region).unwrap();
        assert!(
            region
                .trim_start()
                .starts_with("<section id=\"roster-region\""),
            "{region:.80}"
        );
        let (enc, region_gz) = raw_get(&client, &app, &path, &htmx_gzip).await;
        assert_eq!(enc.as_deref(), Some("gzip"));
        assert_eq!(gunzip_one_member(&region_gz), region, "{path}, htmx region");
        assert!(plain.contains(&region), "the region is the page's");
    }
}
