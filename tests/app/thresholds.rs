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
