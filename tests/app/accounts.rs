//! Accounts and sessions: sign-up, sign-in, sign-out, session lifetime,
//! fixation, replay, disabling, throttling, cookie attributes, logs.

use chrono::TimeDelta;
use pierre::auth::password::PasswordHasher;
use pierre::db::users;

use crate::support::{Spawn, TestApp, csrf_in, html, new_client, text_of};

pub const PASSWORD: &str = "tempo run along the lake";

/// Create a user directly in the database with a real password hash.
pub async fn create_user(app: &TestApp, email: &str, roles: &[&str]) -> uuid::Uuid {
    let hash = PasswordHasher::default()
        .hash(PASSWORD.to_owned())
        .await
        .unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    match users::create(&mut conn, email, "Test Athlete", &hash, roles)
        .await
        .unwrap()
    {
        users::Created::Yes(id) => id,
        users::Created::EmailTaken => panic!("{email} taken"),
    }
}

/// Sign in through the form; returns the response to the POST.
pub async fn login(
    app: &TestApp,
    client: &reqwest::Client,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let token = app.csrf_token(client).await;
    client
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap()
}

/// A new client signed in as a new user with the given roles.
pub async fn signed_in(
    app: &TestApp,
    email: &str,
    roles: &[&str],
) -> (reqwest::Client, uuid::Uuid) {
    let id = create_user(app, email, roles).await;
    let client = new_client();
    let res = login(app, &client, email, PASSWORD).await;
    assert_eq!(res.status(), 303, "sign-in of {email}");
    (client, id)
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn session_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
        .map(|c| c.split(';').next().unwrap().to_owned())
}

