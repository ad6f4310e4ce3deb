//! Provider connections: the OAuth client (connect, callback, disconnect) over
//! real HTTP against the Strava simulator, wiremock standing in for the
//! provider where failures are needed, and the token refresh under
//! concurrency.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::TimeDelta;
use pierre::config::Settings;
use pierre::crypto::{Aad, DataKeys};
use pierre::domain::Provider;
use pierre::metrics::ProviderMetrics;
use pierre::providers::ProviderCtx;
use pierre::providers::tokens::{self, NewConnection, TokenError, TokenSet};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;
use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, test_vars, url_for};

const CLIENT_SECRET: &str = "app-client-secret-91c2";

fn keys_var() -> String {
    format!(
        "t1:{}",
        base64::engine::general_purpose::STANDARD.encode([9_u8; 32])
    )
}

fn keys() -> DataKeys {
    DataKeys::parse(&keys_var()).unwrap()
}

async fn spawn() -> TestApp {
    TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", keys_var())],
        ..Spawn::default()
    })
    .await
}

/// A provider context on the app's database and clock, as the job worker has.
fn ctx(app: &TestApp, timeout: Duration) -> ProviderCtx {
    let mut vars = test_vars(&url_for(&app.database));
    vars.insert("PIERRE_DATA_KEYS".to_owned(), keys_var());
    let settings = Settings::from_map(&vars).unwrap();
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(ProviderMetrics::new(&registry).unwrap());
    let mut ctx = ProviderCtx::new(Arc::new(settings), app.clock.clone(), metrics).unwrap();
    ctx.http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .unwrap();
    ctx
}

/// Configure the provider's app with its endpoints under `base`.
async fn configure(app: &TestApp, provider: &str, base: &str, client_id: &str, enabled: bool) {
    let secret = keys()
        .seal(
            &SecretString::from(CLIENT_SECRET),
            &Aad::app(provider, "client_secret"),
        )
        .unwrap()
        .to_bytes();
    let scopes = if provider == "strava" {
        "read,activity:read_all"
    } else {
        ""
    };
    sqlx::query(
        "INSERT INTO oauth_apps (provider, display_name, client_id, client_secret, client_secret_set_at,
             authorize_url, token_url, api_base_url, scopes, enabled, limit_short, limit_daily, read_limit_short, read_limit_daily)
         VALUES ($1, $2, $3, $4, now(), $5, $6, $7, $8, $9, 200, 2000, 100, 1000)
         ON CONFLICT (provider) DO UPDATE SET client_id = EXCLUDED.client_id, client_secret = EXCLUDED.client_secret,
             authorize_url = EXCLUDED.authorize_url, token_url = EXCLUDED.token_url,
             api_base_url = EXCLUDED.api_base_url, enabled = EXCLUDED.enabled",
    )
    .bind(provider)
    .bind(if provider == "strava" { "Strava" } else { "Garmin Connect" })
    .bind(client_id)
    .bind(secret)
    .bind(format!("{base}/oauth/authorize"))
    .bind(format!("{base}/oauth/token"))
    .bind(format!("{base}/api/v3"))
    .bind(scopes)
    .bind(enabled)
    .execute(&app.db)
    .await
    .unwrap();
}

/// Store a Strava connection with the given tokens.
async fn connect_directly(
    app: &TestApp,
    user: uuid::Uuid,
    access: &str,
    refresh: &str,
    expires_in: TimeDelta,
) {
    let mut conn = app.db.acquire().await.unwrap();
    tokens::save(
        &mut conn,
        &keys(),
        &NewConnection {
            user_id: user,
            provider: Provider::Strava,
            external_athlete_id: "777",
            athlete_name: "Ada Lovelace",
            granted_scopes: "read,activity:read_all",
            tokens: &TokenSet {
                access: SecretString::from(access),
                refresh: SecretString::from(refresh),
                expires_at: app.clock.now() + expires_in,
            },
            backfill_after: None,
        },
    )
    .await
    .unwrap();
}

fn token_answer(access: &str, refresh: &str, expires_at: i64) -> serde_json::Value {
    json!({
        "token_type": "Bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_at": expires_at,
        "expires_in": 21600,
    })
}

async fn stored_tokens(app: &TestApp, user: uuid::Uuid) -> TokenSet {
    let mut conn = app.db.acquire().await.unwrap();
    tokens::load(&mut conn, &keys(), user, Provider::Strava)
        .await
        .unwrap()
        .unwrap()
}

