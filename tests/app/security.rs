//! Authorisation and CSRF over every registered route.
//!
//! `ROUTES` is the expected behaviour of every route for every kind of
//! visitor. The test first reads the route registrations out of `src/web/`
//! (every `web::resource("…")` and its methods) and fails if a registered
//! route is missing from the table, so a new route cannot slip in unreviewed.

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
    // Sign-out last: it ends the session used by the rows above.
    ("POST", "/logout", "/logout", &[], [303, 303, 303, 303]),
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