async fn get_with_cookie(app: &TestApp, path: &str, cookie: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_up_creates_an_athlete_and_signs_them_in() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/signup"))
        .form(&[
            ("email", "  Ana.Runner@Example.ORG "),
            ("display_name", "Ana"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/dashboard");
    let page = client.get(app.url("/dashboard")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let doc = html(&page.text().await.unwrap());
    assert_eq!(text_of(&doc, "h1").unwrap(), "Welcome, Ana");

    let row = sqlx::query!(
        r#"SELECT email_normalized, password_hash, ARRAY(SELECT role FROM user_roles WHERE user_id = users.id) AS "roles!" FROM users"#
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(row.email_normalized, "ana.runner@example.org");
    assert!(
        row.password_hash
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );
    assert!(!row.password_hash.contains(PASSWORD));
    assert_eq!(row.roles, ["athlete"]);
    let audited: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_events WHERE event_type = 'signup' AND outcome = 'success'"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn sign_up_explains_each_problem_under_its_field_and_keeps_entered_values() {
    let app = TestApp::spawn().await;
    create_user(&app, "taken@example.org", &["athlete"]).await;
    let client = new_client();
    let token = app.csrf_token(&client).await;
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            "TAKEN@example.org",
            "Ana",
            PASSWORD,
            "email",
            "already exists",
        ),
        (
            "not-an-email",
            "Ana",
            PASSWORD,
            "email",
            "like name@example.org",
        ),
        (
            "ana@example.org",
            "",
            PASSWORD,
            "display_name",
            "is required",
        ),
        (
            "ana@example.org",
            "Ana\u{0}Null",
            PASSWORD,
            "display_name",
            "control characters",
        ),
        (
            "ana@example.org",
            &"x".repeat(101),
            PASSWORD,
            "display_name",
            "at most 100",
        ),
        (
            "ana@example.org",
            "Ana",
            "password",
            "password",
            "less common",
        ),
        ("ana@example.org", "Ana", "short", "password", "at least 8"),
    ];
    for (email, name, password, field, message) in cases {
        let res = client
            .post(app.url("/signup"))
            .form(&[
                ("email", *email),
                ("display_name", *name),
                ("password", *password),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{field}: {message}");
        let body = res.text().await.unwrap();
        let doc = html(&body);
        let error = text_of(&doc, ".field-error").unwrap_or_default();
        assert!(
            error.contains(message),
            "{field}: expected {message:?}, got {error:?}"
        );
        assert!(
            !body.contains(password)
                || *password == "password" && !body.contains("value=\"password\""),
            "passwords are never echoed"
        );
        if *field != "email" {
            assert!(
                body.contains(&format!("value=\"{}\"", email.trim())),
                "the email is kept"
            );
        }
    }
    let count: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM users"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing half-stored");
}

#[tokio::test]
async fn hostile_sign_up_input_gets_a_message_never_a_500() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let token = app.csrf_token(&client).await;
    let markup = "<script>alert('x')</script>";
    let res = client
        .post(app.url("/signup"))
        .form(&[
            ("email", markup),
            ("display_name", markup),
            ("password", "x"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(!body.contains(markup), "markup is escaped");
    assert!(
        body.contains("&lt;script&gt;")
            || body.contains("&#60;script&#62;")
            || body.contains("&lt;script")
    );

    let sql = "a@example.org' OR '1'='1";
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("email", sql),
            ("password", "' OR 1=1 --"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // A megabyte value: refused as too large, with a page.
    let huge = "a".repeat(1024 * 1024);
    let res = client
        .post(app.url("/signup"))
        .form(&[
            ("email", "a@example.org"),
            ("display_name", huge.as_str()),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    // Invalid UTF-8 in the form body.
    let res = client
        .post(app.url("/signup"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf_token={token}&email=%FF%FE&display_name=%C3%28&password=x"
        ))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(res.status().as_u16(), 400 | 422),
        "{}",
        res.status()
    );
    let count: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM users"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn htmx_form_errors_swap_only_the_form() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/signup"))
        .header("HX-Request", "true")
        .form(&[
            ("email", "bad"),
            ("display_name", "Ana"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.trim_start().starts_with("<form"), "{body}");
    assert!(!body.contains("<html"));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = TestApp::spawn().await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let client = new_client();
    let wrong = login(&app, &client, "ana@example.org", "not the password at all").await;
    let unknown = login(
        &app,
        &client,
        "nobody@example.org",
        "not the password at all",
    )
    .await;
    assert_eq!(wrong.status(), 422);
    assert_eq!(unknown.status(), 422);
    let wrong_msg = text_of(&html(&wrong.text().await.unwrap()), "#login-error");
    let unknown_msg = text_of(&html(&unknown.text().await.unwrap()), "#login-error");
    assert!(wrong_msg.is_some());
    assert_eq!(wrong_msg, unknown_msg);
    let failures: i64 = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_events WHERE event_type = 'login' AND outcome = 'failure'"#)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(failures, 2);
}

#[tokio::test]
async fn signing_in_returns_to_the_page_that_asked_but_never_off_site() {
    let app = TestApp::spawn().await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let client = new_client();
    let res = client
        .get(app.url("/settings/profile?tab=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/login?next=%2Fsettings%2Fprofile%3Ftab%3D1");
    let page = client
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let doc = html(&page);
    let next = doc
        .select(&scraper::Selector::parse("input[name=next]").unwrap())
        .next()
        .and_then(|el| el.value().attr("value"))
        .unwrap()
        .to_owned();
    assert_eq!(next, "/settings/profile?tab=1");
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("email", "ana@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
            ("next", &next),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/settings/profile?tab=1");

    for evil in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let client = new_client();
        let token = app.csrf_token(&client).await;
        let res = client
            .post(app.url("/login"))
            .form(&[
                ("email", "ana@example.org"),
                ("password", PASSWORD),
                ("csrf_token", &token),
                ("next", evil),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["location"], "/dashboard", "{evil}");
    }
}

#[tokio::test]
async fn the_session_id_changes_at_sign_in_and_a_signed_out_cookie_is_dead() {
    let app = TestApp::spawn().await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let client = new_client();
    // First session (signed in), then sign in again from the same browser.
    let first = login(&app, &client, "ana@example.org", PASSWORD).await;
    let first_cookie =
        session_cookie(&first, "pierre_session").expect("a session cookie is set at sign-in");
    let second = login(&app, &client, "ana@example.org", PASSWORD).await;
    assert_eq!(second.status(), 303);
    // Already signed in: the login page redirects, so sign out and in to see a new id.
    let token = app.csrf_token(&client).await;
    let out = client
        .post(app.url("/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let again = login(&app, &client, "ana@example.org", PASSWORD).await;
    let again_cookie = session_cookie(&again, "pierre_session").unwrap();
    assert_ne!(first_cookie, again_cookie, "a new session id at sign-in");

    // The cookie of the signed-out session no longer works.
    let replay = get_with_cookie(&app, "/dashboard", &first_cookie).await;
    assert_eq!(
        replay.status(),
        303,
        "a signed-out cookie replayed is refused"
    );
    // The current one does.
    assert_eq!(
        get_with_cookie(&app, "/dashboard", &again_cookie)
            .await
            .status(),
        200
    );

    // A session id an attacker planted before sign-in is not kept.
    let planted = "pierre_session=attacker-chosen-value";
    let fresh = new_client();
    let token = app.csrf_token(&fresh).await;
    let res = fresh
        .post(app.url("/login"))
        .header("cookie", format!("{planted}; pierre_csrf={}", "x"))
        .form(&[
            ("email", "ana@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    // The planted cookie header replaced the csrf cookie: refused outright.
    assert_eq!(res.status(), 403);
    let logged_in = login(&app, &fresh, "ana@example.org", PASSWORD).await;
    let issued = session_cookie(&logged_in, "pierre_session").unwrap();
    assert_ne!(issued, planted);
}

#[tokio::test]
async fn session_cookie_attributes_are_strict() {
    let app = TestApp::spawn().await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let res = login(&app, &new_client(), "ana@example.org", PASSWORD).await;
    let cookie = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("pierre_session="))
        .unwrap();
    let attrs: Vec<String> = cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    assert!(attrs.contains(&"httponly".to_owned()), "{cookie}");
    assert!(attrs.contains(&"samesite=lax".to_owned()), "{cookie}");
    assert!(attrs.contains(&"path=/".to_owned()), "{cookie}");
    assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{cookie}");
    // The cookie value is not the stored id: only its hash is in the database.
    let value = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("pierre_session=")
        .to_owned();
    let stored: Vec<Vec<u8>> = sqlx::query_scalar!("SELECT id_hash FROM sessions")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].len(), 32);
    assert!(!value.is_empty());
}

#[tokio::test]
async fn behind_https_the_cookies_are_host_prefixed_and_secure() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_PUBLIC_URL", "https://pierre.example.org".into())],
        ..Spawn::default()
    })
    .await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let client = new_client();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let csrf_cookie = set_cookies(&page)
        .into_iter()
        .find(|c| c.starts_with("__Host-pierre_csrf="))
        .unwrap();
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let token = csrf_in(&page.text().await.unwrap()).unwrap();
    // The client will not send back Secure cookies over http, so send them by hand.
    let seed = csrf_cookie.split(';').next().unwrap().to_owned();
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(app.url("/login"))
        .header("cookie", seed)
        .form(&[
            ("email", "ana@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let cookie = set_cookies(&res)
        .into_iter()
        .find(|c| c.starts_with("__Host-pierre_session="))
        .unwrap();
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
}

#[tokio::test]
async fn idle_sessions_expire_and_active_ones_hit_the_absolute_limit() {
    let app = TestApp::spawn().await;
    let (client, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Idle for 11 hours: still signed in (and that request renews the idle timer).
    app.clock.advance(TimeDelta::hours(11));
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Idle for 13 hours: signed out.
    app.clock.advance(TimeDelta::hours(13));
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );

    // Active every 11 hours: still ends 14 days after sign-in.
    let (client, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;
    let mut elapsed = TimeDelta::zero();
    while elapsed + TimeDelta::hours(11) < TimeDelta::days(14) {
        app.clock.advance(TimeDelta::hours(11));
        elapsed += TimeDelta::hours(11);
        assert_eq!(
            client
                .get(app.url("/dashboard"))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "after {elapsed}"
        );
    }
    app.clock
        .advance(TimeDelta::days(14) - elapsed + TimeDelta::minutes(1));
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );

    // Expired rows are removed by the periodic clean-up.
    let removed = pierre::auth::session_store::delete_expired(&app.db, app.clock.now())
        .await
        .unwrap();
    assert_eq!(removed, 2);
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_on_the_next_request_and_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let (client, id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut conn = app.db.acquire().await.unwrap();
    users::set_disabled(&mut conn, id, true).await.unwrap();
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let res = login(&app, &new_client(), "ana@example.org", PASSWORD).await;
    assert_eq!(res.status(), 403);
    let message = text_of(&html(&res.text().await.unwrap()), "#login-error").unwrap();
    assert!(message.contains("disabled"), "{message}");
    // A disabled user's session row would be refused even if it survived.
    users::set_disabled(&mut conn, id, false).await.unwrap();
    assert_eq!(
        login(&app, &new_client(), "ana@example.org", PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn changing_the_password_needs_the_current_one_and_ends_other_sessions() {
    let app = TestApp::spawn().await;
    let (laptop, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let phone = new_client();
    assert_eq!(
        login(&app, &phone, "ana@example.org", PASSWORD)
            .await
            .status(),
        303
    );
    let page = laptop
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        html(&page)
            .select(&scraper::Selector::parse("#sessions tbody tr").unwrap())
            .count(),
        2
    );
    let token = csrf_in(&page).unwrap();

    let res = laptop
        .post(app.url("/settings/password"))
        .form(&[
            ("current_password", "wrong wrong wrong"),
            ("new_password", "granite otter sunrise"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert_eq!(
        phone
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let res = laptop
        .post(app.url("/settings/password"))
        .form(&[
            ("current_password", PASSWORD),
            ("new_password", "granite otter sunrise"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        laptop
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        phone
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        login(
            &app,
            &new_client(),
            "ana@example.org",
            "granite otter sunrise"
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn users_can_end_one_of_their_sessions_but_not_someone_elses() {
    let app = TestApp::spawn().await;
    let (laptop, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let phone = new_client();
    login(&app, &phone, "ana@example.org", PASSWORD).await;
    let (other, _) = signed_in(&app, "ben@example.org", &["athlete"]).await;

    let page = laptop
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let doc = html(&page);
    let sel = scraper::Selector::parse("#sessions input[name=session]").unwrap();
    let phone_id = doc
        .select(&sel)
        .next()
        .unwrap()
        .value()
        .attr("value")
        .unwrap()
        .to_owned();

    // Ben cannot end Ana's session: it answers like a missing one.
    let ben_page = other
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ben_token = csrf_in(&ben_page).unwrap();
    let res = other
        .post(app.url("/settings/sessions/end"))
        .form(&[("session", phone_id.as_str()), ("csrf_token", &ben_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        phone
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let res = laptop
        .post(app.url("/settings/sessions/end"))
        .form(&[("session", phone_id.as_str()), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        phone
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        laptop
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_removes_everything() {
    let app = TestApp::spawn().await;
    let (client, id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let token = csrf_in(
        &client
            .get(app.url("/settings/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let res = client
        .post(app.url("/settings/account"))
        .form(&[("password", "not my password"), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = client
        .post(app.url("/settings/account"))
        .form(&[("password", PASSWORD), ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let left: i64 = sqlx::query_scalar!(
        r#"SELECT (SELECT count(*) FROM users WHERE id = $1) + (SELECT count(*) FROM sessions WHERE user_id = $1)
                  + (SELECT count(*) FROM user_roles WHERE user_id = $1) AS "n!""#,
        id
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(left, 0);
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    assert_eq!(
        login(&app, &new_client(), "ana@example.org", PASSWORD)
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn profile_settings_are_validated_and_saved() {
    let app = TestApp::spawn().await;
    let (client, id) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let token = csrf_in(
        &client
            .get(app.url("/settings/profile"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    let res = client
        .post(app.url("/settings/profile"))
        .form(&[
            ("display_name", "Ana M."),
            ("time_zone", "Mars/Olympus"),
            ("units", "cubits"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Choose a time zone"));
    assert!(body.contains("Choose metric or imperial"));
    let res = client
        .post(app.url("/settings/profile"))
        .form(&[
            ("display_name", "Ana M."),
            ("time_zone", "Europe/Ljubljana"),
            ("units", "imperial"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let row = sqlx::query!(
        "SELECT display_name, time_zone, units FROM users WHERE id = $1",
        id
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (
            row.display_name.as_str(),
            row.time_zone.as_str(),
            row.units.as_str()
        ),
        ("Ana M.", "Europe/Ljubljana", "imperial")
    );
}

#[tokio::test]
async fn two_hundred_wrong_passwords_throttle_that_account_but_not_another() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_TRUSTED_PROXIES", "127.0.0.1".into())],
        ..Spawn::default()
    })
    .await;
    create_user(&app, "victim@example.org", &["athlete"]).await;
    create_user(&app, "other@example.org", &["athlete"]).await;
    let attacker = new_client();
    let token = app.csrf_token(&attacker).await;
    let mut statuses = Vec::new();
    for i in 0..200_u32 {
        // Spread over many source addresses, as a botnet would.
        let ip = format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256 + 1);
        let res = attacker
            .post(app.url("/login"))
            .header("x-forwarded-for", ip)
            .form(&[
                ("email", "victim@example.org"),
                ("password", "wrong password guess"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry > 0 && retry <= 3600, "{retry}");
            let body = res.text().await.unwrap();
            assert!(body.contains("Too many attempts"), "styled 429 page");
        }
        statuses.push(status);
    }
    assert!(
        statuses[..100].iter().all(|s| *s == 422),
        "the first 100 are judged"
    );
    assert!(statuses[100..].iter().all(|s| *s == 429), "then throttled");
    // Even the right password is throttled for this account meanwhile…
    let res = login(&app, &new_client(), "victim@example.org", PASSWORD).await;
    assert_eq!(res.status(), 429);
    // …while another account from another address signs in.
    let other = new_client();
    let token = app.csrf_token(&other).await;
    let res = other
        .post(app.url("/login"))
        .header("x-forwarded-for", "192.0.2.7")
        .form(&[
            ("email", "other@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // An hour later the victim can sign in again: not locked out forever.
    app.clock.advance(TimeDelta::minutes(61));
    assert_eq!(
        login(&app, &new_client(), "victim@example.org", PASSWORD)
            .await
            .status(),
        303
    );
}

#[tokio::test]
async fn one_address_is_throttled_across_accounts() {
    let app = TestApp::spawn().await;
    let client = new_client();
    let token = app.csrf_token(&client).await;
    let mut last = 0;
    for i in 0..51 {
        let email = format!("guess{i}@example.org");
        let res = client
            .post(app.url("/login"))
            .form(&[
                ("email", email.as_str()),
                ("password", "wrong password guess"),
                ("csrf_token", &token),
            ])
            .send()
            .await
            .unwrap();
        last = res.status().as_u16();
    }
    assert_eq!(last, 429);
}

/// A writer that keeps everything logged, for inspection.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Self;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn logs_of_a_sign_in_contain_neither_the_password_nor_the_session_id() {
    // Each test runs in its own process under nextest; this subscriber is the
    // process's global one (the app's own initialisation then does nothing).
    let captured = Captured::default();
    tracing_subscriber::fmt()
        // Everything the server logs, at the most verbose level; the test's own
        // HTTP client (which of course sees the cookie) is left out.
        .with_env_filter(
            "trace,cookie_store=off,reqwest=off,hyper=off,hyper_util=off,h2=off,rustls=off",
        )
        .with_writer(captured.clone())
        .with_ansi(false)
        .try_init()
        .expect("this test needs its own process (cargo nextest, as ./test runs it) to capture the server's logs");
    let app = TestApp::spawn().await;
    create_user(&app, "ana@example.org", &["athlete"]).await;
    let client = new_client();
    let bad = login(&app, &client, "ana@example.org", "wrong-but-secret-guess").await;
    assert_eq!(bad.status(), 422);
    let res = login(&app, &client, "ana@example.org", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = session_cookie(&res, "pierre_session").unwrap();
    let value = cookie.trim_start_matches("pierre_session=").to_owned();
    assert_eq!(
        client
            .get(app.url("/dashboard"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("http_request"),
        "the capture works: {} bytes",
        logs.len()
    );
    assert!(!logs.contains(PASSWORD), "password in logs");
    assert!(
        !logs.contains("wrong-but-secret-guess"),
        "password guess in logs"
    );
    let decoded: String = url::form_urlencoded::parse(format!("v={value}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The session key is the part after the signature.
    for needle in [
        value.as_str(),
        decoded.as_str(),
        &decoded[decoded.len().saturating_sub(43)..],
    ] {
        if let Some(at) = logs.find(needle) {
            let start = logs[..at].rfind('\n').unwrap_or(0);
            panic!(
                "session id in logs: {}",
                &logs[start..(at + 200).min(logs.len())]
            );
        }
    }
}
