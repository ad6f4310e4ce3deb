//! Authorisation and CSRF over every registered route.
//!
//! `ROUTES` is the expected behaviour of every route for every kind of
//! visitor. The test first reads the route registrations out of `src/web/`
//! (every `web::resource("…")` and its methods) and fails if a registered
//! route is missing from the table, so a new route cannot slip in unreviewed.
//!
//! Paths are concrete requests; in `ROUTES`, `:target` is replaced by the id
//! of another user ("target", an athlete nobody is linked to): under
//! `/activities/…` it stands for an activity id the visitor does not own
//! (another user's id is as foreign as another user's activity), under
//! `/coach/athletes/…` for an athlete the visitor is not linked to. The
//! "coach" column is a coach with no link to the target.
//!
//! `COACH_ROUTES` (issue 8) checks the coach views and the athlete's own
//! activity routes for the roles around one athlete, Ana: "coach of this
//! athlete (summary)", "(full)", "another coach" (linked to someone else) and
//! "revoked coach" (linked, signed in, then the link deleted). There `:athlete`
//! is Ana's id, `:upload` her uploaded activity (with an original file),
//! `:strava` her Strava activity (withheld from coaches) and `:other` another
//! athlete's activity. Every route under `/coach/athletes/` must have a row
//! there as well.

use std::collections::BTreeSet;

use crate::accounts::signed_in;
use crate::support::{TestApp, new_client};

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Athlete,
    Coach,
    Admin,
}

const WHO: [Who; 4] = [Who::Anonymous, Who::Athlete, Who::Coach, Who::Admin];

/// (method, registered pattern, concrete path, form body, expected status for
/// anonymous, athlete, coach, admin). Unsafe requests carry a valid token.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    [u16; 4],
);

