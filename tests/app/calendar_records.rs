//! The calendar (month grid, day cells, weekly totals, htmx month navigation,
//! bad months) and the records page (all-time records from the summary row,
//! the last 90 days, "new" badges, empty states), with another athlete's
//! activities never shown.

use chrono::{Datelike as _, NaiveDate, TimeDelta};
use reqwest::multipart::{Form, Part};
use uuid::Uuid;

use crate::accounts::signed_in;
use crate::support::{TestApp, csrf_in, html, text_of};

/// An activity row to insert directly (exact loads and records).
#[derive(Default)]
struct Act {
    sport: &'static str,
    name: &'static str,
    day: NaiveDate,
    load: f64,
    secs: f64,
    metres: f64,
    power: Option<Vec<Option<f32>>>,
    efforts: Option<Vec<Option<f32>>>,
}

async fn insert(app: &TestApp, user: Uuid, a: Act) -> Uuid {
    let id = Uuid::now_v7();
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM activities WHERE user_id = $1")
        .bind(user)
        .fetch_one(&app.db)
        .await
        .unwrap();
    // Distinct starts on the same day (minutes apart), in day order.
    let start = a.day.and_hms_opt(7, 0, 0).unwrap().and_utc() + TimeDelta::minutes(count);
    sqlx::query(
        "INSERT INTO activities (id, user_id, source, sport, name, start_time, utc_offset_s, timer_s,
             moving_s, distance_m, load, load_source, power_curve, best_efforts, local_day)
         VALUES ($1, $2, 'upload', $3, $4, $5, 0, $6, $6, $7, $8, 'power', $9, $10, $11)",
    )
    .bind(id)
    .bind(user)
    .bind(a.sport)
    .bind(a.name)
    .bind(start)
    .bind(a.secs)
    .bind(a.metres)
    .bind(a.load)
    .bind(a.power)
    .bind(a.efforts)
    .bind(a.day)
    .execute(&app.db)
    .await
    .unwrap();
    id
}

/// Rebuild the athlete's summary row as the app does after changes.
async fn rebuild(app: &TestApp, user: Uuid) {
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::summaries::rebuild(&mut conn, user)
        .await
        .unwrap();
}

const fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("a valid date"),
    }
}

