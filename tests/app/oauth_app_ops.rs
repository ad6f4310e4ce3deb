//! The admin OAuth-app page's extras: API usage from the shared budget, recent
//! provider errors, the Strava push subscription (create / delete) and the
//! credentials test — against the real provider simulator, and wiremock for
//! failures.

use chrono::{DurationRound as _, TimeDelta, Utc};
use pierre::clock::Clock;
use pierre::provider_sim::{self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimConfig};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, csrf_in, html, text_of};

const VERIFY: &str = "verify-me-31";

/// Answers Strava's callback validation like Pierre's webhook endpoint does:
/// echoes `hub.challenge` when `hub.verify_token` matches.
struct Challenge;

impl Respond for Challenge {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let pairs: Vec<(String, String)> = request
            .url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        if get("hub.verify_token").as_deref() == Some(VERIFY) {
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({ "hub.challenge": get("hub.challenge") }))
        } else {
            ResponseTemplate::new(403)
        }
    }
}

/// The simulator, on its own port.
fn simulator() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = provider_sim::start(listener, SimConfig::default(), Clock::system()).unwrap();
    tokio::spawn(running.server);
    running.base_url
}

/// An app whose public URL is `public` (where the provider calls back).
async fn spawn(public: &str) -> TestApp {
    TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_PUBLIC_URL", format!("{public}/"))],
        ..Spawn::default()
    })
    .await
}

