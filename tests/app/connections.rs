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
use pierre::provider_sim::{self, SimConfig};

use crate::support::{Spawn, TestApp, html, new_client, test_vars, url_for};

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
        .and(body_string_contains(format!(
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

// ------------------------------------------------------------- connect flow

/// The Strava simulator on a free port, accepting this test's app secret.
struct Sim {
    base: String,
    client: reqwest::Client,
}

impl Sim {
    #[expect(clippy::unused_async, reason = "spawns onto the test's runtime")]
    async fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let running = provider_sim::start(
            listener,
            SimConfig {
                seed: 11,
                activities_per_athlete: 5,
                client_secret: CLIENT_SECRET.to_owned(),
                ..SimConfig::default()
            },
            pierre::clock::Clock::system(),
        )
        .unwrap();
        tokio::spawn(running.server);
        Self {
            base: running.base_url,
            client: new_client(),
        }
    }

    /// Show the consent page at `authorize`, submit it as athlete number
    /// `athlete` with the `ticked` optional scopes and `decision`; the redirect
    /// back to Pierre.
    async fn consent(
        &self,
        authorize: &str,
        athlete: usize,
        ticked: &[&str],
        decision: &str,
    ) -> url::Url {
        let page = self.client.get(authorize).send().await.unwrap();
        assert_eq!(page.status(), 200, "consent page");
        let body = page.text().await.unwrap();
        let doc = html(&body);
        let sel = |s: &str| scraper::Selector::parse(s).unwrap();
        let hidden = |name: &str| {
            doc.select(&sel(&format!("input[type=hidden][name={name}]")))
                .next()
                .and_then(|e| e.value().attr("value"))
                .unwrap()
                .to_owned()
        };
        let athletes: Vec<String> = doc
            .select(&sel("input[type=radio][name=athlete]"))
            .map(|e| e.value().attr("value").unwrap().to_owned())
            .collect();
        let mut form = vec![
            ("client_id".to_owned(), hidden("client_id")),
            ("redirect_uri".to_owned(), hidden("redirect_uri")),
            ("state".to_owned(), hidden("state")),
            ("requested".to_owned(), hidden("requested")),
            ("athlete".to_owned(), athletes[athlete].clone()),
            ("decision".to_owned(), decision.to_owned()),
            ("scope".to_owned(), "read".to_owned()),
        ];
        form.extend(ticked.iter().map(|t| ("scope".to_owned(), (*t).to_owned())));
        let answer = self
            .client
            .post(format!("{}/oauth/authorize", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        url::Url::parse(answer.headers()["location"].to_str().unwrap()).unwrap()
    }
}

impl Sim {
    /// Authorize the app as athlete number `athlete` outside Pierre: (access, refresh).
    async fn grant(&self, athlete: usize) -> (String, String) {
        let mut authorize = url::Url::parse(&format!("{}/oauth/authorize", self.base)).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", "4242")
            .append_pair("redirect_uri", "http://localhost/oauth/strava/callback")
            .append_pair("response_type", "code")
            .append_pair("scope", "read,activity:read_all")
            .append_pair("state", "s");
        let redirect = self
            .consent(
                authorize.as_str(),
                athlete,
                &["activity:read_all"],
                "authorize",
            )
            .await;
        let code = redirect
            .query_pairs()
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let answer: serde_json::Value = self
            .client
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("client_id", "4242"),
                ("client_secret", CLIENT_SECRET),
                ("code", code.as_str()),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (
            answer["access_token"].as_str().unwrap().to_owned(),
            answer["refresh_token"].as_str().unwrap().to_owned(),
        )
    }
}

/// Press "Connect" for `provider` with `range`: the provider's authorize URL.
async fn start_connect(
    app: &TestApp,
    client: &reqwest::Client,
    provider: &str,
    range: &str,
) -> url::Url {
    let token = app.csrf_token(client).await;
    let res = client
        .post(app.url(&format!("/connections/{provider}/connect")))
        .form(&[("csrf_token", token.as_str()), ("range", range)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "connect redirects to the provider");
    url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap()
}

fn state_of(url: &url::Url) -> String {
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

/// Follow the provider's redirect back to Pierre (its host is the public URL).
async fn back_to_pierre(
    app: &TestApp,
    client: &reqwest::Client,
    redirect: &url::Url,
) -> reqwest::Response {
    let path = format!(
        "{}?{}",
        redirect.path(),
        redirect.query().unwrap_or_default()
    );
    client.get(app.url(&path)).send().await.unwrap()
}

async fn count(app: &TestApp, sql: &'static str, user: uuid::Uuid) -> i64 {
    sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

async fn connections_of(app: &TestApp, user: uuid::Uuid) -> i64 {
    count(
        app,
        "SELECT count(*) FROM provider_connections WHERE user_id = $1",
        user,
    )
    .await
}

fn metric_value(metrics: &str, outcome: &str, provider: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with("pierre_oauth_flows_total{")
                && l.contains(&format!("outcome=\"{outcome}\""))
                && l.contains(&format!("provider=\"{provider}\""))
        })
        .and_then(|l| l.rsplit(' ').next())
        .map_or(0, |v| v.parse().unwrap())
}

#[tokio::test]
async fn connecting_strava_through_the_simulator_stores_sealed_tokens_and_queues_the_import() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "connect@example.com", &[]).await;

    let page = client.get(app.url("/connections")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    // The connect form's answer redirects to the provider: CSP allows exactly that origin.
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {};", sim.base)),
        "{csp}"
    );
    let body = page.text().await.unwrap();
    assert!(body.contains("Connect Strava"), "{body}");
    assert!(body.contains("Garmin Connect") || body.contains("Garmin"));
    assert!(body.contains("not set up"), "Garmin is not configured");

    let authorize = start_connect(&app, &client, "strava", "90d").await;
    assert!(authorize.as_str().starts_with(&sim.base));
    let pairs: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("approval_prompt").as_deref(), Some("auto"));
    assert_eq!(get("scope").as_deref(), Some("read,activity:read_all"));
    assert!(
        get("redirect_uri")
            .unwrap()
            .ends_with("/oauth/strava/callback")
    );

    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    let res = back_to_pierre(&app, &client, &redirect).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/connections");

    // The row: sealed tokens that open to what the simulator issued, never plaintext.
    let (raw_access, raw_refresh, name, scopes, after): (
        Vec<u8>,
        Vec<u8>,
        String,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT access_token, refresh_token, athlete_name, granted_scopes, backfill_after
         FROM provider_connections WHERE user_id = $1 AND provider = 'strava'",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let opened = stored_tokens(&app, user).await;
    let access = opened.access.expose_secret().to_owned();
    let refresh = opened.refresh.expose_secret().to_owned();
    assert!(access.len() >= 20 && refresh.len() >= 20);
    for raw in [&raw_access, &raw_refresh] {
        for plain in [&access, &refresh] {
            assert!(
                !raw.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "a token is stored in plaintext"
            );
        }
    }
    assert!(!name.is_empty(), "athlete name from the token answer");
    assert_eq!(scopes, "read,activity:read_all");
    let days = (app.clock.now() - after.unwrap()).num_days();
    assert_eq!(days, 90);

    // The backfill job, deduplicated per athlete and provider.
    let (payload, key): (serde_json::Value, String) = sqlx::query_as(
        "SELECT payload, dedupe_key FROM jobs WHERE user_id = $1 AND kind = 'sync_backfill'",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(payload["provider"], "strava");
    assert_eq!(payload["after"], after.unwrap().timestamp());
    assert_eq!(key, format!("backfill:{user}:strava"));

    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE subject_user_id = $1 AND event_type = 'provider_connected'",
            user
        )
        .await,
        1
    );
    assert_eq!(metric_value(&app.metrics().await, "connected", "strava"), 1);

    // The page: connected as whom, the flash, and no token anywhere.
    let body = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Strava is connected as"), "flash: {body}");
    assert!(body.contains(&name));
    assert!(body.contains("Disconnect Strava"));
    assert!(!body.contains(&access) && !body.contains(&refresh));
    let again = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !again.contains("Strava is connected as"),
        "the flash shows once"
    );

    // The progress fragment answers while the import waits.
    let fragment = client
        .get(app.url("/connections/strava/status"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(fragment.status(), 200);
    let fragment = fragment.text().await.unwrap();
    assert!(fragment.contains("id=\"backfill-strava\""), "{fragment}");

    // Replaying the callback URL does nothing.
    let replay = back_to_pierre(&app, &client, &redirect).await;
    assert_eq!(replay.status(), 400);
    let text = replay.text().await.unwrap();
    assert!(text.contains("already used"), "{text}");
    assert_eq!(connections_of(&app, user).await, 1);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM jobs WHERE user_id = $1 AND kind = 'sync_backfill'",
            user
        )
        .await,
        1
    );
    assert_eq!(
        metric_value(&app.metrics().await, "state_invalid", "strava"),
        1
    );
}

#[tokio::test]
async fn cancelling_at_strava_says_so_and_stores_nothing() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "cancel@example.com", &[]).await;
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let redirect = sim.consent(authorize.as_str(), 0, &[], "cancel").await;
    let res = back_to_pierre(&app, &client, &redirect).await;
    assert_eq!(res.status(), 200);
    // Its "connect again" form redirects to the provider: allowed by the CSP.
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains(&format!("form-action 'self' {};", sim.base)),
        "{csp}"
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("You cancelled connecting Strava"), "{body}");
    assert!(body.contains("Connect Strava again"));
    assert_eq!(connections_of(&app, user).await, 0);
    assert_eq!(metric_value(&app.metrics().await, "denied", "strava"), 1);
}