async fn get(app: &TestApp, client: &reqwest::Client, path: &str) -> (u16, String) {
    let res = client.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn sel(s: &str) -> scraper::Selector {
    scraper::Selector::parse(s).unwrap()
}

/// The text of each element matching `selector` inside the first `scope`.
fn texts(doc: &scraper::Html, scope: &str, selector: &str) -> Vec<String> {
    doc.select(&sel(scope))
        .next()
        .unwrap_or_else(|| panic!("{scope} is on the page"))
        .select(&sel(selector))
        .map(|e| e.text().collect::<String>().trim().to_owned())
        .collect()
}

fn week_total(doc: &scraper::Html, week: &str, what: &str) -> String {
    texts(
        doc,
        &format!("td[data-week=\"{week}\"]"),
        &format!("[data-total={what}]"),
    )
    .concat()
}

/// November 2026 for ana (and one ride of ben's); returns (before, ride, run).
async fn seed_november(app: &TestApp, ana: Uuid, ben: Uuid) -> (Uuid, Uuid, Uuid) {
    let act = |sport, name, day, load, secs, metres| Act {
        sport,
        name,
        day,
        load,
        secs,
        metres,
        ..Act::default()
    };
    // November 2026 starts on a Sunday: the first row is 26 Oct – 1 Nov.
    let before = insert(
        app,
        ana,
        act(
            "cycling",
            "Saturday spin",
            day(2026, 10, 31),
            30.0,
            3600.0,
            30_000.0,
        ),
    )
    .await;
    insert(
        app,
        ana,
        act(
            "running",
            "Sunday long run",
            day(2026, 11, 1),
            50.0,
            2700.0,
            10_000.0,
        ),
    )
    .await;
    let ride = insert(
        app,
        ana,
        act(
            "cycling",
            "Tempo ride",
            day(2026, 11, 3),
            80.0,
            5400.0,
            45_000.0,
        ),
    )
    .await;
    let run = insert(
        app,
        ana,
        act(
            "running",
            "Easy jog",
            day(2026, 11, 3),
            20.0,
            1800.0,
            5000.0,
        ),
    )
    .await;
    insert(
        app,
        ana,
        act("swimming", "Pool", day(2026, 11, 5), 15.0, 1800.0, 2000.0),
    )
    .await;
    insert(
        app,
        ana,
        act(
            "running",
            "December shakeout",
            day(2026, 12, 1),
            10.0,
            1200.0,
            3000.0,
        ),
    )
    .await;
    insert(
        app,
        ana,
        act(
            "running",
            "Far away run",
            day(2026, 12, 10),
            99.0,
            1200.0,
            3000.0,
        ),
    )
    .await;
    insert(
        app,
        ben,
        act(
            "cycling",
            "Ben's secret ride",
            day(2026, 11, 3),
            70.0,
            3600.0,
            30_000.0,
        ),
    )
    .await;

    (before, ride, run)
}

#[tokio::test]
async fn the_calendar_shows_each_day_and_week_with_totals_and_only_ones_own() {
    let app = TestApp::spawn().await;
    let (client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, ben) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let (before, ride, run) = seed_november(&app, ana, ben).await;
    let (status, body) = get(&app, &client, "/calendar?month=2026-11").await;
    assert_eq!(status, 200);
    assert!(body.contains("<html"), "a full page without htmx");
    assert!(!body.contains("Ben&#x27;s secret ride") && !body.contains("secret ride"));
    let doc = html(&body);
    assert_eq!(
        text_of(&doc, "#calendar-title").unwrap().trim(),
        "November 2026"
    );
    assert_eq!(doc.select(&sel("table.calendar caption")).count(), 1);
    assert_eq!(
        doc.select(&sel("table.calendar thead th[scope=col]"))
            .count(),
        8
    );
    assert_eq!(
        doc.select(&sel("tr.cal-week-row")).count(),
        6,
        "26 Oct – 6 Dec"
    );
    assert_eq!(doc.select(&sel("td.cal-day")).count(), 42);

    // The Tuesday holds both activities with their loads, linked.
    let tuesday = "td[data-day=\"2026-11-03\"]";
    let names = texts(&doc, tuesday, ".cal-activity a");
    assert_eq!(names, ["Tempo ride", "Easy jog"]);
    let links: Vec<String> = doc
        .select(&sel(&format!("{tuesday} .cal-activity a")))
        .map(|a| a.value().attr("href").unwrap().to_owned())
        .collect();
    assert_eq!(
        links,
        [format!("/activities/{ride}"), format!("/activities/{run}")]
    );
    assert_eq!(texts(&doc, tuesday, ".cal-load"), ["80", "20"]);
    assert_eq!(texts(&doc, tuesday, ".cal-day-total"), ["100"]);
    assert_eq!(texts(&doc, tuesday, ".cal-sport"), ["Cycling", "Running"]);
    assert!(text_of(&doc, tuesday).unwrap().contains("1:30:00"));
    assert!(texts(&doc, "td[data-day=\"2026-11-04\"]", ".cal-activity").is_empty());

    // Days of the neighbouring months are shown dimmed, with their activities.
    let saturday = doc
        .select(&sel("td[data-day=\"2026-10-31\"]"))
        .next()
        .unwrap();
    assert!(saturday.value().classes().any(|c| c == "cal-outside"));
    assert!(saturday.html().contains(&format!("/activities/{before}")));
    let sunday = doc
        .select(&sel("td[data-day=\"2026-11-01\"]"))
        .next()
        .unwrap();
    assert!(!sunday.value().classes().any(|c| c == "cal-outside"));
    assert!(
        doc.select(&sel("td[data-day=\"2026-12-10\"]"))
            .next()
            .is_none()
    );

    // Weekly totals, summed by hand.
    assert_eq!(week_total(&doc, "2026-10-26", "load"), "80");
    assert_eq!(week_total(&doc, "2026-10-26", "time"), "1:45:00");
    assert_eq!(week_total(&doc, "2026-10-26", "distance"), "40.00 km");
    assert_eq!(week_total(&doc, "2026-11-02", "load"), "115");
    assert_eq!(week_total(&doc, "2026-11-02", "time"), "2:30:00");
    assert_eq!(week_total(&doc, "2026-11-02", "distance"), "52.00 km");
    assert_eq!(week_total(&doc, "2026-11-30", "load"), "10");
    assert!(
        text_of(&doc, "td[data-week=\"2026-11-09\"]")
            .unwrap()
            .contains("No training")
    );
    let month = text_of(&doc, "#month-totals").unwrap();
    assert!(
        month.contains("4 activities") && month.contains("load 165"),
        "{month}"
    );

    // Imperial units.
    sqlx::query("UPDATE users SET units = 'imperial' WHERE id = $1")
        .bind(ana)
        .execute(&app.db)
        .await
        .unwrap();
    let (_, body) = get(&app, &client, "/calendar?month=2026-11").await;
    assert_eq!(
        week_total(&html(&body), "2026-10-26", "distance"),
        "24.85 mi"
    );
}

#[tokio::test]
async fn months_navigate_with_htmx_or_plain_links_and_others_see_their_own() {
    let app = TestApp::spawn().await;
    let (client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, ben) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    seed_november(&app, ana, ben).await;
    let tuesday = "td[data-day=\"2026-11-03\"]";
    let doc = html(&get(&app, &client, "/calendar?month=2026-11").await.1);
    // Month navigation: plain links, and htmx swaps of the calendar region.
    let prev = doc.select(&sel("#calendar a[rel=prev]")).next().unwrap();
    assert_eq!(prev.value().attr("href"), Some("/calendar?month=2026-10"));
    assert_eq!(prev.value().attr("hx-get"), Some("/calendar?month=2026-10"));
    assert_eq!(prev.value().attr("hx-target"), Some("#calendar"));
    assert_eq!(prev.value().attr("hx-push-url"), Some("true"));
    let next = doc.select(&sel("#calendar a[rel=next]")).next().unwrap();
    assert_eq!(next.value().attr("href"), Some("/calendar?month=2026-12"));
    let res = client
        .get(app.url("/calendar?month=2026-12"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["vary"]
            .to_str()
            .unwrap()
            .contains("HX-Request")
    );
    let fragment = res.text().await.unwrap();
    assert!(!fragment.contains("<html") && !fragment.contains("site-header"));
    assert!(
        fragment
            .trim_start()
            .starts_with("<section id=\"calendar\"")
    );
    let frag = html(&fragment);
    assert_eq!(
        text_of(&frag, "#calendar-title").unwrap().trim(),
        "December 2026"
    );
    assert_eq!(
        texts(&frag, "td[data-day=\"2026-12-10\"]", ".cal-load"),
        ["99"]
    );
    assert_eq!(
        texts(&frag, "td[data-day=\"2026-12-01\"]", ".cal-activity a"),
        ["December shakeout"]
    );
    let (status, full) = get(&app, &client, "/calendar?month=2026-12").await;
    assert_eq!(status, 200);
    assert!(full.contains("<html") && full.contains("aria-current=\"page\">Calendar</a>"));

    // Another athlete sees only their own ride on that Tuesday.
    let other = crate::support::new_client();
    let res =
        crate::accounts::login(&app, &other, "ben@example.org", crate::accounts::PASSWORD).await;
    assert_eq!(res.status(), 303);
    let (_, body) = get(&app, &other, "/calendar?month=2026-11").await;
    let doc = html(&body);
    assert_eq!(
        texts(&doc, tuesday, ".cal-activity a"),
        ["Ben's secret ride"]
    );
    assert!(!body.contains("Tempo ride"));
}

#[tokio::test]
async fn the_default_month_follows_the_clock_and_today_is_marked() {
    let app = TestApp::spawn().await;
    let (client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    for _ in 0..2 {
        let today = app.clock.now().date_naive();
        let id = insert(
            &app,
            ana,
            Act {
                sport: "running",
                name: "Today's run",
                day: today,
                load: 42.0,
                secs: 1800.0,
                metres: 6000.0,
                ..Act::default()
            },
        )
        .await;
        let (status, body) = get(&app, &client, "/calendar").await;
        assert_eq!(status, 200);
        let doc = html(&body);
        assert_eq!(
            text_of(&doc, "#calendar-title").unwrap().trim(),
            today.format("%B %Y").to_string()
        );
        let marked: Vec<_> = doc.select(&sel("td[aria-current=date]")).collect();
        assert_eq!(marked.len(), 1);
        assert_eq!(
            marked[0].value().attr("data-day"),
            Some(today.format("%Y-%m-%d").to_string().as_str())
        );
        assert!(marked[0].html().contains(&format!("/activities/{id}")));
        assert!(
            doc.select(&sel("#calendar a[href=\"/calendar\"]"))
                .next()
                .is_none(),
            "no 'this month' link on this month"
        );
        // Move well into another month (the session expires meanwhile).
        app.clock.advance(TimeDelta::days(45));
        let res =
            crate::accounts::login(&app, &client, "ana@example.org", crate::accounts::PASSWORD)
                .await;
        assert_eq!(res.status(), 303);
    }
    // An earlier month links back to this one.
    let (_, body) = get(&app, &client, "/calendar?month=2001-01").await;
    assert!(
        html(&body)
            .select(&sel("#calendar a[href=\"/calendar\"]"))
            .next()
            .is_some()
    );
}

#[tokio::test]
async fn bad_months_answer_422_with_this_month_and_a_message() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let this_month = app.clock.now().date_naive().format("%B %Y").to_string();
    let long = "9".repeat(10_000);
    for bad in [
        "2026-13",
        "abc",
        "99999-01",
        "2026-00",
        "0000-01",
        "2026-1",
        "'; drop table activities; --",
        long.as_str(),
    ] {
        let res = client
            .get(app.url("/calendar"))
            .query(&[("month", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{}", &bad[..bad.len().min(20)]);
        let body = res.text().await.unwrap();
        let doc = html(&body);
        assert!(
            text_of(&doc, "#calendar .alert")
                .unwrap()
                .contains("months look like 2026-11")
        );
        assert_eq!(text_of(&doc, "#calendar-title").unwrap().trim(), this_month);
        assert!(!body.contains(&long), "the input is not echoed");
    }
    // With htmx the fragment carries the message (422 is swapped).
    let res = client
        .get(app.url("/calendar?month=2026-13"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(!body.contains("<html") && body.contains("months look like 2026-11"));
    // An empty value and the extremes are fine.
    for ok in [
        "/calendar?month=",
        "/calendar?month=9999-12",
        "/calendar?month=1000-01",
        "/calendar?other=1",
    ] {
        assert_eq!(get(&app, &client, ok).await.0, 200, "{ok}");
    }
    let (_, body) = get(&app, &client, "/calendar?month=9999-12").await;
    assert!(html(&body).select(&sel("a[rel=next]")).next().is_none());
}

fn ladder(fill: f32, set: &[(usize, f32)]) -> Vec<Option<f32>> {
    let mut v = vec![Some(fill); 30];
    for (i, w) in set {
        v[*i] = Some(*w);
    }
    // Past the activity's length: NULL entries.
    v[29] = None;
    v
}

fn efforts(five_k: f32) -> Vec<Option<f32>> {
    vec![
        Some(80.0),
        Some(220.0),
        Some(360.0),
        Some(five_k),
        None,
        None,
        None,
    ]
}

/// The text of cell `n` (0 = the row header) of the row matching `row`.
fn cell(doc: &scraper::Html, row: &str, n: usize) -> String {
    let tr = doc
        .select(&sel(row))
        .next()
        .unwrap_or_else(|| panic!("{row} is on the page"));
    tr.select(&sel("th, td"))
        .nth(n)
        .unwrap()
        .text()
        .collect::<String>()
        .trim()
        .to_owned()
}

fn link(doc: &scraper::Html, row: &str) -> String {
    doc.select(&sel(&format!("{row} a")))
        .next()
        .unwrap_or_else(|| panic!("{row} links to its activity"))
        .value()
        .attr("href")
        .unwrap()
        .to_owned()
}

/// Rides and runs of ana (and a better ride of ben's), her weight, the
/// summaries; returns ana's (old ride, new ride, old run, recent run).
async fn seed_records(app: &TestApp, ana: Uuid, ben: Uuid) -> [Uuid; 4] {
    let today = app.clock.now().date_naive();
    let ago = |d: i64| today - TimeDelta::days(d);
    // Rung 19 is 20 min, rung 3 is 5 s; effort 3 is 5 km.
    let old_ride = insert(
        app,
        ana,
        Act {
            sport: "cycling",
            name: "Old big ride",
            day: ago(200),
            load: 100.0,
            secs: 7200.0,
            metres: 60_000.0,
            power: Some(ladder(300.0, &[(19, 310.0)])),
            ..Act::default()
        },
    )
    .await;
    let new_ride = insert(
        app,
        ana,
        Act {
            sport: "cycling",
            name: "Sprint session",
            day: ago(5),
            load: 60.0,
            secs: 3600.0,
            metres: 30_000.0,
            power: Some(ladder(250.0, &[(3, 900.0), (19, 280.0)])),
            ..Act::default()
        },
    )
    .await;
    let old_run = insert(
        app,
        ana,
        Act {
            sport: "running",
            name: "Parkrun PB",
            day: ago(100),
            load: 40.0,
            secs: 1500.0,
            metres: 6000.0,
            efforts: Some(efforts(1200.0)),
            ..Act::default()
        },
    )
    .await;
    let recent_run = insert(
        app,
        ana,
        Act {
            sport: "running",
            name: "Tempo 5k",
            day: ago(20),
            load: 45.0,
            secs: 1600.0,
            metres: 6000.0,
            efforts: Some(efforts(1260.0)),
            ..Act::default()
        },
    )
    .await;
    insert(
        app,
        ana,
        Act {
            sport: "running",
            name: "Slower 5k",
            day: ago(10),
            load: 45.0,
            secs: 1700.0,
            metres: 6000.0,
            efforts: Some(efforts(1300.0)),
            ..Act::default()
        },
    )
    .await;
    insert(
        app,
        ben,
        Act {
            sport: "cycling",
            name: "Ben's monster ride",
            day: ago(3),
            load: 200.0,
            secs: 7200.0,
            metres: 80_000.0,
            power: Some(ladder(600.0, &[])),
            efforts: Some(efforts(900.0)),
        },
    )
    .await;
    rebuild(app, ana).await;
    rebuild(app, ben).await;
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::thresholds::upsert(
        &mut conn,
        ana,
        "all",
        ago(365),
        &pierre::db::thresholds::Thresholds {
            weight_kg: Some(70.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop(conn);

    [old_ride, new_ride, old_run, recent_run]
}

#[tokio::test]
async fn records_show_all_time_and_recent_bests_with_links_and_new_badges() {
    let app = TestApp::spawn().await;
    let (client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, ben) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    let ago = |d: i64| today - TimeDelta::days(d);
    let [old_ride, new_ride, old_run, recent_run] = seed_records(&app, ana, ben).await;
    let (status, body) = get(&app, &client, "/records").await;
    assert_eq!(status, 200);
    assert!(
        !body.contains("monster") && !body.contains("600 W"),
        "only one's own records"
    );
    let doc = html(&body);
    let date = |d: NaiveDate| d.format("%Y-%m-%d").to_string();

    // All time, from the summary row.
    let twenty = "#power-table tr[data-rung=\"1200\"]";
    assert_eq!(cell(&doc, twenty, 0), "20 min");
    assert_eq!(cell(&doc, twenty, 1), "310 W");
    assert_eq!(
        cell(&doc, twenty, 2),
        "4.43",
        "W/kg with the weight in force"
    );
    assert_eq!(
        cell(&doc, twenty, 3),
        date(ago(200)),
        "an old record is not new"
    );
    assert_eq!(link(&doc, twenty), format!("/activities/{old_ride}"));
    assert_eq!(cell(&doc, twenty, 4), "Old big ride");
    let five = "#power-table tr[data-rung=\"5\"]";
    assert_eq!(cell(&doc, five, 1), "900 W");
    assert_eq!(cell(&doc, five, 3), format!("{} new", date(ago(5))));
    assert_eq!(link(&doc, five), format!("/activities/{new_ride}"));
    assert_eq!(
        doc.select(&sel("#power-table tbody tr")).count(),
        30,
        "every ladder rung"
    );
    assert!(cell(&doc, "#power-table tr[data-rung=\"18000\"]", 4).contains("Not ridden"));
    let tile = texts(
        &doc,
        "#power-records .records-highlights li[data-rung=\"1200\"]",
        ".stat-value",
    );
    assert_eq!(tile, ["310 W"]);
    assert_eq!(doc.select(&sel(".records-highlights li")).count(), 5);

    let five_k = "#effort-table tr[data-distance=\"5000\"]";
    assert_eq!(cell(&doc, five_k, 0), "5 km");
    assert_eq!(cell(&doc, five_k, 1), "20:00");
    assert_eq!(cell(&doc, five_k, 2), "4:00 /km");
    assert_eq!(cell(&doc, five_k, 3), date(ago(100)));
    assert_eq!(link(&doc, five_k), format!("/activities/{old_run}"));
    assert!(cell(&doc, "#effort-table tr[data-distance=\"42195\"]", 4).contains("Not run"));

    // The last 90 days: the maximum over those activities only.
    let recent_twenty = "#recent-power-table tr[data-rung=\"1200\"]";
    assert_eq!(cell(&doc, recent_twenty, 1), "280 W");
    assert_eq!(link(&doc, recent_twenty), format!("/activities/{new_ride}"));
    assert_eq!(
        doc.select(&sel("#recent-power-table tbody tr")).count(),
        29,
        "no row for the NULL rung"
    );
    let recent_five_k = "#recent-effort-table tr[data-distance=\"5000\"]";
    assert_eq!(cell(&doc, recent_five_k, 1), "21:00");
    assert_eq!(
        cell(&doc, recent_five_k, 3),
        date(ago(20)),
        "20 days ago is not new"
    );
    assert_eq!(
        link(&doc, recent_five_k),
        format!("/activities/{recent_run}")
    );
    assert!(
        doc.select(&sel("#recent-effort-table tr[data-distance=\"10000\"]"))
            .next()
            .is_none()
    );
}

/// Upload files through the real form, as htmx does.
async fn upload(app: &TestApp, client: &reqwest::Client, name: &str, folder: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/activities")
        .join(folder)
        .join(name);
    let bytes = std::fs::read(path).unwrap();
    let page = get(app, client, "/activities/upload").await.1;
    let token = csrf_in(&page).unwrap();
    let res = client
        .post(app.url("/activities/upload"))
        .header("X-CSRF-Token", token)
        .header("HX-Request", "true")
        .multipart(Form::new().part("files", Part::bytes(bytes).file_name(name.to_owned())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn uploaded_activities_show_on_their_day_and_in_the_records() {
    let app = TestApp::spawn().await;
    let (client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::thresholds::upsert(
        &mut conn,
        ana,
        "cycling",
        day(2013, 1, 1),
        &pierre::db::thresholds::Thresholds {
            ftp_w: Some(315.0),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    drop(conn);
    upload(
        &app,
        &client,
        "Edge810-Vector-2013-08-16-15-35-10.fit",
        "fit",
    )
    .await;
    upload(&app, &client, "test.tcx", "tcx").await;
    let ride: (Uuid, NaiveDate, f64, Vec<Option<f32>>) = sqlx::query_as(
        "SELECT id, local_day, load, power_curve FROM activities WHERE sport = 'cycling'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let (id, local_day, load, curve) = ride;
    let (status, body) = get(
        &app,
        &client,
        &format!("/calendar?month={}", local_day.format("%Y-%m")),
    )
    .await;
    assert_eq!(status, 200);
    let doc = html(&body);
    let cell_sel = format!("td[data-day=\"{}\"]", local_day.format("%Y-%m-%d"));
    assert_eq!(texts(&doc, &cell_sel, ".cal-load"), [format!("{load:.0}")]);
    assert!(
        doc.select(&sel(&format!("{cell_sel} a[href=\"/activities/{id}\"]")))
            .next()
            .is_some()
    );
    assert_eq!(local_day.year(), 2013);

    let (_, body) = get(&app, &client, "/records").await;
    let doc = html(&body);
    let twenty = "#power-table tr[data-rung=\"1200\"]";
    let watts = curve[19].expect("the ride is longer than 20 min");
    assert_eq!(cell(&doc, twenty, 1), format!("{watts:.0} W"));
    assert_eq!(
        cell(&doc, twenty, 2),
        local_day.format("%Y-%m-%d").to_string()
    );
    let href = link(&doc, twenty);
    assert_eq!(href, format!("/activities/{id}"));
    assert_eq!(
        get(&app, &client, &href).await.0,
        200,
        "the record links to a working page"
    );
    // The run's best 1 km is listed and links to the run.
    let (run_id, run_efforts): (Uuid, Vec<Option<f32>>) =
        sqlx::query_as("SELECT id, best_efforts FROM activities WHERE sport = 'running'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let km = run_efforts[1].expect("the run is longer than 1 km");
    let km_row = "#effort-table tr[data-distance=\"1000\"]";
    assert_eq!(
        cell(&doc, km_row, 1),
        pierre::web::format::duration(Some(f64::from(km)))
    );
    assert_eq!(link(&doc, km_row), format!("/activities/{run_id}"));
}

#[tokio::test]
async fn a_new_athlete_sees_friendly_empty_states() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (status, body) = get(&app, &client, "/calendar").await;
    assert_eq!(status, 200);
    let doc = html(&body);
    let empty = text_of(&doc, "#calendar .empty-state").unwrap();
    assert!(empty.contains("No activities in"), "{empty}");
    assert!(
        doc.select(&sel(
            "#calendar .empty-state a[href=\"/activities/upload\"]"
        ))
        .next()
        .is_some()
    );
    assert!(
        doc.select(&sel("table.calendar")).next().is_some(),
        "the month is still shown"
    );

    let (status, body) = get(&app, &client, "/records").await;
    assert_eq!(status, 200);
    let doc = html(&body);
    assert!(
        text_of(&doc, "#power-records")
            .unwrap()
            .contains("No power records yet")
    );
    assert!(
        text_of(&doc, "#power-records")
            .unwrap()
            .contains("power meter")
    );
    assert!(
        text_of(&doc, "#run-records")
            .unwrap()
            .contains("No running records yet")
    );
    assert!(
        text_of(&doc, "#recent-records")
            .unwrap()
            .contains("Nothing in the last 90 days")
    );
    assert!(doc.select(&sel("#power-table")).next().is_none());
    assert!(body.contains("aria-current=\"page\">Records</a>"));
}
