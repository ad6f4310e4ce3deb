//! Sharing with coaches: invitations by email and by link, access changes and
//! revocation taking effect at once, audit, the admin's view, hostile input.

use pierre::db::coaching::{self, Access};
use uuid::Uuid;

use crate::accounts::{PASSWORD, signed_in};
use crate::support::{TestApp, html, new_client, text_of};

/// The access `coach` has to `athlete` right now, read as a coach request would.
pub async fn access_of(app: &TestApp, coach: Uuid, athlete: Uuid) -> Option<Access> {
    let mut conn = app.db.acquire().await.unwrap();
    coaching::access(&mut conn, coach, athlete).await.unwrap()
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_token(client).await;
    let mut form = form.to_vec();
    form.push(("csrf_token", &token));
    client.post(app.url(path)).form(&form).send().await.unwrap()
}

async fn audit_count(app: &TestApp, event_type: &str) -> i64 {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_events WHERE event_type = $1 AND outcome = 'success'"#,
        event_type
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

async fn pending_invitation(app: &TestApp, email: &str) -> Uuid {
    sqlx::query_scalar!(
        "SELECT id FROM coach_invitations WHERE email_normalized = $1 AND used_at IS NULL",
        email
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// An athlete invites `coach_email` with `access` through the form.
pub async fn invite(app: &TestApp, athlete: &reqwest::Client, coach_email: &str, access: &str) {
    let res = post(
        app,
        athlete,
        "/settings/sharing/invite",
        &[("email", coach_email), ("access", access)],
    )
    .await;
    assert_eq!(res.status(), 303, "invitation of {coach_email}");
    assert_eq!(res.headers()["location"], "/settings/sharing?done=invited");
}

/// Link `coach` to `athlete` with `access` through the real flow (email
/// invitation, accepted by the coach).
pub async fn link_through_invitation(
    app: &TestApp,
    athlete: &reqwest::Client,
    coach: &reqwest::Client,
    coach_email: &str,
    access: &str,
) {
    invite(app, athlete, coach_email, access).await;
    let id = pending_invitation(app, coach_email).await;
    let res = post(app, coach, &format!("/coach/invitations/{id}/accept"), &[]).await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn an_athlete_invites_a_coach_by_email_and_the_coach_accepts_with_that_access() {
    let app = TestApp::spawn().await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    // Not a coach yet: accepting makes them one.
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete"]).await;

    invite(&app, &athlete, "  Carla@Example.org ", "full").await;
    let page = athlete
        .get(app.url("/settings/sharing?done=invited"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let doc = html(&page);
    assert!(
        text_of(&doc, "#pending-invitations")
            .unwrap()
            .contains("carla@example.org")
    );
    assert!(text_of(&doc, "#sharing-notice").is_some());

    // The coach sees it on the sharing page and on their invitations page.
    let sharing = coach
        .get(app.url("/settings/sharing"))
        .send()
        .await
        .unwrap();
    assert!(
        text_of(&html(&sharing.text().await.unwrap()), "#sharing-offers")
            .unwrap()
            .contains("invited you")
    );
    let offers = coach
        .get(app.url("/coach/invitations"))
        .send()
        .await
        .unwrap();
    assert_eq!(offers.status(), 200);
    let offers = text_of(&html(&offers.text().await.unwrap()), "#offers").unwrap();
    assert!(offers.contains("ana@example.org"), "{offers}");
    assert!(offers.contains("Full"), "{offers}");

    let id = pending_invitation(&app, "carla@example.org").await;
    assert_eq!(access_of(&app, carla, ana).await, None);
    let res = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Full));
    // Reverse direction is not a link.
    assert_eq!(access_of(&app, ana, carla).await, None);

    // Accepting granted the coach role, audited.
    let roles: Vec<String> = sqlx::query_scalar!(
        "SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role",
        carla
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(roles, ["athlete", "coach"]);
    assert_eq!(audit_count(&app, "coach_invited").await, 1);
    assert_eq!(audit_count(&app, "coach_access_granted").await, 1);
    assert_eq!(audit_count(&app, "role_granted").await, 1);

    // Used once: accepting or declining again is refused.
    let again = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(again.status(), 404);
    let decline = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/decline"),
        &[],
    )
    .await;
    assert_eq!(decline.status(), 404);

    // The athlete's page lists the coach; inviting them again is refused.
    let page = athlete
        .get(app.url("/settings/sharing"))
        .send()
        .await
        .unwrap();
    let coaches = text_of(&html(&page.text().await.unwrap()), "#coaches").unwrap();
    assert!(coaches.contains("carla@example.org"));
    let res = post(
        &app,
        &athlete,
        "/settings/sharing/invite",
        &[("email", "carla@example.org"), ("access", "summary")],
    )
    .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn an_invitation_to_an_address_without_an_account_appears_after_sign_up() {
    let app = TestApp::spawn().await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    invite(&app, &athlete, "new.coach@example.org", "summary").await;

    let coach = new_client();
    let token = app.csrf_token(&coach).await;
    let res = coach
        .post(app.url("/signup"))
        .form(&[
            ("email", "New.Coach@example.org"),
            ("display_name", "Nora"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = coach
        .get(app.url("/coach/invitations"))
        .send()
        .await
        .unwrap();
    let offers = text_of(&html(&page.text().await.unwrap()), "#offers").unwrap();
    assert!(offers.contains("ana@example.org"), "{offers}");
    let nora: Uuid = sqlx::query_scalar!(
        "SELECT id FROM users WHERE email_normalized = 'new.coach@example.org'"
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let id = pending_invitation(&app, "new.coach@example.org").await;
    let res = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(access_of(&app, nora, ana).await, Some(Access::Summary));
}

/// The link shown once on the coach's page after creating it.
async fn create_link(app: &TestApp, coach: &reqwest::Client) -> String {
    let res = post(app, coach, "/coach/invitations/link", &[]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body = res.text().await.unwrap();
    let link = text_of(&html(&body), "#new-link-url").unwrap();
    let path = link.split_once("/invitations/").unwrap().1;
    format!("/invitations/{path}")
}

#[tokio::test]
async fn an_athlete_accepts_a_coach_link_once_with_the_access_they_choose() {
    let app = TestApp::spawn().await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let link = create_link(&app, &coach).await;
    // Only the hash is stored.
    let token = link.trim_start_matches("/invitations/");
    let stored: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM coach_invitations WHERE kind = 'coach' AND token_sha256 = sha256($1::text::bytea)"#,
        token
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);

    // Anonymous: sign in first, then come back.
    let anonymous = new_client().get(app.url(&link)).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    assert!(
        anonymous.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login?next=")
    );

    // The coach opening their own link is told so and cannot accept it.
    let own = coach.get(app.url(&link)).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains("your own invitation link")
    );
    let own = post(&app, &coach, &link, &[("access", "full")]).await;
    assert_eq!(own.status(), 422);

    let page = athlete.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let doc = html(&page.text().await.unwrap());
    assert!(
        text_of(&doc, "#invitation")
            .unwrap()
            .contains("carla@example.org")
    );
    // A bad access level is refused without using the link.
    let bad = post(&app, &athlete, &link, &[("access", "everything")]).await;
    assert_eq!(bad.status(), 422);
    let res = post(&app, &athlete, &link, &[("access", "full")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/settings/sharing?done=accepted");
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Full));
    assert_eq!(audit_count(&app, "coach_access_granted").await, 1);

    // Single use: a replay (by anyone) is refused with 410.
    let replay = post(&app, &athlete, &link, &[("access", "summary")]).await;
    assert_eq!(replay.status(), 410);
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Full));
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    assert_eq!(
        other.get(app.url(&link)).send().await.unwrap().status(),
        410
    );
    // An unknown token is a 404.
    let unknown = other
        .get(app.url("/invitations/not-a-real-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let long = format!("/invitations/{}", "x".repeat(3000));
    assert_eq!(
        other.get(app.url(&long)).send().await.unwrap().status(),
        404
    );
}

#[tokio::test]
async fn expired_invitations_are_refused() {
    let app = TestApp::spawn().await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let link = create_link(&app, &coach).await;
    invite(&app, &athlete, "carla@example.org", "summary").await;
    let id = pending_invitation(&app, "carla@example.org").await;
    // Both expire (as 14 days later).
    sqlx::query!("UPDATE coach_invitations SET expires_at = now() - interval '1 minute'")
        .execute(&app.db)
        .await
        .unwrap();

    let page = athlete.get(app.url(&link)).send().await.unwrap();
    assert_eq!(page.status(), 410);
    assert!(page.text().await.unwrap().contains("expired"));
    assert_eq!(
        post(&app, &athlete, &link, &[("access", "full")])
            .await
            .status(),
        410
    );
    let accept = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(accept.status(), 404);
    let offers = coach
        .get(app.url("/coach/invitations"))
        .send()
        .await
        .unwrap();
    assert!(!offers.text().await.unwrap().contains("ana@example.org"));
    assert_eq!(access_of(&app, carla, ana).await, None);
    // An expired invitation no longer blocks a new one.
    invite(&app, &athlete, "carla@example.org", "summary").await;
}

#[tokio::test]
async fn access_changes_and_revocation_apply_on_the_next_request() {
    let app = TestApp::spawn().await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    link_through_invitation(&app, &athlete, &coach, "carla@example.org", "summary").await;
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Summary));

    let path = format!("/settings/sharing/coaches/{carla}/access");
    let res = post(&app, &athlete, &path, &[("access", "full")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Full));
    assert_eq!(audit_count(&app, "coach_access_changed").await, 1);
    // The same level again changes (and audits) nothing.
    let res = post(&app, &athlete, &path, &[("access", "full")]).await;
    assert_eq!(
        res.headers()["location"],
        "/settings/sharing?done=unchanged"
    );
    assert_eq!(audit_count(&app, "coach_access_changed").await, 1);
    let bad = post(&app, &athlete, &path, &[("access", "admin")]).await;
    assert_eq!(bad.status(), 422);

    let revoke = format!("/settings/sharing/coaches/{carla}/revoke");
    assert_eq!(post(&app, &athlete, &revoke, &[]).await.status(), 303);
    assert_eq!(access_of(&app, carla, ana).await, None);
    assert_eq!(audit_count(&app, "coach_access_revoked").await, 1);
    // Gone: a second revoke or change is a 404.
    assert_eq!(post(&app, &athlete, &revoke, &[]).await.status(), 404);
    assert_eq!(
        post(&app, &athlete, &path, &[("access", "summary")])
            .await
            .status(),
        404
    );
    // The coach's open session no longer lists the athlete.
    let page = coach
        .get(app.url("/coach/invitations"))
        .send()
        .await
        .unwrap();
    assert!(!page.text().await.unwrap().contains("ana@example.org"));

    // A coach can end a link too.
    link_through_invitation(&app, &athlete, &coach, "carla@example.org", "summary").await;
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Summary));
    let end = format!("/coach/athletes/{ana}/end");
    assert_eq!(post(&app, &coach, &end, &[]).await.status(), 303);
    assert_eq!(access_of(&app, carla, ana).await, None);
    assert_eq!(audit_count(&app, "coach_link_ended").await, 1);
    assert_eq!(post(&app, &coach, &end, &[]).await.status(), 404);
}

#[tokio::test]
async fn hostile_input_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    let long = format!("{}@example.org", "a".repeat(300));
    for (email, access) in [
        ("", "summary"),
        ("not-an-email", "summary"),
        ("a@b", "summary"),
        ("two@@example.org", "summary"),
        (long.as_str(), "summary"),
        ("ana@example.org", "summary"),
        ("coach@example.org", "owner"),
        ("<script>@example.org", ""),
    ] {
        let res = post(
            &app,
            &athlete,
            "/settings/sharing/invite",
            &[("email", email), ("access", access)],
        )
        .await;
        assert_eq!(res.status(), 422, "{email:?} {access:?}");
        let body = res.text().await.unwrap();
        assert!(body.contains("field-error"), "{email:?}: {body}");
        assert!(!body.contains("<script>@"));
    }
    let none: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM coach_invitations"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(none, 0);

    // Someone else's invitation or link: 404, and nothing changes.
    invite(&app, &athlete, "carla@example.org", "full").await;
    let id = pending_invitation(&app, "carla@example.org").await;
    for path in [
        format!("/settings/sharing/invitations/{id}/cancel"),
        format!("/coach/invitations/{id}/accept"),
        format!("/coach/invitations/{id}/decline"),
        format!("/coach/invitations/{id}/cancel"),
    ] {
        assert_eq!(post(&app, &other, &path, &[]).await.status(), 404, "{path}");
    }
    for path in [
        "/settings/sharing/invitations/nope/cancel",
        "/coach/invitations/nope/accept",
        "/coach/athletes/nope/end",
        "/settings/sharing/coaches/nope/revoke",
    ] {
        assert_eq!(post(&app, &other, path, &[]).await.status(), 404, "{path}");
    }
    // The athlete cannot accept the invitation they sent (it is not to them).
    let own = post(
        &app,
        &athlete,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(own.status(), 404);
    // Another athlete cannot revoke or change a link that is not theirs.
    let res = post(
        &app,
        &coach,
        &format!("/coach/invitations/{id}/accept"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    let revoke = format!("/settings/sharing/coaches/{carla}/revoke");
    assert_eq!(post(&app, &other, &revoke, &[]).await.status(), 404);
    assert_eq!(
        post(&app, &other, &format!("/coach/athletes/{ana}/end"), &[])
            .await
            .status(),
        404
    );
    assert_eq!(access_of(&app, carla, ana).await, Some(Access::Full));
    // Only coaches create links.
    assert_eq!(
        post(&app, &other, "/coach/invitations/link", &[])
            .await
            .status(),
        403
    );

    // The athlete cancels a pending invitation; it is then gone for the coach.
    invite(&app, &athlete, "dora@example.org", "summary").await;
    let id = pending_invitation(&app, "dora@example.org").await;
    let res = post(
        &app,
        &athlete,
        &format!("/settings/sharing/invitations/{id}/cancel"),
        &[],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(audit_count(&app, "coach_invitation_cancelled").await, 1);
    let again = post(
        &app,
        &athlete,
        &format!("/settings/sharing/invitations/{id}/cancel"),
        &[],
    )
    .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn admins_see_a_users_links_and_invitations() {
    let app = TestApp::spawn().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let (athlete, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    link_through_invitation(&app, &athlete, &coach, "carla@example.org", "full").await;
    invite(&app, &athlete, "dora@example.org", "summary").await;

    let page = admin
        .get(app.url(&format!("/admin/users/{ana}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let doc = html(&page.text().await.unwrap());
    let links = text_of(&doc, "#coach-links").unwrap();
    assert!(links.contains("carla@example.org"), "{links}");
    assert!(links.contains("Full"), "{links}");
    let invitations = text_of(&doc, "#coach-invitations").unwrap();
    assert!(invitations.contains("dora@example.org"), "{invitations}");

    let page = admin
        .get(app.url(&format!("/admin/users/{carla}")))
        .send()
        .await
        .unwrap();
    let doc = html(&page.text().await.unwrap());
    assert!(
        text_of(&doc, "#coach-links")
            .unwrap()
            .contains("ana@example.org")
    );
}

#[tokio::test]
async fn two_racing_acceptances_of_one_link_use_it_once() {
    let app = TestApp::spawn().await;
    let (coach, carla) = signed_in(&app, "carla@example.org", &["athlete", "coach"]).await;
    let (ana_client, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let (ben_client, ben) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let link = create_link(&app, &coach).await;
    let (a, b) = tokio::join!(
        post(&app, &ana_client, &link, &[("access", "full")]),
        post(&app, &ben_client, &link, &[("access", "full")]),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 410]);
    let linked = usize::from(access_of(&app, carla, ana).await.is_some())
        + usize::from(access_of(&app, carla, ben).await.is_some());
    assert_eq!(linked, 1);
}

/// Wait until no coach summary rebuild is queued or running (and none died).
async fn wait_for_rebuilds(app: &TestApp) {
    for _ in 0..400 {
        let (waiting, dead): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE state IN ('queued', 'running')),
                    count(*) FILTER (WHERE state = 'dead')
             FROM jobs WHERE kind = 'rebuild_coach_summaries'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(dead, 0, "a rebuild job died");
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the coach summary rebuild did not finish");
}

#[tokio::test]
async fn admins_set_which_sources_coaches_see_and_coach_figures_follow() {
    use chrono::NaiveDate;
    use pierre::db::summaries::{self, Scope};
    use pierre::domain::Sport;

    let app = TestApp::spawn().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let (_, ana) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
    let parsed = crate::dashboard::activity_on(day, Sport::Cycling, 7);
    crate::dashboard::store_with_load(&app, ana, &parsed, 80.0).await;
    let coach_load = |app: &TestApp| {
        let pool = app.db.clone();
        async move {
            let mut conn = pool.acquire().await.unwrap();
            summaries::get(&mut conn, ana, Scope::Coach)
                .await
                .unwrap()
                .map_or(0.0, |s| s.loads.iter().sum::<f64>())
        }
    };
    assert!((coach_load(&app).await - 80.0).abs() < 1e-6);

    let page = admin.get(app.url("/admin/sharing")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let doc = html(&page.text().await.unwrap());
    assert!(text_of(&doc, "#source-strava").unwrap().contains("no"));
    assert!(text_of(&doc, "#source-upload").unwrap().contains("yes"));

    let own_version = || {
        let pool = app.db.clone();
        async move {
            sqlx::query_scalar::<_, chrono::DateTime<chrono::Utc>>(
                "SELECT updated_at FROM athlete_summaries WHERE user_id = $1 AND scope = 'all'",
            )
            .bind(ana)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let own_before = own_version().await;

    // Hiding uploads from coaches empties Ana's coach figures, audited.
    let res = post(
        &app,
        &admin,
        "/admin/sharing",
        &[("source", "upload"), ("coach_visible", "no")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/admin/sharing?done=changed");
    // The rebuild was queued with the change (one transaction) and the worker of
    // `pierre serve` runs it; the page then says it is done, for how many athletes.
    wait_for_rebuilds(&app).await;
    assert!(coach_load(&app).await.abs() < 1e-6);
    assert_eq!(audit_count(&app, "source_visibility_changed").await, 1);
    let page = admin
        .get(app.url("/admin/sharing?done=changed"))
        .send()
        .await
        .unwrap();
    let doc = html(&page.text().await.unwrap());
    let status = text_of(&doc, "#recompute-status").unwrap();
    assert!(
        status.contains("Coach figures recomputed for 1 athlete."),
        "{status}"
    );
    let polled = admin
        .get(app.url("/admin/sharing/rebuild"))
        .send()
        .await
        .unwrap();
    assert_eq!(polled.status(), 200);
    assert!(
        polled
            .text()
            .await
            .unwrap()
            .contains("recomputed for 1 athlete")
    );
    // The athlete's own figures are untouched.
    let mut conn = app.db.acquire().await.unwrap();
    let all = summaries::get(&mut conn, ana, Scope::All)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    assert!((all.loads.iter().sum::<f64>() - 80.0).abs() < 1e-6);
    // Not even rewritten: its version keys Ana's own cached charts.
    assert_eq!(own_version().await, own_before);

    // Showing them again brings the figures back.
    let res = post(
        &app,
        &admin,
        "/admin/sharing",
        &[("source", "upload"), ("coach_visible", "yes")],
    )
    .await;
    assert_eq!(res.status(), 303);
    wait_for_rebuilds(&app).await;
    assert!((coach_load(&app).await - 80.0).abs() < 1e-6);

    // Unknown sources and values: 422; the same value again: unchanged.
    for form in [
        [("source", "dropbox"), ("coach_visible", "yes")],
        [("source", "upload"), ("coach_visible", "maybe")],
    ] {
        assert_eq!(
            post(&app, &admin, "/admin/sharing", &form).await.status(),
            422
        );
    }
    let res = post(
        &app,
        &admin,
        "/admin/sharing",
        &[("source", "upload"), ("coach_visible", "yes")],
    )
    .await;
    assert_eq!(res.headers()["location"], "/admin/sharing?done=unchanged");
    assert_eq!(audit_count(&app, "source_visibility_changed").await, 2);
}