async fn save_app(app: &TestApp, client: &reqwest::Client, api: &str, id: &str, secret: &str) {
    let page = client
        .get(app.url("/admin/oauth-apps/strava"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let fields = [
        ("csrf_token", token.as_str()),
        ("display_name", "Strava"),
        ("client_id", id),
        ("client_secret", secret),
        ("authorize_url", &format!("{api}/oauth/authorize")),
        ("token_url", &format!("{api}/oauth/token")),
        ("api_base_url", &format!("{api}/api/v3")),
        ("scopes", "read,activity:read_all"),
        ("webhook_verify_token", VERIFY),
        ("enabled", "on"),
        ("limit_short", "200"),
        ("limit_daily", "2000"),
        ("read_limit_short", "100"),
        ("read_limit_daily", "1000"),
    ];
    let res = client
        .post(app.url("/admin/oauth-apps/strava"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
}

async fn act(
    app: &TestApp,
    client: &reqwest::Client,
    action: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    let token = app.csrf_token(client).await;
    let mut fields = form.to_vec();
    fields.push(("csrf_token", &token));
    client
        .post(app.url(&format!("/admin/oauth-apps/strava/{action}")))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

async fn page(app: &TestApp, client: &reqwest::Client, query: &str) -> String {
    client
        .get(app.url(&format!("/admin/oauth-apps/strava{query}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn stored_subscription(app: &TestApp) -> Option<String> {
    sqlx::query_scalar("SELECT subscription_id FROM oauth_apps WHERE provider = 'strava'")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn audited(app: &TestApp, event: &str) -> Vec<(bool, serde_json::Value)> {
    let rows: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT outcome, details FROM audit_events WHERE event_type = $1 ORDER BY id",
    )
    .bind(event)
    .fetch_all(&app.db)
    .await
    .unwrap();
    rows.into_iter().map(|(o, d)| (o == "success", d)).collect()
}

#[tokio::test]
async fn an_admin_tests_credentials_and_creates_and_deletes_the_subscription_at_the_simulator() {
    let sim = simulator();
    let public = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks/strava"))
        .respond_with(Challenge)
        .mount(&public)
        .await;
    let app = spawn(&public.uri()).await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let id = DEMO_CLIENT_ID.to_string();

    // Wrong secret, then wrong client id: each says which part failed.
    save_app(&app, &admin, &sim, &id, "not-the-secret").await;
    let res = act(&app, &admin, "test", &[]).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(
        outcome.contains("failed") && outcome.contains("client secret"),
        "{outcome}"
    );
    assert!(!body.contains("not-the-secret"));
    save_app(&app, &admin, &sim, "999", DEMO_CLIENT_SECRET).await;
    let body = act(&app, &admin, "test", &[]).await.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(
        outcome.contains("does not know this client id"),
        "{outcome}"
    );

    // The right pair is accepted; no subscription yet.
    save_app(&app, &admin, &sim, &id, DEMO_CLIENT_SECRET).await;
    let body = act(&app, &admin, "test", &[]).await.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(
        outcome.contains("Strava accepted the client id and secret"),
        "{outcome}"
    );
    assert!(outcome.contains("no push subscription"), "{outcome}");
    assert!(!body.contains(DEMO_CLIENT_SECRET));
    assert_eq!(
        text_of(&html(&body), "#subscription-status").unwrap(),
        "No subscription."
    );

    // Create: the simulator validates the callback (our stand-in echoes the challenge).
    let res = act(&app, &admin, "subscription", &[("action", "create")]).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        res.headers()["location"],
        "/admin/oauth-apps/strava?done=subscribed"
    );
    let stored = stored_subscription(&app)
        .await
        .expect("subscription id stored");
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{sim}/api/v3/push_subscriptions"))
        .query(&[
            ("client_id", id.as_str()),
            ("client_secret", DEMO_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["id"].to_string(), stored);
    assert_eq!(
        listed[0]["callback_url"],
        format!("{}/webhooks/strava", public.uri())
    );
    let body = page(&app, &admin, "?done=subscribed").await;
    let doc = html(&body);
    assert!(
        text_of(&doc, "#subscription-status")
            .unwrap()
            .contains(&stored)
    );
    assert!(text_of(&doc, "#admin-notice").unwrap().contains("created"));
    assert!(body.contains("id=\"subscription-delete-form\""));

    // The test now sees it, pointing at this instance.
    let body = act(&app, &admin, "test", &[]).await.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(outcome.contains("this instance's webhook URL"), "{outcome}");

    // Creating again: Strava says it exists, and it is ours, so it is adopted.
    sqlx::query("UPDATE oauth_apps SET subscription_id = NULL")
        .execute(&app.db)
        .await
        .unwrap();
    let res = act(&app, &admin, "subscription", &[("action", "create")]).await;
    assert_eq!(
        res.headers()["location"],
        "/admin/oauth-apps/strava?done=subscription_adopted"
    );
    assert_eq!(stored_subscription(&app).await, Some(stored.clone()));

    // Delete.
    let res = act(&app, &admin, "subscription", &[("action", "delete")]).await;
    assert_eq!(
        res.headers()["location"],
        "/admin/oauth-apps/strava?done=unsubscribed"
    );
    assert_eq!(stored_subscription(&app).await, None);
    let listed: serde_json::Value = reqwest::Client::new()
        .get(format!("{sim}/api/v3/push_subscriptions"))
        .query(&[
            ("client_id", id.as_str()),
            ("client_secret", DEMO_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
    // Nothing left to delete: said clearly.
    let res = act(&app, &admin, "subscription", &[("action", "delete")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("nothing to delete"));

    // Audited, without secrets.
    let created = audited(&app, "oauth_subscription_created").await;
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|(ok, _)| *ok));
    assert_eq!(created[0].1["subscription_id"], stored.as_str());
    let deleted = audited(&app, "oauth_subscription_deleted").await;
    assert_eq!(deleted.len(), 1);
    let tested = audited(&app, "oauth_app_tested").await;
    assert_eq!(
        tested.iter().map(|(ok, _)| *ok).collect::<Vec<_>>(),
        [false, false, true, true]
    );
    let all: String = sqlx::query_scalar("SELECT string_agg(details::text, ' ') FROM audit_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!all.contains(DEMO_CLIENT_SECRET) && !all.contains(VERIFY));
}

#[tokio::test]
async fn a_callback_that_does_not_validate_or_a_failing_provider_is_shown_and_recorded() {
    let sim = simulator();
    // The public URL answers nothing useful: Strava cannot validate the callback.
    let public = MockServer::start().await;
    let app = spawn(&public.uri()).await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    save_app(
        &app,
        &admin,
        &sim,
        &DEMO_CLIENT_ID.to_string(),
        DEMO_CLIENT_SECRET,
    )
    .await;
    let res = act(&app, &admin, "subscription", &[("action", "create")]).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(
        outcome.contains("not created") && outcome.contains("callback URL"),
        "{outcome}"
    );
    assert_eq!(stored_subscription(&app).await, None);
    // Kept among the recent errors.
    let errors = text_of(&html(&body), "#app-errors").unwrap();
    assert!(
        errors.contains("webhook") && errors.contains("400"),
        "{errors}"
    );

    // A provider failing with 500 and one that does not answer in time.
    let strava = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/push_subscriptions"))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .mount(&strava)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/push_subscriptions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(serde_json::json!({
            "message": "Rate Limit Exceeded", "errors": []
        })))
        .mount(&strava)
        .await;
    save_app(&app, &admin, &strava.uri(), "77", "s3cr3t-value").await;
    let body = act(&app, &admin, "subscription", &[("action", "create")])
        .await
        .text()
        .await
        .unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(outcome.contains("server error (500)"), "{outcome}");
    let body = act(&app, &admin, "test", &[]).await.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(outcome.contains("rate limit"), "{outcome}");
    // Unreachable API base.
    save_app(&app, &admin, "http://127.0.0.1:9", "77", "s3cr3t-value").await;
    let body = act(&app, &admin, "test", &[]).await.text().await.unwrap();
    let outcome = text_of(&html(&body), "#app-outcome").unwrap();
    assert!(outcome.contains("could not be reached"), "{outcome}");
    assert!(!body.contains("s3cr3t-value"));
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM provider_errors")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(recorded, 2, "the two failed subscription attempts");

    // Without an app, or for Garmin: a clear refusal.
    let res = admin
        .post(app.url("/admin/oauth-apps/garmin/test"))
        .form(&[("csrf_token", app.csrf_token(&admin).await.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Garmin"));
}

#[tokio::test]
async fn usage_bars_show_the_current_windows_only() {
    let app = TestApp::spawn().await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    // Nothing counted yet.
    let body = page(&app, &admin, "").await;
    let doc = html(&body);
    for id in [
        "usage-short",
        "usage-short-read",
        "usage-daily",
        "usage-daily-read",
    ] {
        assert_eq!(
            text_of(&doc, &format!("#{id} .usage-figure")).unwrap(),
            "no calls yet",
            "{id}"
        );
    }
    let now = Utc::now();
    let window = now.duration_trunc(TimeDelta::minutes(15)).unwrap();
    sqlx::query(
        "INSERT INTO provider_budget (provider, window_start, short_used, short_read_used, day_start, daily_used, daily_read_used, blocked_until)
         VALUES ('strava', $1, 190, 40, $2, 1234, 600, $3)",
    )
    .bind(window)
    .bind(now.date_naive())
    .bind(now + TimeDelta::minutes(5))
    .execute(&app.db)
    .await
    .unwrap();
    let doc = html(&page(&app, &admin, "").await);
    assert_eq!(
        text_of(&doc, "#usage-short .usage-figure").unwrap(),
        "190 of 200 (95%)"
    );
    assert_eq!(
        text_of(&doc, "#usage-short-read .usage-figure").unwrap(),
        "40 of 100 (40%)"
    );
    assert_eq!(
        text_of(&doc, "#usage-daily .usage-figure").unwrap(),
        "1,234 of 2,000 (61%)"
    );
    assert!(text_of(&doc, "#usage-blocked").unwrap().contains("429"));
    let bar = scraper::Selector::parse("#usage-short progress.over").unwrap();
    assert_eq!(doc.select(&bar).count(), 1, "near the limit is marked");

    // The windows rolled over: an old row means no calls in this window.
    sqlx::query(
        "UPDATE provider_budget SET window_start = window_start - interval '15 minutes',
                day_start = day_start - 1, blocked_until = now() - interval '1 minute'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let doc = html(&page(&app, &admin, "").await);
    assert_eq!(
        text_of(&doc, "#usage-short .usage-figure").unwrap(),
        "no calls yet"
    );
    assert_eq!(
        text_of(&doc, "#usage-daily-read .usage-figure").unwrap(),
        "no calls yet"
    );
    assert!(text_of(&doc, "#usage-blocked").is_none());
}