const ROUTES: &[Row] = &[
    ("GET", "/", "/", &[], [200, 200, 200, 200]),
    ("GET", "/design", "/design", &[], [200, 200, 200, 200]),
    (
        "POST",
        "/theme",
        "/theme",
        &[("theme", "dark")],
        [303, 303, 303, 303],
    ),
    (
        "GET",
        "/static/{hash}/{path:.+}",
        "/static/x/css/app.css",
        &[],
        [200, 200, 200, 200],
    ),
    (
        "GET",
        "/health/live",
        "/health/live",
        &[],
        [200, 200, 200, 200],
    ),
    (
        "GET",
        "/health/ready",
        "/health/ready",
        &[],
        [200, 200, 200, 200],
    ),
    ("GET", "/signup", "/signup", &[], [200, 303, 303, 303]),
    ("POST", "/signup", "/signup", &[], [422, 422, 422, 422]),
    ("GET", "/login", "/login", &[], [200, 303, 303, 303]),
    ("POST", "/login", "/login", &[], [422, 422, 422, 422]),
    ("GET", "/dashboard", "/dashboard", &[], [303, 200, 200, 200]),
    ("GET", "/coach", "/coach", &[], [303, 403, 200, 403]),
    (
        "POST",
        "/coach/athletes/{id}/tags",
        "/coach/athletes/:target/tags",
        &[("tag", "juniors")],
        [303, 403, 404, 403],
    ),
    (
        "POST",
        "/coach/athletes/{id}/tags/delete",
        "/coach/athletes/:target/tags/delete",
        &[("tag", "juniors")],
        [303, 403, 404, 403],
    ),
    (
        "GET",
        "/settings/profile",
        "/settings/profile",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/settings/profile",
        "/settings/profile",
        &[],
        [303, 422, 422, 422],
    ),
    (
        "GET",
        "/settings/security",
        "/settings/security",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/settings/password",
        "/settings/password",
        &[],
        [303, 422, 422, 422],
    ),
    (
        "POST",
        "/settings/sessions/end",
        "/settings/sessions/end",
        &[("session", "AAAA")],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/settings/sessions/end-others",
        "/settings/sessions/end-others",
        &[],
        [303, 303, 303, 303],
    ),
    (
        "GET",
        "/settings/account",
        "/settings/account",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/settings/account",
        "/settings/account",
        &[],
        [303, 422, 422, 422],
    ),
    ("GET", "/admin", "/admin", &[], [303, 403, 403, 303]),
    (
        "GET",
        "/admin/users",
        "/admin/users",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "GET",
        "/admin/users/{id}",
        "/admin/users/:target",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/users/{id}/roles",
        "/admin/users/:target/roles",
        &[("role", "coach"), ("action", "grant")],
        [303, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/users/{id}/disable",
        "/admin/users/:target/disable",
        &[],
        [303, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/users/{id}/enable",
        "/admin/users/:target/enable",
        &[],
        [303, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/users/{id}/sessions/end",
        "/admin/users/:target/sessions/end",
        &[],
        [303, 403, 403, 303],
    ),
    (
        "POST",
        "/admin/users/{id}/delete",
        "/admin/users/:target/delete",
        &[],
        [303, 403, 403, 422],
    ),
    (
        "GET",
        "/admin/audit",
        "/admin/audit",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "POST",
        "/webhooks/garmin",
        "/webhooks/garmin",
        &[],
        [400, 400, 400, 400],
    ),
    (
        "GET",
        "/admin/jobs",
        "/admin/jobs",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/jobs/{id}/retry",
        "/admin/jobs/999999/retry",
        &[],
        [303, 403, 403, 404],
    ),
    (
        "GET",
        "/admin/oauth-apps",
        "/admin/oauth-apps",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "GET",
        "/admin/oauth-apps/{id}",
        "/admin/oauth-apps/strava",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/oauth-apps/{id}",
        "/admin/oauth-apps/strava",
        &[("display_name", "")],
        [303, 403, 403, 422],
    ),
    (
        "POST",
        "/admin/oauth-apps/{id}/subscription",
        "/admin/oauth-apps/strava/subscription",
        &[("action", "create")],
        [303, 403, 403, 422],
    ),
    (
        "POST",
        "/admin/oauth-apps/{id}/test",
        "/admin/oauth-apps/strava/test",
        &[],
        [303, 403, 403, 422],
    ),
    (
        "GET",
        "/connections",
        "/connections",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/connections/{provider}/connect",
        "/connections/strava/connect",
        &[("range", "30d")],
        [303, 422, 422, 422],
    ),
    (
        "POST",
        "/connections/{provider}/disconnect",
        "/connections/strava/disconnect",
        &[],
        [303, 303, 303, 303],
    ),
    (
        "GET",
        "/connections/{provider}/status",
        "/connections/strava/status",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "GET",
        "/oauth/{provider}/callback",
        "/oauth/strava/callback?state=forged&code=x",
        &[],
        [303, 400, 400, 400],
    ),
    (
        "GET",
        "/activities",
        "/activities",
        &[],
        [303, 200, 200, 200],
    ),
    ("GET", "/calendar", "/calendar", &[], [303, 200, 200, 200]),
    ("GET", "/records", "/records", &[], [303, 200, 200, 200]),
    (
        "GET",
        "/activities/upload",
        "/activities/upload",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/activities/upload",
        "/activities/upload",
        &[],
        [303, 400, 400, 400],
    ),
    (
        "GET",
        "/activities/{id}",
        "/activities/:target",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/activities/{id}",
        "/activities/:target",
        &[("name", "x"), ("sport", "running")],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/activities/{id}/original",
        "/activities/:target/original",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/activities/{id}/export.gpx",
        "/activities/:target/export.gpx",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/activities/{id}/delete",
        "/activities/:target/delete",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/settings/account/export",
        "/settings/account/export",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "GET",
        "/settings/thresholds",
        "/settings/thresholds",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/settings/thresholds",
        "/settings/thresholds",
        &[],
        [303, 422, 422, 422],
    ),
    (
        "POST",
        "/settings/thresholds/{id}/delete",
        "/settings/thresholds/999999/delete",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/settings/thresholds/recompute",
        "/settings/thresholds/recompute",
        &[],
        [303, 200, 200, 200],
    ),
    // Provider webhooks: no session; a malformed validation or event is 400 for anyone.
    (
        "GET",
        "/webhooks/strava",
        "/webhooks/strava",
        &[],
        [400, 400, 400, 400],
    ),
    (
        "POST",
        "/webhooks/strava",
        "/webhooks/strava",
        &[("object_type", "activity")],
        [400, 400, 400, 400],
    ),
    // Coach views of an athlete: not a coach → 403, a coach not linked to
    // the athlete → 404 (see COACH_ROUTES for linked coaches).
    (
        "GET",
        "/coach/athletes/{id}",
        "/coach/athletes/:target",
        &[],
        [303, 403, 404, 403],
    ),
    (
        "GET",
        "/coach/athletes/{id}/calendar",
        "/coach/athletes/:target/calendar",
        &[],
        [303, 403, 404, 403],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities",
        "/coach/athletes/:target/activities",
        &[],
        [303, 403, 404, 403],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}",
        "/coach/athletes/:target/activities/:target",
        &[],
        [303, 403, 404, 403],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}/original",
        "/coach/athletes/:target/activities/:target/original",
        &[],
        [303, 403, 404, 403],
    ),
    // Sharing with coaches (issue 8).
    (
        "GET",
        "/settings/sharing",
        "/settings/sharing",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/settings/sharing/invite",
        "/settings/sharing/invite",
        &[],
        [303, 422, 422, 422],
    ),
    (
        "POST",
        "/settings/sharing/invitations/{id}/cancel",
        "/settings/sharing/invitations/:target/cancel",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/settings/sharing/coaches/{id}/access",
        "/settings/sharing/coaches/:target/access",
        &[("access", "full")],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/settings/sharing/coaches/{id}/revoke",
        "/settings/sharing/coaches/:target/revoke",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/invitations/{token}",
        "/invitations/unknown-token",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/invitations/{token}",
        "/invitations/unknown-token",
        &[("access", "full")],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/coach/invitations",
        "/coach/invitations",
        &[],
        [303, 200, 200, 200],
    ),
    (
        "POST",
        "/coach/invitations/link",
        "/coach/invitations/link",
        &[],
        [303, 403, 200, 403],
    ),
    (
        "POST",
        "/coach/invitations/{id}/accept",
        "/coach/invitations/:target/accept",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/coach/invitations/{id}/decline",
        "/coach/invitations/:target/decline",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/coach/invitations/{id}/cancel",
        "/coach/invitations/:target/cancel",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/coach/athletes/{id}/end",
        "/coach/athletes/:target/end",
        &[],
        [303, 404, 404, 404],
    ),
    (
        "GET",
        "/admin/sharing",
        "/admin/sharing",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "GET",
        "/admin/sharing/rebuild",
        "/admin/sharing/rebuild",
        &[],
        [303, 403, 403, 200],
    ),
    (
        "POST",
        "/admin/sharing",
        "/admin/sharing",
        &[("source", "upload"), ("coach_visible", "yes")],
        [303, 403, 403, 303],
    ),
    (
        "POST",
        "/activities/{id}/comments",
        "/activities/:target/comments",
        &[("body", "Nice")],
        [303, 404, 404, 404],
    ),
    (
        "POST",
        "/coach/athletes/{id}/activities/{activity_id}/comments",
        "/coach/athletes/:target/activities/:target/comments",
        &[("body", "Nice")],
        [303, 403, 404, 403],
    ),
    // Sign-out last: it ends the session used by the rows above.
    ("POST", "/logout", "/logout", &[], [303, 303, 303, 303]),
];

/// The roles around one athlete (Ana) of issue 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CoachRole {
    Summary,
    Full,
    Another,
    Revoked,
}

