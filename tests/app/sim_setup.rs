//! `pierre oauth-apps configure-sim URL` and `pierre oauth-apps subscribe`
//! through the real binary, against a running simulator (what `./run` does).

use std::process::Command;

use base64::Engine as _;
use pierre::clock::Clock;
use pierre::crypto::{Aad, DataKeys, Sealed};
use pierre::provider_sim::{self, DEMO_CLIENT_SECRET, SimConfig};
use secrecy::ExposeSecret as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{TestApp, url_for};

/// Echoes Strava's `hub.challenge` (stands in for Pierre's `/webhooks/strava`).
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let challenge = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "hub.challenge")
            .map(|(_, v)| v.into_owned());
        ResponseTemplate::new(200).set_body_json(serde_json::json!({ "hub.challenge": challenge }))
    }
}

/// provider, client id, token URL, API base, enabled, sealed secret, sealed verify token.
type AppRow = (
    String,
    String,
    String,
    String,
    bool,
    Vec<u8>,
    Option<Vec<u8>>,
);

fn keys_var() -> String {
    format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode([9u8; 32])
    )
}

#[tokio::test]
async fn configure_sim_sets_up_both_apps_once_and_subscribe_creates_the_subscription() {
    let app = TestApp::spawn().await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = provider_sim::start(listener, SimConfig::default(), Clock::system()).unwrap();
    let sim = running.base_url.clone();
    tokio::spawn(running.server);
    let public = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/webhooks/strava"))
        .respond_with(Echo)
        .mount(&public)
        .await;
    let public_url = format!("{}/", public.uri());

    let sim_arg = sim.clone();
    let (ok, out, err) = tokio::task::spawn_blocking({
        let database = app.database.clone();
        let public_url = public_url.clone();
        move || {
            let app = TestAppRef(database);
            app.run(&public_url, &["oauth-apps", "configure-sim", &sim_arg])
        }
    })
    .await
    .unwrap();
    assert!(ok, "{out} {err}");
    assert!(
        out.contains("strava configured") && out.contains("garmin configured"),
        "{out}"
    );
    assert!(out.contains("Garmin pings go to"), "{out}");
    let rows: Vec<AppRow> = sqlx::query_as(
        "SELECT provider, client_id, token_url, api_base_url, enabled, client_secret, webhook_verify_token
         FROM oauth_apps ORDER BY provider",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let keys = DataKeys::parse(&keys_var()).unwrap();
    for (provider, client_id, token_url, api, enabled, secret, verify) in &rows {
        assert_eq!(client_id, "4242");
        assert!(enabled);
        assert!(token_url.starts_with(&sim));
        assert!(api.starts_with(&sim));
        let opened = keys
            .open(
                &Sealed::from_bytes(secret).unwrap(),
                &Aad::app(provider, "client_secret"),
            )
            .unwrap();
        assert_eq!(opened.expose_secret(), DEMO_CLIENT_SECRET);
        assert_eq!(verify.is_some(), provider == "strava");
    }
    let audited = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM audit_events WHERE event_type LIKE 'oauth_%' AND details->>'via' = 'cli'",
        )
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    assert_eq!(audited().await, 2);

    // Again: nothing changes, nothing more is audited.
    let database = app.database.clone();
    let (ok, out, _) = {
        let public_url = public_url.clone();
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            TestAppRef(database).run(&public_url, &["oauth-apps", "configure-sim", &sim])
        })
        .await
        .unwrap()
    };
    assert!(ok);
    assert!(
        out.contains("strava already configured") && out.contains("garmin already configured"),
        "{out}"
    );
    assert_eq!(audited().await, 2);

    // The subscription: created once, then in place.
    for expected in ["created", "is in place"] {
        let database = app.database.clone();
        let public_url = public_url.clone();
        let (ok, out, err) = tokio::task::spawn_blocking(move || {
            TestAppRef(database).run(&public_url, &["oauth-apps", "subscribe"])
        })
        .await
        .unwrap();
        assert!(ok, "{out} {err}");
        assert!(out.contains(expected), "{out}");
    }
    let stored: Option<String> =
        sqlx::query_scalar("SELECT subscription_id FROM oauth_apps WHERE provider = 'strava'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored.as_deref(), Some("1"));
    assert_eq!(audited().await, 3);

    // A bad URL is a usage error.
    let database = app.database.clone();
    let (ok, _, err) = tokio::task::spawn_blocking(move || {
        TestAppRef(database).run(&public_url, &["oauth-apps", "configure-sim", "ftp://x"])
    })
    .await
    .unwrap();
    assert!(!ok);
    assert!(err.contains("simulator URL"), "{err}");
}

/// What the blocking closures need of the app: its database name.
struct TestAppRef(String);

impl TestAppRef {
    fn run(&self, public: &str, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_pierre"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", url_for(&self.0))
            .env("PIERRE_DATA_KEYS", keys_var())
            .env("PIERRE_PUBLIC_URL", public)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}
