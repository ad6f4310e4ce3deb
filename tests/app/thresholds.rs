//! Date-effective thresholds: saved, listed, validated, deleted, private.

use crate::accounts::signed_in;
use crate::support::{TestApp, html, text_of};

#[tokio::test]
async fn thresholds_are_saved_with_their_date_listed_and_deleted() {
    let app = TestApp::spawn().await;
    let (client, user_id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let page = client
        .get(app.url("/settings/thresholds"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("No thresholds yet"));
    let token = app.csrf_token(&client).await;

    let res = client
        .post(app.url("/settings/thresholds"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("sport", "cycling"),
            ("effective_from", "2026-01-15"),
            ("ftp", "265"),
            ("run_pace", "not a pace"),
            ("max_hr", "100"),
            ("rest_hr", "110"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Enter a pace like 4:30"));
    assert!(body.contains("resting heart rate must be below"));
    assert!(body.contains("value=\"265\""), "entered values are kept");

    for (sport, date, field, value) in [
        ("cycling", "2026-01-15", "ftp", "265"),
        ("running", "2026-02-01", "run_pace", "4:20"),
    ] {
        let res = client
            .post(app.url("/settings/thresholds"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("sport", sport),
                ("effective_from", date),
                (field, value),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let page = client
        .get(app.url("/settings/thresholds"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let history = text_of(&html(&page), "#threshold-history").unwrap();
    assert!(
        history.contains("FTP 265 W") && history.contains("2026-01-15"),
        "{history}"
    );
    assert!(history.contains("threshold pace 4:20 /km"), "{history}");

    let rows = sqlx::query!("SELECT id, sport, ftp_w, threshold_speed_mps FROM athlete_thresholds WHERE user_id = $1 ORDER BY sport", user_id)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].ftp_w, Some(265.0));
    assert!((rows[1].threshold_speed_mps.unwrap() - 1000.0 / 260.0).abs() < 1e-9);

    // Another athlete cannot delete it: it answers like a missing one.
    let other_token = app.csrf_token(&other).await;
    let res = other
        .post(app.url(&format!("/settings/thresholds/{}/delete", rows[0].id)))
        .form(&[("csrf_token", other_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = client
        .post(app.url(&format!("/settings/thresholds/{}/delete", rows[0].id)))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let left: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM athlete_thresholds"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 1);
}

/// Store a synthetic activity `days_ago` days before the app's today, with its
/// training metrics (power curve, best efforts), as the importer would.
async fn store_synthetic(
    app: &TestApp,
    user_id: uuid::Uuid,
    profile: &pierre::synthetic::AthleteProfile,
    sport: pierre::domain::Sport,
    days_ago: i64,
    name: &str,
) -> uuid::Uuid {
    let day = app.clock.now().date_naive() - chrono::TimeDelta::days(days_ago);
    let session = pierre::synthetic::PlannedSession {
        start: day.and_hms_opt(12, 0, 0).unwrap().and_utc(),
        sport,
        indoor: false,
        workout: pierre::synthetic::Workout::Tempo,
        duration_s: 3000.0,
        seed: u64::try_from(days_ago).unwrap(),
    };
    let mut parsed = pierre::synthetic::activity(profile, &session);
    parsed.utc_offset_s = Some(0);
    let metrics = pierre::training::metrics_for(&parsed, &[]);
    crate::support::store_activity(app, user_id, name, &parsed, Some(&metrics)).await
}

/// Whitespace-normalised text of an element.
fn squeezed(el: &scraper::ElementRef<'_>) -> String {
    el.text()
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The threshold pace (m:ss /km) expected from a stored run's best efforts.
async fn expected_pace(app: &TestApp, run: uuid::Uuid) -> String {
    let efforts = sqlx::query_scalar!(
        r#"SELECT best_efforts AS "e!: Vec<Option<f32>>" FROM activities WHERE id = $1"#,
        run
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let pairs: Vec<(f64, f64)> = pierre::analytics::pace::BEST_EFFORT_DISTANCES
        .iter()
        .zip(&efforts)
        .filter_map(|(d, t)| t.map(|t| (*d, f64::from(t))))
        .collect();
    let (_, speed) = pierre::analytics::suggest::threshold_speed(&pairs).expect("a run over 5 km");
    let seconds = (1000.0 / speed).round();
    format!("{}:{:02}", (seconds / 60.0).floor(), seconds % 60.0)
}

/// The (name, value) of every input of an element, as a browser submits them.
fn form_fields(el: &scraper::ElementRef<'_>) -> Vec<(String, String)> {
    let input = scraper::Selector::parse("input").unwrap();
    el.select(&input)
        .map(|i| {
            (
                i.value().attr("name").unwrap().to_owned(),
                i.value().attr("value").unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn suggestions_come_from_the_athletes_last_90_days_and_are_accepted_in_one_click() {
    use pierre::domain::Sport;
    use pierre::synthetic::AthleteProfile;

    let app = TestApp::spawn().await;
    let (client, user_id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (_, other_id) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let today = app.clock.now().date_naive();
    let strong = AthleteProfile {
        ftp_w: 420.0,
        ..AthleteProfile::cyclist()
    };
    let ride = store_synthetic(
        &app,
        user_id,
        &AthleteProfile::cyclist(),
        Sport::Cycling,
        10,
        "Morning ride",
    )
    .await;
    // Stronger rides that must not count: older than 90 days, and another athlete's.
    let old = store_synthetic(&app, user_id, &strong, Sport::Cycling, 95, "Old ride").await;
    let theirs = store_synthetic(&app, other_id, &strong, Sport::Cycling, 5, "Ben's ride").await;
    let run = store_synthetic(
        &app,
        user_id,
        &AthleteProfile::runner(),
        Sport::Running,
        20,
        "Tempo run",
    )
    .await;

    let p20 = |id: uuid::Uuid| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar!(
                r#"SELECT power_curve[20]::float8 AS "p!" FROM activities WHERE id = $1"#,
                id
            )
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    let best = p20(ride).await;
    assert!(
        p20(old).await > best && p20(theirs).await > best,
        "the decoys are stronger"
    );
    let expected_ftp = (0.95 * best).round();

    let page = client
        .get(app.url("/settings/thresholds"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&page);
    let item = scraper::Selector::parse("#threshold-suggestions li.suggestion").unwrap();
    let items: Vec<_> = doc.select(&item).collect();
    let ftp_item = items
        .iter()
        .find(|li| squeezed(li).starts_with("FTP"))
        .expect("an FTP suggestion");
    let text = squeezed(ftp_item);
    assert!(text.contains(&format!("FTP {expected_ftp:.0} W")), "{text}");
    assert!(
        text.contains(&format!(
            "95 % of your best 20-minute power in the last 90 days: {best:.0} W in ‘Morning ride’ on {}",
            today.checked_sub_days(chrono::Days::new(10)).unwrap().format("%-d %b %Y")
        )),
        "{text}"
    );
    let link = scraper::Selector::parse("a").unwrap();
    assert_eq!(
        ftp_item.select(&link).next().unwrap().value().attr("href"),
        Some(format!("/activities/{ride}").as_str())
    );

    // Max HR: the highest plausible of Ana's activities in 365 days (the old ride counts).
    let max_hr = sqlx::query_scalar!(
        r#"SELECT max(max_hr) AS "m!" FROM activities WHERE user_id = $1 AND max_hr BETWEEN 100 AND 230"#,
        user_id
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(
        items.iter().any(
            |li| squeezed(li).starts_with(&format!("Max heart rate {:.0} bpm", max_hr.round()))
        ),
        "{page}"
    );

    // Threshold pace: the best Riegel prediction from the run's efforts of 5 km and up.
    let pace_text = expected_pace(&app, run).await;
    let pace_item = items
        .iter()
        .find(|li| squeezed(li).starts_with("Threshold running pace"))
        .expect("a pace suggestion");
    assert!(
        squeezed(pace_item).contains(&format!("Threshold running pace {pace_text} /km")),
        "{}",
        squeezed(pace_item)
    );
    assert!(squeezed(pace_item).contains("‘Tempo run’"));

    // Accept: post the FTP form's fields as a browser would.
    let fields = form_fields(ftp_item);
    assert!(
        fields
            .iter()
            .any(|(n, v)| n == "csrf_token" && !v.is_empty())
    );
    let res = client
        .post(app.url("/settings/thresholds"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = res.text().await.unwrap();
    assert!(after.contains("Thresholds saved."));
    let entries = sqlx::query!(
        "SELECT sport, effective_from, ftp_w, max_hr_bpm FROM athlete_thresholds WHERE user_id = $1",
        user_id
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].sport, "cycling");
    assert_eq!(entries[0].effective_from, today);
    assert_eq!(entries[0].ftp_w, Some(expected_ftp));
    assert_eq!(entries[0].max_hr_bpm, None);
    // The accepted value is in force: no FTP suggestion any more, the others remain.
    let doc = html(&after);
    let left: Vec<String> = doc.select(&item).map(|li| squeezed(&li)).collect();
    assert!(!left.iter().any(|t| t.starts_with("FTP")), "{left:?}");
    assert_eq!(left.len(), 2, "{left:?}");
    // And the recompute of affected activities is queued.
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 1);
}

#[tokio::test]
async fn without_activities_the_card_says_what_would_produce_suggestions() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let page = client
        .get(app.url("/settings/thresholds"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let card = text_of(&html(&page), "#threshold-suggestions").unwrap();
    assert!(card.contains("No suggestions yet"), "{card}");
    assert!(
        card.contains("rides with power in the last 90 days"),
        "{card}"
    );
    assert!(card.contains("runs of 5 km or longer"), "{card}");
    assert!(!page.contains("suggestion-accept"));
}