const COACH_ROLES: [CoachRole; 4] = [
    CoachRole::Summary,
    CoachRole::Full,
    CoachRole::Another,
    CoachRole::Revoked,
];

/// (method, registered pattern, concrete path, form body, expected status for
/// coach of Ana (summary), coach of Ana (full), another coach, revoked coach).
const COACH_ROUTES: &[Row] = &[
    // The coach views.
    (
        "GET",
        "/coach/athletes/{id}",
        "/coach/athletes/:athlete",
        &[],
        [200, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}",
        "/coach/athletes/:athlete?range=all",
        &[],
        [200, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/calendar",
        "/coach/athletes/:athlete/calendar",
        &[],
        [200, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities",
        "/coach/athletes/:athlete/activities",
        &[],
        [200, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}",
        "/coach/athletes/:athlete/activities/:upload",
        &[],
        [200, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}",
        "/coach/athletes/:athlete/activities/:strava",
        &[],
        [404, 404, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}",
        "/coach/athletes/:athlete/activities/:other",
        &[],
        [404, 404, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}/original",
        "/coach/athletes/:athlete/activities/:upload/original",
        &[],
        [404, 200, 404, 404],
    ),
    (
        "GET",
        "/coach/athletes/{id}/activities/{activity_id}/original",
        "/coach/athletes/:athlete/activities/:strava/original",
        &[],
        [404, 404, 404, 404],
    ),
    // The athlete's own routes act on the signed-in user's data only: no
    // coach reaches Ana's activity through them.
    (
        "GET",
        "/activities/{id}",
        "/activities/:upload",
        &[],
        [404, 404, 404, 404],
    ),
    (
        "POST",
        "/activities/{id}",
        "/activities/:upload",
        &[("name", "x"), ("sport", "running")],
        [404, 404, 404, 404],
    ),
    (
        "GET",
        "/activities/{id}/original",
        "/activities/:upload/original",
        &[],
        [404, 404, 404, 404],
    ),
    (
        "GET",
        "/activities/{id}/export.gpx",
        "/activities/:upload/export.gpx",
        &[],
        [404, 404, 404, 404],
    ),
    (
        "POST",
        "/activities/{id}/delete",
        "/activities/:upload/delete",
        &[],
        [404, 404, 404, 404],
    ),
    // Comments: linked coaches of either access level, on activities they may see.
    (
        "POST",
        "/coach/athletes/{id}/activities/{activity_id}/comments",
        "/coach/athletes/:athlete/activities/:upload/comments",
        &[("body", "Strong finish.")],
        [303, 303, 404, 404],
    ),
    (
        "POST",
        "/coach/athletes/{id}/activities/{activity_id}/comments",
        "/coach/athletes/:athlete/activities/:strava/comments",
        &[("body", "Strong finish.")],
        [404, 404, 404, 404],
    ),
    (
        "POST",
        "/coach/athletes/{id}/activities/{activity_id}/comments",
        "/coach/athletes/:athlete/activities/:other/comments",
        &[("body", "Strong finish.")],
        [404, 404, 404, 404],
    ),
    // The coach's own group tags, for linked athletes only.
    (
        "POST",
        "/coach/athletes/{id}/tags",
        "/coach/athletes/:athlete/tags",
        &[("tag", "juniors")],
        [303, 303, 404, 404],
    ),
    (
        "POST",
        "/coach/athletes/{id}/tags/delete",
        "/coach/athletes/:athlete/tags/delete",
        &[("tag", "juniors")],
        [303, 303, 404, 404],
    ),
    // Last: a linked coach ends the link (every role is its own coach).
    (
        "POST",
        "/coach/athletes/{id}/end",
        "/coach/athletes/:athlete/end",
        &[],
        [303, 303, 404, 404],
    ),
];

/// Every (method, pattern) registered under `src/web/`.
fn registered_routes() -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/web");
    let mut files = vec![dir];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("web::resource(\"") {
            rest = &rest[start + "web::resource(\"".len()..];
            let end = rest.find('"').unwrap();
            let pattern = rest[..end].to_owned();
            let chain_end = rest[end..]
                .find("web::resource(\"")
                .map_or(rest.len(), |i| i + end);
            let chain = &rest[end..chain_end];
            let chain = chain.split("\n}").next().unwrap();
            for (needle, method) in [
                ("web::get()", "GET"),
                ("web::post()", "POST"),
                ("web::put()", "PUT"),
                ("web::patch()", "PATCH"),
                ("web::delete()", "DELETE"),
            ] {
                if chain.contains(needle) {
                    found.insert((method.to_owned(), pattern.clone()));
                }
            }
        }
    }
    found
}