#[tokio::test]
async fn an_unticked_activity_scope_is_named_and_nothing_is_stored() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "scope@example.com", &[]).await;
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let redirect = sim.consent(authorize.as_str(), 0, &[], "authorize").await;
    assert!(redirect.as_str().contains("scope=read"));
    let res = back_to_pierre(&app, &client, &redirect).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("activity:read_all"), "{body}");
    assert!(body.contains("Connect Strava again"));
    assert_eq!(connections_of(&app, user).await, 0);
    assert_eq!(
        count(&app, "SELECT count(*) FROM jobs WHERE user_id = $1", user).await,
        0
    );
    assert_eq!(
        metric_value(&app.metrics().await, "scope_missing", "strava"),
        1
    );
}

#[tokio::test]
async fn a_mismatched_foreign_or_expired_state_is_refused() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    configure(&app, "garmin", &sim.base, "g-client", true).await;
    let (client, user) = signed_in(&app, "state@example.com", &[]).await;

    // Not ours.
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let res = client
        .get(app.url("/oauth/strava/callback?state=forged&code=abc&scope=read,activity:read_all"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not valid"));

    // Started for Strava, answered at Garmin's callback: refused, and used up.
    let state = state_of(&authorize);
    let res = client
        .get(app.url(&format!("/oauth/garmin/callback?state={state}&code=abc")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("another provider"));
    let res = client
        .get(app.url(&format!(
            "/oauth/strava/callback?state={state}&code=abc&scope=read,activity:read_all"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // Another browser session cannot use this session's state.
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let (other, _) = signed_in(&app, "other@example.com", &[]).await;
    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    assert_eq!(back_to_pierre(&app, &other, &redirect).await.status(), 400);

    // Too late.
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    app.clock.advance(TimeDelta::minutes(11));
    let res = back_to_pierre(&app, &client, &redirect).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("expired"));

    assert_eq!(connections_of(&app, user).await, 0);
    let metrics = app.metrics().await;
    assert_eq!(metric_value(&metrics, "state_mismatch", "garmin"), 1);
    assert_eq!(metric_value(&metrics, "state_expired", "strava"), 1);
    assert!(metric_value(&metrics, "state_invalid", "strava") >= 2);
}

#[tokio::test]
async fn token_endpoint_failures_end_in_a_styled_page_and_store_nothing() {
    let app = spawn().await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    let (client, user) = signed_in(&app, "exchange@example.com", &[]).await;
    let answers = [
        (
            ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"),
            "exchange_failed",
        ),
        (
            ResponseTemplate::new(200).set_body_raw(
                r#"{"token_type":"Bearer","access_token":"abc"#,
                "application/json",
            ),
            "exchange_failed",
        ),
        (
            ResponseTemplate::new(400).set_body_json(json!({
                "message": "Bad Request",
                "errors": [{"resource": "AuthorizationCode", "field": "code", "code": "invalid"}]
            })),
            "exchange_rejected",
        ),
    ];
    for (answer, _) in &answers {
        provider.reset().await;
        Mock::given(method("POST"))
            .and(path("/oauth/token"))
            .and(body_string_contains("grant_type=authorization_code"))
            .and(body_string_contains("code=the-code"))
            .respond_with(answer.clone())
            .expect(1)
            .mount(&provider)
            .await;
        let authorize = start_connect(&app, &client, "strava", "all").await;
        let state = state_of(&authorize);
        let res = client
            .get(app.url(&format!(
                "/oauth/strava/callback?state={state}&code=the-code&scope=read,activity:read_all"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 502);
        let body = res.text().await.unwrap();
        assert!(body.contains("Nothing was stored"), "{body}");
        assert!(body.contains("class=\"error-page"), "styled page");
        provider.verify().await;
        assert_eq!(connections_of(&app, user).await, 0);
    }
    let metrics = app.metrics().await;
    assert_eq!(metric_value(&metrics, "exchange_failed", "strava"), 2);
    assert_eq!(metric_value(&metrics, "exchange_rejected", "strava"), 1);
    assert_eq!(provider_errors(&app).await.len(), 3);
}

#[tokio::test]
async fn garmin_uses_pkce_s256_with_the_verifier_kept_in_the_session() {
    let app = spawn().await;
    let provider = MockServer::start().await;
    configure(&app, "garmin", &provider.uri(), "g-client", true).await;
    let (client, user) = signed_in(&app, "garmin@example.com", &[]).await;
    let authorize = start_connect(&app, &client, "garmin", "1y").await;
    let pairs: Vec<(String, String)> = authorize.query_pairs().into_owned().collect();
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    assert_eq!(get("code_challenge_method").as_deref(), Some("S256"));
    let challenge = get("code_challenge").unwrap();
    assert_eq!(challenge.len(), 43);

    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("code_verifier="))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "token_type": "bearer",
            "access_token": "garmin-access",
            "refresh_token": "garmin-refresh",
            "expires_in": 86400,
            "scope": "ACTIVITY_EXPORT",
        })))
        .expect(1)
        .mount(&provider)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/rest/user/id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"userId": "g-user-1"})))
        .expect(1)
        .mount(&provider)
        .await;
    let state = get("state").unwrap();
    let res = client
        .get(app.url(&format!("/oauth/garmin/callback?state={state}&code=g-code")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    provider.verify().await;
    let requests = provider.received_requests().await.unwrap();
    let token_call = requests
        .iter()
        .find(|r| r.url.path() == "/oauth/token")
        .unwrap();
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(&token_call.body)
        .into_owned()
        .collect();
    let verifier = &fields.iter().find(|(k, _)| k == "code_verifier").unwrap().1;
    assert_eq!(
        pierre::providers::oauth::pkce_challenge(verifier),
        challenge
    );
    let external: String = sqlx::query_scalar(
        "SELECT external_athlete_id FROM provider_connections WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(external, "g-user-1");
}

#[tokio::test]
async fn a_strava_athlete_already_linked_to_another_account_is_refused() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (first, _) = signed_in(&app, "first@example.com", &[]).await;
    let authorize = start_connect(&app, &first, "strava", "30d").await;
    let redirect = sim
        .consent(authorize.as_str(), 1, &["activity:read_all"], "authorize")
        .await;
    assert_eq!(back_to_pierre(&app, &first, &redirect).await.status(), 303);

    let (second, second_id) = signed_in(&app, "second@example.com", &[]).await;
    let authorize = start_connect(&app, &second, "strava", "30d").await;
    let redirect = sim
        .consent(authorize.as_str(), 1, &["activity:read_all"], "authorize")
        .await;
    let res = back_to_pierre(&app, &second, &redirect).await;
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("connected to another Pierre account")
    );
    assert_eq!(connections_of(&app, second_id).await, 0);
    assert_eq!(
        metric_value(&app.metrics().await, "athlete_taken", "strava"),
        1
    );
}

