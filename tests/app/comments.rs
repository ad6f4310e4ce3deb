//! Comments on activities: the athlete and a linked coach write, the athlete
//! replies, "new" badges on the activity page and the list, hostile input.

use chrono::NaiveDate;
use pierre::domain::Sport;
use uuid::Uuid;

use crate::accounts::signed_in;
use crate::dashboard::{activity_on, store_with_load};
use crate::sharing::link_through_invitation;
use crate::support::{TestApp, html, text_of};

async fn post_comment(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    body: &str,
    htmx: bool,
) -> reqwest::Response {
    let token = app.csrf_token(client).await;
    let mut request = client
        .post(app.url(path))
        .form(&[("body", body), ("csrf_token", &token)]);
    if htmx {
        request = request.header("HX-Request", "true");
    }
    request.send().await.unwrap()
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> scraper::Html {
    let res = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    html(&res.text().await.unwrap())
}

fn count(doc: &scraper::Html, selector: &str) -> usize {
    doc.select(&scraper::Selector::parse(selector).unwrap())
        .count()
}

struct Setup {
    app: TestApp,
    athlete: reqwest::Client,
    coach: reqwest::Client,
    ana: Uuid,
    activity: Uuid,
}

async fn setup(access: &str) -> Setup {
    let app = TestApp::spawn().await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (coach, _) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    link_through_invitation(&app, &athlete, &coach, "carla@example.org", access).await;
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let activity = store_with_load(&app, ana, &activity_on(day, Sport::Cycling, 1), 60.0).await;
    Setup {
        app,
        athlete,
        coach,
        ana,
        activity,
    }
}

#[tokio::test]
async fn a_coach_comments_the_athlete_sees_a_badge_replies_and_the_badge_clears() {
    let Setup {
        app,
        athlete,
        coach,
        ana,
        activity,
    } = setup("summary").await;
    let coach_path = format!("/coach/athletes/{ana}/activities/{activity}/comments");

    // The coach comments (summary access is enough), with and without htmx.
    let res = post_comment(
        &app,
        &coach,
        &coach_path,
        "Strong finish — keep the cadence up.",
        false,
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/coach/athletes/{ana}/activities/{activity}#comments").as_str()
    );
    let res = post_comment(&app, &coach, &coach_path, "Line one\nline <b>two</b>", true).await;
    assert_eq!(res.status(), 200);
    let fragment = html(&res.text().await.unwrap());
    assert_eq!(count(&fragment, "#comments .comment"), 2);

    // The athlete's list shows the badge on the row and in total.
    let list = page(&app, &athlete, "/activities").await;
    assert!(
        text_of(&list, ".new-comments")
            .unwrap()
            .contains("2 new comments")
    );
    assert!(
        text_of(&list, "#new-comments-total")
            .unwrap()
            .contains("2 new")
    );

    // The activity page lists them as new (escaped), then marks them read.
    let show = page(&app, &athlete, &format!("/activities/{activity}")).await;
    assert_eq!(count(&show, "#comments .comment-new"), 2);
    assert_eq!(text_of(&show, "#comments-unread").unwrap(), "2 new");
    let section = text_of(&show, "#comments").unwrap();
    assert!(section.contains("Strong finish"));
    assert!(section.contains("line <b>two</b>"), "{section}");
    assert_eq!(count(&show, "#comments b"), 0);
    assert!(section.contains("Test Athlete"));

    let list = page(&app, &athlete, "/activities").await;
    assert_eq!(count(&list, ".new-comments"), 0);
    assert_eq!(count(&list, "#new-comments-total"), 0);
    let dashboard = page(&app, &athlete, "/dashboard").await;
    assert_eq!(count(&dashboard, "#dashboard-new-comments"), 0);
    let show = page(&app, &athlete, &format!("/activities/{activity}")).await;
    assert_eq!(count(&show, "#comments .comment-new"), 0);

    // The athlete replies; their own comment is never "new" for them.
    let reply = post_comment(
        &app,
        &athlete,
        &format!("/activities/{activity}/comments"),
        "Thanks! Legs felt good.",
        false,
    )
    .await;
    assert_eq!(reply.status(), 303);
    assert_eq!(
        reply.headers()["location"],
        format!("/activities/{activity}#comments").as_str()
    );
    let show = page(&app, &athlete, &format!("/activities/{activity}")).await;
    assert_eq!(count(&show, "#comments .comment"), 3);
    assert_eq!(count(&show, "#comments .comment-new"), 0);
    let list = page(&app, &athlete, "/activities").await;
    assert_eq!(count(&list, ".new-comments"), 0);

    // Stored with their authors, in order.
    let authors: Vec<String> = sqlx::query_scalar!(
        "SELECT u.email FROM activity_comments c JOIN users u ON u.id = c.author_id ORDER BY c.created_at, c.id"
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        authors,
        ["carla@example.org", "carla@example.org", "ana@example.org"]
    );
}

#[tokio::test]
async fn comments_are_checked_and_only_allowed_people_may_write() {
    let Setup {
        app,
        athlete,
        coach,
        ana,
        activity,
    } = setup("full").await;
    let own = format!("/activities/{activity}/comments");
    // Empty, blank and oversized bodies: 422 with the reason, nothing stored.
    for (body, message) in [
        ("", "cannot be empty"),
        ("   \n ", "cannot be empty"),
        (&"x".repeat(2001) as &str, "at most 2000"),
    ] {
        let res = post_comment(&app, &athlete, &own, body, true).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(message), "{message}");
        let res = post_comment(&app, &athlete, &own, body, false).await;
        assert_eq!(res.status(), 422);
    }
    assert_eq!(
        post_comment(&app, &athlete, &own, &"é".repeat(2000), false)
            .await
            .status(),
        303
    );
    let stored: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM activity_comments"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(stored, 1);

    // Another athlete, an unlinked coach, the coach on the athlete-side URL,
    // mismatched ids: all 404.
    let (other, ben) = signed_in(&app, "ben@example.org", &["athlete", "coach"]).await;
    assert_eq!(
        post_comment(&app, &other, &own, "hi", false).await.status(),
        404
    );
    assert_eq!(
        post_comment(&app, &coach, &own, "hi", false).await.status(),
        404
    );
    let coach_path = format!("/coach/athletes/{ana}/activities/{activity}/comments");
    assert_eq!(
        post_comment(&app, &other, &coach_path, "hi", false)
            .await
            .status(),
        404
    );
    let wrong_athlete = format!("/coach/athletes/{ben}/activities/{activity}/comments");
    assert_eq!(
        post_comment(&app, &coach, &wrong_athlete, "hi", false)
            .await
            .status(),
        404
    );
    let bad_id = format!("/coach/athletes/{ana}/activities/not-an-id/comments");
    assert_eq!(
        post_comment(&app, &coach, &bad_id, "hi", false)
            .await
            .status(),
        404
    );

    // An activity of a source coaches may not see (Strava): 404 for the coach.
    sqlx::query!(
        "UPDATE activities SET source = 'strava' WHERE id = $1",
        activity
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        post_comment(&app, &coach, &coach_path, "hi", false)
            .await
            .status(),
        404
    );
    sqlx::query!(
        "UPDATE activities SET source = 'upload' WHERE id = $1",
        activity
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(
        post_comment(&app, &coach, &coach_path, "hi", false)
            .await
            .status(),
        303
    );

    // Without the coach role (an admin took it away) the link alone lets her
    // neither see the coach pages nor write there: 403 on the next request.
    let carla: Uuid = sqlx::query_scalar!("SELECT id FROM users WHERE email = 'carla@example.org'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = 'coach'")
        .bind(carla)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        post_comment(&app, &coach, &coach_path, "no role", false)
            .await
            .status(),
        403
    );
    let coach_page = format!("/coach/athletes/{ana}/activities/{activity}");
    let res = coach.get(app.url(&coach_page)).send().await.unwrap();
    assert_eq!(res.status(), 403, "{coach_page}");
    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, 'coach')")
        .bind(carla)
        .execute(&app.db)
        .await
        .unwrap();

    // A disabled athlete's activities take no coach comments, as her coach pages answer 404.
    sqlx::query("UPDATE users SET disabled_at = now() WHERE id = $1")
        .bind(ana)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        post_comment(&app, &coach, &coach_path, "disabled", false)
            .await
            .status(),
        404
    );
    sqlx::query("UPDATE users SET disabled_at = NULL WHERE id = $1")
        .bind(ana)
        .execute(&app.db)
        .await
        .unwrap();

    // After revocation the coach can no longer comment (next request).
    let token = app.csrf_token(&athlete).await;
    let res = athlete
        .post(app.url(&format!("/settings/sharing/coaches/{carla}/revoke")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        post_comment(&app, &coach, &coach_path, "still there?", false)
            .await
            .status(),
        404
    );
}