#[test]
fn every_registered_route_is_in_the_authorisation_table() {
    let registered = registered_routes();
    assert!(
        registered.len() >= 15,
        "route scan found too little: {registered:?}"
    );
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(method, pattern, ..)| ((*method).to_owned(), (*pattern).to_owned()))
        .collect();
    let missing: Vec<_> = registered.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes without an authorisation row in tests/app/security.rs: {missing:?}"
    );
    let stale: Vec<_> = table.difference(&registered).collect();
    assert!(
        stale.is_empty(),
        "rows for routes that no longer exist: {stale:?}"
    );
}

#[test]
fn every_coach_view_route_is_in_the_coach_table() {
    let registered: BTreeSet<(String, String)> = registered_routes()
        .into_iter()
        .filter(|(_, pattern)| pattern.starts_with("/coach/athletes/"))
        .collect();
    assert!(registered.len() >= 5, "{registered:?}");
    let table: BTreeSet<(String, String)> = COACH_ROUTES
        .iter()
        .map(|(method, pattern, ..)| ((*method).to_owned(), (*pattern).to_owned()))
        .collect();
    let missing: Vec<_> = registered.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "coach routes missing from COACH_ROUTES: {missing:?}"
    );
}

#[tokio::test]
async fn every_coach_route_answers_each_coach_role_as_expected() {
    use pierre::db::activities::Source;

    use crate::coach_views::{link, store};
    let app = TestApp::spawn().await;
    let today = app.clock.now().date_naive();
    let ana = crate::accounts::create_user(&app, "ana@example.org", &["athlete"]).await;
    let ben = crate::accounts::create_user(&app, "ben@example.org", &["athlete"]).await;
    let upload = store(
        &app,
        ana,
        Source::Upload,
        "Ride",
        today,
        50.0,
        Some(b"file"),
    )
    .await;
    let strava = store(
        &app,
        ana,
        Source::Strava,
        "Strava ride",
        today - chrono::TimeDelta::days(1),
        60.0,
        None,
    )
    .await;
    let other = store(&app, ben, Source::Upload, "Ben's ride", today, 40.0, None).await;
    let mut failures = Vec::new();
    for (index, role) in COACH_ROLES.into_iter().enumerate() {
        let email = format!("{role:?}@example.org").to_lowercase();
        let (client, coach) = signed_in(&app, &email, &["athlete", "coach"]).await;
        match role {
            CoachRole::Summary => link(&app, coach, ana, "summary").await,
            CoachRole::Full => link(&app, coach, ana, "full").await,
            CoachRole::Another => link(&app, coach, ben, "full").await,
            CoachRole::Revoked => {
                link(&app, coach, ana, "full").await;
                let res = client
                    .get(app.url(&format!("/coach/athletes/{ana}")))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200, "linked before the revocation");
                sqlx::query("DELETE FROM coach_links WHERE coach_id = $1")
                    .bind(coach)
                    .execute(&app.db)
                    .await
                    .unwrap();
            }
        }
        let token = app.csrf_token(&client).await;
        for (method, pattern, path, body, expected) in COACH_ROUTES {
            let path = path
                .replace(":athlete", &ana.to_string())
                .replace(":upload", &upload.to_string())
                .replace(":strava", &strava.to_string())
                .replace(":other", &other.to_string());
            let mut form: Vec<(&str, &str)> = body.to_vec();
            form.push(("csrf_token", &token));
            let request = match *method {
                "GET" => client.get(app.url(&path)),
                "POST" => client.post(app.url(&path)).form(&form),
                other => panic!("add {other} to the test"),
            };
            let status = request.send().await.unwrap().status().as_u16();
            if status != expected[index] {
                failures.push(format!(
                    "{method} {pattern} ({path}) as {role:?}: got {status}, expected {}",
                    expected[index]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM activities WHERE user_id = $1")
        .bind(ana)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 2, "no coach deleted anything");
}

async fn client_for(app: &TestApp, who: Who) -> reqwest::Client {
    match who {
        Who::Anonymous => new_client(),
        Who::Athlete => signed_in(app, "athlete@example.org", &["athlete"]).await.0,
        Who::Coach => {
            signed_in(app, "coach@example.org", &["athlete", "coach"])
                .await
                .0
        }
        Who::Admin => {
            signed_in(app, "admin@example.org", &["athlete", "admin"])
                .await
                .0
        }
    }
}

#[tokio::test]
async fn every_route_answers_each_kind_of_visitor_as_expected() {
    let app = TestApp::spawn().await;
    // The user that routes with an {id} act on.
    let target = crate::accounts::create_user(&app, "target@example.org", &["athlete"]).await;
    let mut failures = Vec::new();
    for (index, who) in WHO.into_iter().enumerate() {
        let client = client_for(&app, who).await;
        let token = app.csrf_token(&client).await;
        for (method, pattern, path, body, expected) in ROUTES {
            let mut form: Vec<(&str, &str)> = body.to_vec();
            form.push(("csrf_token", &token));
            let path = path.replace(":target", &target.to_string());
            let request = match *method {
                "GET" => client.get(app.url(&path)),
                "POST" => client.post(app.url(&path)).form(&form),
                other => panic!("add {other} to the test"),
            };
            let status = request.send().await.unwrap().status().as_u16();
            if status != expected[index] {
                failures.push(format!(
                    "{who:?} {method} {pattern}: got {status}, expected {}",
                    expected[index]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn every_unsafe_route_refuses_a_missing_foreign_or_cross_origin_token() {
    let app = TestApp::spawn().await;
    let target = crate::accounts::create_user(&app, "target@example.org", &["athlete"]).await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete", "admin"]).await;
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let own_token = app.csrf_token(&client).await;
    let other_token = app.csrf_token(&other).await;
    assert_ne!(own_token, other_token);
    // Provider webhooks are called by other servers and exempt from CSRF by design
    // (auth::csrf::EXEMPT_PREFIXES); they authenticate by their own means.
    for (method, pattern, path, body, _) in ROUTES
        .iter()
        .filter(|r| r.0 != "GET" && !r.1.starts_with("/webhooks/"))
    {
        let path = path.replace(":target", &target.to_string());
        let path = path.as_str();
        let send = |token: Option<&str>, origin: Option<&str>, header: bool| {
            let mut form: Vec<(&str, &str)> = body.to_vec();
            if let (Some(token), false) = (token, header) {
                form.push(("csrf_token", token));
            }
            let mut request = client.post(app.url(path)).form(&form);
            if let (Some(token), true) = (token, header) {
                request = request.header("X-CSRF-Token", token);
            }
            if let Some(origin) = origin {
                request = request.header("Origin", origin);
            }
            request.send()
        };
        let what = format!("{method} {pattern}");
        assert_eq!(
            send(None, None, false).await.unwrap().status(),
            403,
            "{what}: no token"
        );
        assert_eq!(
            send(Some(&other_token), None, false)
                .await
                .unwrap()
                .status(),
            403,
            "{what}: another session's token"
        );
        assert_eq!(
            send(Some(&other_token), None, true).await.unwrap().status(),
            403,
            "{what}: another session's token in the header"
        );
        assert_eq!(
            send(Some("forged"), None, true).await.unwrap().status(),
            403,
            "{what}: forged header"
        );
        assert_eq!(
            send(Some(&own_token), Some("https://evil.example"), false)
                .await
                .unwrap()
                .status(),
            403,
            "{what}: foreign Origin"
        );
        let cross_site = client
            .post(app.url(path))
            .header("Sec-Fetch-Site", "cross-site")
            .form(&[("csrf_token", own_token.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(
            cross_site.status(),
            403,
            "{what}: Sec-Fetch-Site cross-site"
        );
    }
    // The same request with the right token and origin is not refused.
    let res = client
        .post(app.url("/theme"))
        .header("Origin", app.address.clone())
        .form(&[("theme", "dark"), ("csrf_token", own_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn get_requests_never_change_state() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let before: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_events"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    for (method, _, path, ..) in ROUTES.iter().filter(|r| r.0 == "GET") {
        let path = path.replace(":target", &uuid::Uuid::nil().to_string());
        let _ = (method, client.get(app.url(&path)).send().await.unwrap());
    }
    let after: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_events"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(before, after);
    // Still signed in: no GET signs out.
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn json_endpoints_are_same_origin_unless_the_origin_is_allowed() {
    let app = TestApp::spawn_with(crate::support::Spawn {
        vars: vec![("CORS_ALLOWED_ORIGINS", "https://partner.example.org".into())],
        ..Default::default()
    })
    .await;
    let ask = |origin: &'static str| {
        app.client
            .get(app.url("/health/ready"))
            .header("Origin", origin)
            .send()
    };
    let allowed = ask("https://partner.example.org").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://partner.example.org"
    );
    let other = ask("https://evil.example").await.unwrap();
    assert!(!other.headers().contains_key("access-control-allow-origin"));
    // Preflight.
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/health/ready"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let ok = preflight("https://partner.example.org").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["access-control-allow-origin"],
        "https://partner.example.org"
    );
    assert_eq!(
        preflight("https://evil.example").await.unwrap().status(),
        403
    );
    // HTML pages never get CORS headers, even for an allowed origin.
    let page = app
        .client
        .get(app.url("/"))
        .header("Origin", "https://partner.example.org")
        .send()
        .await
        .unwrap();
    assert!(!page.headers().contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn the_design_page_is_for_admins_only_in_production() {
    let key = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode([3_u8; 32])
    };
    let app = TestApp::spawn_with(crate::support::Spawn {
        vars: vec![
            ("PIERRE_ENV", "production".into()),
            ("PIERRE_DATA_KEYS", format!("k1:{key}")),
            ("PIERRE_SECRET_KEY", key),
            // Plain-HTTP test server; the cookies are Secure, so send them by hand below.
            ("PIERRE_PUBLIC_URL", "https://pierre.example.org".into()),
        ],
        ..Default::default()
    })
    .await;
    let res = app.get("/design").await;
    assert_eq!(res.status(), 303, "anonymous: sign in first");
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
}