#[tokio::test]
async fn an_unconfigured_provider_cannot_be_connected() {
    let app = spawn().await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", false).await;
    let (client, _) = signed_in(&app, "nope@example.com", &[]).await;
    let body = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !body.contains("action=\"/connections/strava/connect\""),
        "{body}"
    );
    assert!(body.contains("Strava is not set up"));
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/connections/strava/connect"))
        .form(&[("csrf_token", token.as_str()), ("range", "30d")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    let res = client
        .post(app.url("/connections/strava/connect"))
        .form(&[("csrf_token", token.as_str()), ("range", "forever")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn disconnecting_strava_deauthorizes_and_deletes_tokens_and_strava_activities() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "leave@example.com", &[]).await;
    // Tokens the simulator issued, stored directly: no backfill job runs
    // alongside (the connect flow is tested above).
    let (access, refresh) = sim.grant(2).await;
    connect_directly(&app, user, &access, &refresh, TimeDelta::hours(5)).await;
    let athlete = sim
        .client
        .get(format!("{}/api/v3/athlete", sim.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(athlete.status(), 200);

    let day = app.clock.now().date_naive() - TimeDelta::days(3);
    let uploaded = crate::dashboard::store_with_load(
        &app,
        user,
        &crate::dashboard::activity_on(day, pierre::domain::Sport::Cycling, 1),
        50.0,
    )
    .await;
    let from_strava = crate::dashboard::store_with_load(
        &app,
        user,
        &crate::dashboard::activity_on(day - TimeDelta::days(1), pierre::domain::Sport::Running, 2),
        40.0,
    )
    .await;
    sqlx::query("UPDATE activities SET source = 'strava', external_id = '9001' WHERE id = $1")
        .bind(from_strava)
        .execute(&app.db)
        .await
        .unwrap();

    let body = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Disconnect Strava and delete its 1 activity"),
        "{body}"
    );

    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/connections/strava/disconnect"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(connections_of(&app, user).await, 0);
    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM activities WHERE user_id = $1")
        .bind(user)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        ids,
        vec![uploaded],
        "uploads are kept, Strava's data is deleted"
    );
    // Revoked at the provider.
    let athlete = sim
        .client
        .get(format!("{}/api/v3/athlete", sim.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(athlete.status(), 401);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM audit_events WHERE subject_user_id = $1 AND event_type = 'provider_disconnected'",
            user
        )
        .await,
        1
    );
    let body = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("Strava is disconnected. 1 activity imported from Strava was deleted."),
        "{body}"
    );
    assert!(body.contains("Connect Strava"));
}

#[tokio::test]
async fn a_failed_deauthorization_still_deletes_the_tokens() {
    let app = spawn().await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    let (client, user) = signed_in(&app, "stuck@example.com", &[]).await;
    connect_directly(
        &app,
        user,
        "live-access",
        "live-refresh",
        TimeDelta::hours(3),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/oauth/deauthorize"))
        .and(body_string_contains("access_token=live-access"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&provider)
        .await;
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/connections/strava/disconnect"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    provider.verify().await;
    assert_eq!(connections_of(&app, user).await, 0);
    let errors = provider_errors(&app).await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].2.contains("deauthorization failed"));
    assert!(!errors[0].2.contains("live-access"));
}

#[tokio::test]
async fn reconnecting_after_a_refused_token_keeps_the_import_range() {
    let app = spawn().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "again@example.com", &[]).await;
    let authorize = start_connect(&app, &client, "strava", "1y").await;
    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    assert_eq!(back_to_pierre(&app, &client, &redirect).await.status(), 303);
    // Let the app's worker finish the import it queued, so it cannot write
    // the connection while this test sets it up.
    for _ in 0..600 {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE state IN ('queued', 'running') AND run_at <= now()",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if busy == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first_after: Option<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar("SELECT backfill_after FROM provider_connections WHERE user_id = $1")
            .bind(user)
            .fetch_one(&app.db)
            .await
            .unwrap();
    sqlx::query(
        "UPDATE provider_connections SET status = 'needs_reauth',
             last_error = 'Strava no longer accepts Pierre''s access. Reconnect Strava on the Connections page to resume syncing.'
         WHERE user_id = $1",
    )
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    let body = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Reconnect needed"), "{body}");
    assert!(body.contains("Reconnect Strava on the Connections page"));
    assert!(body.contains(">Reconnect Strava</button>"));

    app.clock.advance(TimeDelta::hours(1));
    let authorize = start_connect(&app, &client, "strava", "keep").await;
    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    assert_eq!(back_to_pierre(&app, &client, &redirect).await.status(), 303);
    let (status, last_error, after): (
        String,
        Option<String>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as(
        "SELECT status, last_error, backfill_after FROM provider_connections WHERE user_id = $1",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(status, "active");
    assert_eq!(last_error, None);
    assert_eq!(after, first_after);
    assert_eq!(connections_of(&app, user).await, 1);
}

#[tokio::test]
async fn the_backfill_progress_is_polled_while_the_import_runs() {
    let app = spawn().await;
    let provider = MockServer::start().await;
    configure(&app, "strava", &provider.uri(), "4242", true).await;
    let (client, user) = signed_in(&app, "progress@example.com", &[]).await;
    connect_directly(&app, user, "a", "r", TimeDelta::hours(5)).await;
    // A backfill in progress (a job row of its own, leased far ahead so no worker takes it).
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, user_id, payload, state, locked_until, progress_done, progress_total)
         VALUES ('sync_backfill', $1, '{\"provider\": \"strava\", \"after\": null}', 'running',
                 now() + interval '1 hour', 240, 1380)
         RETURNING id",
    )
    .bind(user)
    .fetch_one(&app.db)
    .await
    .unwrap();
    let fragment = client
        .get(app.url("/connections/strava/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        fragment.contains("Importing your Strava history: 240 of 1,380 activities."),
        "{fragment}"
    );
    assert!(fragment.contains("hx-trigger=\"every 2s\""));
    assert!(fragment.contains("<progress"));
    sqlx::query("UPDATE jobs SET state = 'done', updated_at = now() WHERE id = $1")
        .bind(job)
        .execute(&app.db)
        .await
        .unwrap();
    let fragment = client
        .get(app.url("/connections/strava/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fragment.contains("history is imported"), "{fragment}");
    assert!(
        !fragment.contains("hx-get"),
        "polling stops when the import is done"
    );

    let page = client
        .get(app.url("/connections"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"backfill-strava\""), "{page}");
}

/// `pierre serve` as a separate process with its log in a file, migrated.
struct ServedBinary {
    child: std::process::Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for ServedBinary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve_binary() -> (TestApp, ServedBinary) {
    use std::process::{Command, Stdio};
    let database = crate::support::create_database().await;
    let url = url_for(&database);
    let envs = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &url)
            .env("PIERRE_DATA_KEYS", keys_var())
            .env("HTTP_HOST", "127.0.0.1")
            .env("HTTP_WORKERS", "1")
            .env("METRICS_ADDR", "127.0.0.1:0")
            // Everything logged at debug level, Pierre's own at trace.
            .env("RUST_LOG", "debug,pierre=trace");
    };
    let mut migrate = Command::new(env!("CARGO_BIN_EXE_pierre"));
    envs(&mut migrate);
    assert!(migrate.arg("migrate").output().unwrap().status.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let file = std::fs::File::create(&log).unwrap();
    let mut serve = Command::new(env!("CARGO_BIN_EXE_pierre"));
    envs(&mut serve);
    let child = serve
        .arg("serve")
        .env("HTTP_PORT", port.to_string())
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    let address = format!("http://127.0.0.1:{port}");
    let client = new_client();
    for _ in 0..100 {
        if client
            .get(format!("{address}/login"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let app = TestApp {
        address,
        metrics_address: String::new(),
        port,
        db: sqlx::PgPool::connect(&url).await.unwrap(),
        database,
        client,
        clock: pierre::clock::Clock::system(),
    };
    (
        app,
        ServedBinary {
            child,
            log,
            _dir: dir,
        },
    )
}

#[tokio::test]
async fn no_token_code_or_secret_reaches_the_log_or_the_pages() {
    let (app, served) = serve_binary().await;
    let sim = Sim::start().await;
    configure(&app, "strava", &sim.base, "4242", true).await;
    let (client, user) = signed_in(&app, "quiet@example.com", &[]).await;
    let authorize = start_connect(&app, &client, "strava", "30d").await;
    let state = state_of(&authorize);
    let redirect = sim
        .consent(authorize.as_str(), 0, &["activity:read_all"], "authorize")
        .await;
    let code = redirect
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(back_to_pierre(&app, &client, &redirect).await.status(), 303);
    let tokens = stored_tokens(&app, user).await;
    let (access, refresh) = (
        tokens.access.expose_secret().to_owned(),
        tokens.refresh.expose_secret().to_owned(),
    );
    let mut pages = String::new();
    for path in ["/connections", "/connections/strava/status"] {
        pages.push_str(
            &client
                .get(app.url(path))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    // Expire the access token: disconnecting refreshes it, then deauthorizes.
    sqlx::query("UPDATE provider_connections SET expires_at = now() WHERE user_id = $1")
        .bind(user)
        .execute(&app.db)
        .await
        .unwrap();
    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/connections/strava/disconnect"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    pages.push_str(
        &client
            .get(app.url("/connections"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(pages.contains("Strava is disconnected"), "{pages}");
    let log = std::fs::read_to_string(&served.log).unwrap();
    assert!(log.contains("Pierre is listening"), "the log was captured");
    for (what, secret) in [
        ("access token", access.as_str()),
        ("refresh token", refresh.as_str()),
        ("authorization code", code.as_str()),
        ("state", state.as_str()),
        ("client secret", CLIENT_SECRET),
    ] {
        assert!(!log.contains(secret), "the {what} is in the log");
        assert!(!pages.contains(secret), "the {what} is in a page");
    }
    drop(served);
}