async fn status_of(app: &TestApp, user: uuid::Uuid) -> (String, Option<String>) {
    sqlx::query_as("SELECT status, last_error FROM provider_connections WHERE user_id = $1")
        .bind(user)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn provider_errors(app: &TestApp) -> Vec<(String, Option<i32>, String)> {
    sqlx::query_as("SELECT kind, status, message FROM provider_errors ORDER BY id")
        .fetch_all(&app.db)
        .await
        .unwrap()
}

// ------------------------------------------------------------------ refresh

#[tokio::test]
async fn twenty_concurrent_calls_on_an_expiring_token_make_one_refresh_and_keep_the_rotated_token()
{
    let app = spawn().await;
    let (_client, user) = signed_in(&app, "refresh@example.com", &[]).await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    connect_directly(
        &app,
        user,
        "old-access",
        "old-refresh",
        TimeDelta::minutes(2),
    )
    .await;
    let expires = (app.clock.now() + TimeDelta::hours(6)).timestamp();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=old-refresh"))
        .and(body_string_contains(&format!(
            "client_secret={CLIENT_SECRET}"
        )))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_answer("new-access", "new-refresh", expires))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .named("refresh with the original token")
        .mount(&provider)
        .await;
    let ctx = Arc::new(ctx(&app, Duration::from_secs(5)));
    let pool = app.db.clone();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let ctx = Arc::clone(&ctx);
            let pool = pool.clone();
            tokio::spawn(
                async move { tokens::access_token(&ctx, &pool, user, Provider::Strava).await },
            )
        })
        .collect();
    for call in calls {
        let token = call.await.unwrap().unwrap();
        assert_eq!(token.expose_secret(), "new-access");
    }
    provider.verify().await;
    let stored = stored_tokens(&app, user).await;
    assert_eq!(stored.refresh.expose_secret(), "new-refresh");
    assert_eq!(stored.access.expose_secret(), "new-access");
    assert_eq!(stored.expires_at.timestamp(), expires);

    // Six hours on, the next refresh presents the rotated token, never the old one.
    app.clock.advance(TimeDelta::hours(6));
    let later = (app.clock.now() + TimeDelta::hours(6)).timestamp();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("refresh_token=new-refresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_answer(
            "third-access",
            "third-refresh",
            later,
        )))
        .expect(1)
        .named("refresh with the rotated token")
        .mount(&provider)
        .await;
    let token = tokens::access_token(&ctx, &pool, user, Provider::Strava)
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "third-access");
    provider.verify().await;
    assert_eq!(
        stored_tokens(&app, user).await.refresh.expose_secret(),
        "third-refresh"
    );
}

#[tokio::test]
async fn a_fresh_token_is_returned_without_calling_the_provider() {
    let app = spawn().await;
    let (_client, user) = signed_in(&app, "fresh@example.com", &[]).await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    connect_directly(&app, user, "live-access", "r", TimeDelta::hours(3)).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&provider)
        .await;
    let ctx = ctx(&app, Duration::from_secs(5));
    let token = tokens::access_token(&ctx, &app.db, user, Provider::Strava)
        .await
        .unwrap();
    assert_eq!(token.expose_secret(), "live-access");
    let other = uuid::Uuid::new_v4();
    assert!(matches!(
        tokens::access_token(&ctx, &app.db, other, Provider::Strava).await,
        Err(TokenError::NotConnected)
    ));
}

#[tokio::test]
async fn a_refused_refresh_token_marks_the_connection_for_reconnecting() {
    let app = spawn().await;
    let (_client, user) = signed_in(&app, "revoked@example.com", &[]).await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    connect_directly(
        &app,
        user,
        "old-access",
        "old-refresh",
        TimeDelta::minutes(-5),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "message": "Bad Request",
            "errors": [{"resource": "RefreshToken", "field": "refresh_token", "code": "invalid"}]
        })))
        .expect(1)
        .mount(&provider)
        .await;
    let ctx = ctx(&app, Duration::from_secs(5));
    let first = tokens::access_token(&ctx, &app.db, user, Provider::Strava).await;
    assert!(matches!(first, Err(TokenError::NeedsReauth)), "{first:?}");
    // Known now: no second call.
    let second = tokens::access_token(&ctx, &app.db, user, Provider::Strava).await;
    assert!(matches!(second, Err(TokenError::NeedsReauth)), "{second:?}");
    provider.verify().await;
    let (status, last_error) = status_of(&app, user).await;
    assert_eq!(status, "needs_reauth");
    let last_error = last_error.unwrap();
    assert!(last_error.contains("Reconnect Strava"), "{last_error}");
    let errors = provider_errors(&app).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].0, "oauth");
    assert_eq!(errors[0].1, Some(400));
    assert!(!errors[0].2.contains("old-refresh"));
}

#[tokio::test]
async fn server_errors_timeouts_and_garbled_answers_leave_the_tokens_alone() {
    let app = spawn().await;
    let (_client, user) = signed_in(&app, "flaky@example.com", &[]).await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    connect_directly(
        &app,
        user,
        "old-access",
        "old-refresh",
        TimeDelta::minutes(1),
    )
    .await;
    let ctx = ctx(&app, Duration::from_millis(500));
    let answers = [
        ResponseTemplate::new(503).set_body_string("upstream unavailable"),
        ResponseTemplate::new(500).set_body_json(json!({"message": "Error"})),
        ResponseTemplate::new(200)
            .set_body_json(token_answer("a", "b", 1))
            .set_delay(Duration::from_secs(2)),
        ResponseTemplate::new(200)
            .set_body_raw(r#"{"token_type":"Bearer","access_tok"#, "application/json"),
        ResponseTemplate::new(429).set_body_json(json!({"message": "Rate Limit Exceeded"})),
    ];
    for answer in answers {
        provider.reset().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .respond_with(answer)
            .expect(1)
            .mount(&provider)
            .await;
        let got = tokens::access_token(&ctx, &app.db, user, Provider::Strava).await;
        assert!(matches!(got, Err(TokenError::Transient(_))), "{got:?}");
        provider.verify().await;
        let stored = stored_tokens(&app, user).await;
        assert_eq!(stored.refresh.expose_secret(), "old-refresh");
        assert_eq!(stored.access.expose_secret(), "old-access");
        assert_eq!(status_of(&app, user).await.0, "active");
    }
    let errors = provider_errors(&app).await;
    assert_eq!(errors.len(), 5);
    assert!(errors.iter().all(|e| !e.2.contains("old-")));
}
