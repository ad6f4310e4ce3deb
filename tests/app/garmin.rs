//! Garmin end to end against the simulator: OAuth 2.0 with PKCE at the
//! simulator, ping → `POST /webhooks/garmin` → `garmin_ping` job → FIT pull →
//! an activity stored once; and the simulator's Garmin contract itself.

use std::time::Duration;

use base64::Engine as _;
use pierre::clock::Clock;
use pierre::crypto::DataKeys;
use pierre::domain::Provider;
use pierre::provider_sim::{self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, SimConfig, garmin};
use pierre::providers::tokens::{self, NewConnection, TokenSet};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, csrf_in, new_client};

const REDIRECT: &str = "http://127.0.0.1:8081/oauth/garmin/callback";
const VERIFIER: &str = "a-pkce-verifier-that-is-long-enough-0123456789-abcdef";

fn keys_var() -> String {
    format!(
        "k1:{}",
        base64::engine::general_purpose::STANDARD.encode([7u8; 32])
    )
}

struct Sim {
    base: String,
    sim: std::sync::Arc<provider_sim::Sim>,
}

fn simulator() -> Sim {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let running = provider_sim::start(
        listener,
        SimConfig {
            athletes: 2,
            activities_per_athlete: 5,
            ..SimConfig::default()
        },
        Clock::system(),
    )
    .unwrap();
    tokio::spawn(running.server);
    Sim {
        base: running.base_url,
        sim: running.sim,
    }
}

/// The consent page approved as `athlete` with a challenge for `VERIFIER`: the code.
async fn authorize(sim: &Sim, athlete: u64, verifier: &str) -> String {
    let client = new_client();
    let challenge = garmin::s256(verifier);
    let page = client
        .get(format!("{}/garmin/oauth2Confirm", sim.base))
        .query(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("state", "st4te"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let body = page.text().await.unwrap();
    assert!(body.contains("Garmin"), "{body}");
    let res = client
        .post(format!("{}/garmin/oauth2Confirm", sim.base))
        .form(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "st4te"),
            ("code_challenge", &challenge),
            ("athlete", &athlete.to_string()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let pairs: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".to_owned(), "st4te".to_owned())));
    pairs
        .into_iter()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v)
        .expect("a code")
}

async fn exchange(sim: &Sim, fields: &[(&str, &str)]) -> (u16, Value) {
    let mut form = vec![
        ("client_id", DEMO_CLIENT_ID.to_string()),
        ("client_secret", DEMO_CLIENT_SECRET.to_owned()),
    ];
    form.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let res = reqwest::Client::new()
        .post(format!("{}/garmin/di-oauth2-service/oauth/token", sim.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

#[tokio::test]
async fn the_simulator_speaks_garmin_oauth_with_pkce_and_serves_fit_files_by_ping() {
    let sim = simulator();
    let athlete = sim.sim.athletes()[0].0;
    // A wrong verifier is refused; the code is single-use.
    let code = authorize(&sim, athlete, VERIFIER).await;
    let (status, body) = exchange(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            (
                "code_verifier",
                "another-verifier-which-is-also-long-enough-000000000",
            ),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // Without PKCE the consent page refuses.
    let res = reqwest::Client::new()
        .get(format!("{}/garmin/oauth2Confirm", sim.base))
        .query(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    let code = authorize(&sim, athlete, VERIFIER).await;
    let (status, tokens) = exchange(
        &sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["expires_in"], 86_400);
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let me: Value = client
        .get(format!("{}/garmin/wellness-api/rest/user/id", sim.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["userId"], garmin::user_id_of(athlete));

    // Refresh rotates: the old refresh token stops working.
    let old_refresh = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed) = exchange(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(refreshed["refresh_token"], tokens["refresh_token"]);
    let (status, _) = exchange(
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", old_refresh),
        ],
    )
    .await;
    assert_eq!(status, 400);
    let access = refreshed["access_token"].as_str().unwrap().to_owned();

    // A ping to a listener, then the pull of the FIT file it names.
    let listener = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .mount(&listener)
        .await;
    client
        .post(format!("{}/__sim/garmin/ping-url", sim.base))
        .json(&json!({ "url": format!("{}/ping", listener.uri()) }))
        .send()
        .await
        .unwrap();
    let sent: Value = client
        .post(format!("{}/__sim/garmin/pings", sim.base))
        .json(&json!({ "athlete_id": athlete }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["delivered"], true, "{sent}");
    let file = &sent["ping"]["activityFiles"][0];
    assert_eq!(file["userId"], garmin::user_id_of(athlete));
    assert_eq!(file["fileType"], "FIT");
    let received: Value =
        serde_json::from_slice(&listener.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(&received, &sent["ping"]);
    let callback = file["callbackURL"].as_str().unwrap();
    // Without the token: 401; with it: a FIT file Pierre's decoder reads.
    let res = client.get(callback).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = client
        .get(callback)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let parsed = pierre::import::fit::parse(&bytes).expect("a valid FIT file");
    assert!(parsed.streams.t.len() > 600);
    assert_eq!(
        parsed.start.timestamp(),
        file["startTimeInSeconds"].as_i64().unwrap()
    );
    // A wrong pull token is 404.
    let tampered = callback.replace("token=", "token=x");
    let res = client
        .get(&tampered)
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn configure_garmin_app(app: &TestApp, admin: &reqwest::Client, sim: &str) {
    let page = admin
        .get(app.url("/admin/oauth-apps/garmin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&page).unwrap();
    let res = admin
        .post(app.url("/admin/oauth-apps/garmin"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("display_name", "Garmin"),
            ("client_id", &DEMO_CLIENT_ID.to_string()),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("authorize_url", &format!("{sim}/garmin/oauth2Confirm")),
            (
                "token_url",
                &format!("{sim}/garmin/di-oauth2-service/oauth/token"),
            ),
            ("api_base_url", &format!("{sim}/garmin/wellness-api")),
            ("scopes", ""),
            ("webhook_verify_token", ""),
            ("enabled", "on"),
            ("limit_short", "200"),
            ("limit_daily", "2000"),
            ("read_limit_short", "100"),
            ("read_limit_daily", "1000"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

async fn garmin_activities(app: &TestApp) -> Vec<(String, String, Option<f64>)> {
    sqlx::query_as(
        "SELECT external_id, sport, distance_m FROM activities WHERE source = 'garmin' ORDER BY external_id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn wait_for_jobs(app: &TestApp) {
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM jobs WHERE kind = 'garmin_ping' AND state IN ('queued', 'running')",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if waiting == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("garmin_ping jobs did not finish");
}

/// Connect `rider` to Garmin athlete `athlete` (what the OAuth client does, by hand with PKCE).
async fn connect(app: &TestApp, sim: &Sim, rider: uuid::Uuid, athlete: u64) {
    let code = authorize(sim, athlete, VERIFIER).await;
    let (status, answer) = exchange(
        sim,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", VERIFIER),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let keys = DataKeys::parse(&keys_var()).unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    let token_set = TokenSet {
        access: SecretString::from(answer["access_token"].as_str().unwrap().to_owned()),
        refresh: SecretString::from(answer["refresh_token"].as_str().unwrap().to_owned()),
        expires_at: chrono::Utc::now() + chrono::TimeDelta::hours(24),
    };
    tokens::save(
        &mut conn,
        &keys,
        &NewConnection {
            user_id: rider,
            provider: Provider::Garmin,
            external_athlete_id: &garmin::user_id_of(athlete),
            athlete_name: "Rider",
            granted_scopes: "ACTIVITY_EXPORT",
            tokens: &token_set,
            backfill_after: None,
        },
    )
    .await
    .unwrap();
    drop(conn);
}

/// Point the simulator's pings at Pierre and send one for `athlete`: the ping as delivered.
async fn ping(sim: &Sim, app: &TestApp, athlete: u64) -> Value {
    let client = reqwest::Client::new();
    client
        .post(format!("{}/__sim/garmin/ping-url", sim.base))
        .json(&json!({ "url": app.url("/webhooks/garmin") }))
        .send()
        .await
        .unwrap();
    let sent: Value = client
        .post(format!("{}/__sim/garmin/pings", sim.base))
        .json(&json!({ "athlete_id": athlete }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sent["delivered"], true, "{sent}");
    sent
}

#[tokio::test]
async fn a_garmin_ping_imports_the_activity_once_end_to_end() {
    let sim = simulator();
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", keys_var())],
        ..Spawn::default()
    })
    .await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    configure_garmin_app(&app, &admin, &sim.base).await;
    let (_, rider) = signed_in(&app, "rider@example.org", &["athlete"]).await;

    // Connect (the OAuth client's part, done here by hand with PKCE).
    let athlete = sim.sim.athletes()[1].0;
    connect(&app, &sim, rider, athlete).await;

    // The simulator pings Pierre's webhook about a new activity.
    let client = reqwest::Client::new();
    let sent = ping(&sim, &app, athlete).await;
    let summary = sent["ping"]["activityFiles"][0]["summaryId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for_jobs(&app).await;
    let stored = garmin_activities(&app).await;
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0].0, summary);
    assert!(stored[0].2.unwrap_or_default() > 1000.0, "{stored:?}");
    let (user, has_streams, load): (uuid::Uuid, bool, Option<f64>) = sqlx::query_as(
        "SELECT a.user_id, EXISTS (SELECT 1 FROM activity_streams s WHERE s.activity_id = a.id), a.load
         FROM activities a WHERE a.source = 'garmin'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(user, rider);
    assert!(has_streams);
    assert!(load.is_some());

    // The same ping three times at once, and again later: still one activity.
    let ping = sent["ping"].to_string();
    let deliveries = (0..3).map(|_| {
        client
            .post(app.url("/webhooks/garmin"))
            .header("content-type", "application/json")
            .body(ping.clone())
            .send()
    });
    for res in futures_util::future::join_all(deliveries).await {
        assert_eq!(res.unwrap().status(), 200);
    }
    wait_for_jobs(&app).await;
    assert_eq!(garmin_activities(&app).await.len(), 1);

    // Another new activity two hours later: a second import.
    client
        .post(format!("{}/__sim/clock", sim.base))
        .json(&json!({ "advance_seconds": 7200 }))
        .send()
        .await
        .unwrap();
    let second: Value = client
        .post(format!("{}/__sim/garmin/pings", sim.base))
        .json(&json!({ "athlete_id": athlete }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["delivered"], true, "{second}");
    wait_for_jobs(&app).await;
    assert_eq!(garmin_activities(&app).await.len(), 2);

    // A ping whose callback points elsewhere never gets the token: skipped and recorded.
    let forged = json!({ "activityFiles": [{
        "userId": garmin::user_id_of(athlete), "summaryId": "999", "fileType": "FIT",
        "callbackURL": "http://127.0.0.1:9/steal?id=999"
    }]});
    let res = client
        .post(app.url("/webhooks/garmin"))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    wait_for_jobs(&app).await;
    let recorded: String = sqlx::query_scalar(
        "SELECT message FROM provider_errors WHERE provider = 'garmin' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(
        recorded.contains("outside the Garmin API base URL"),
        "{recorded}"
    );
    assert!(!garmin_activities(&app).await.iter().any(|a| a.0 == "999"));

    // Deregistration: the connection is revoked, its tokens deleted, and later pings ignored.
    let res = client
        .post(app.url("/webhooks/garmin"))
        .json(&json!({ "deregistrations": [{ "userId": garmin::user_id_of(athlete) }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["revoked"], 1);
    let (status, token, message): (String, Option<Vec<u8>>, Option<String>) = sqlx::query_as(
        "SELECT status, access_token, last_error FROM provider_connections WHERE provider = 'garmin'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(status, "revoked");
    assert!(token.is_none());
    assert!(message.unwrap().contains("Connect Garmin again"));
    let res = client
        .post(app.url("/webhooks/garmin"))
        .body(ping.clone())
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["ignored"], 1);

    // Unknown users are acknowledged and ignored; a body that is not a ping is 400.
    let res = client
        .post(app.url("/webhooks/garmin"))
        .json(&json!({ "activityFiles": [{ "userId": "nobody", "summaryId": "5", "callbackURL": "x" }] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["ignored"], 1);
    let res = client
        .post(app.url("/webhooks/garmin"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

/// The whole Garmin path through Pierre's own pages: Connect Garmin (PKCE
/// S256, the verifier kept in the session) → the simulator's consent page →
/// the callback stores the Garmin user id the pings name → a ping imports.
#[tokio::test]
async fn connecting_garmin_through_pierre_then_a_ping_imports_for_that_athlete() {
    let sim = simulator();
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", keys_var())],
        ..Spawn::default()
    })
    .await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    configure_garmin_app(&app, &admin, &sim.base).await;
    let (client, rider) = signed_in(&app, "rider@example.org", &["athlete"]).await;

    let token = app.csrf_token(&client).await;
    let res = client
        .post(app.url("/connections/garmin/connect"))
        .form(&[("csrf_token", token.as_str()), ("range", "all")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let authorize = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/garmin/oauth2Confirm", sim.base))
    );
    let q: std::collections::HashMap<String, String> =
        authorize.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");

    // The athlete approves on the simulator's consent page.
    let athlete = sim.sim.athletes()[1].0;
    let consent = new_client()
        .post(format!("{}/garmin/oauth2Confirm", sim.base))
        .form(&[
            ("client_id", q["client_id"].as_str()),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("code_challenge", q["code_challenge"].as_str()),
            ("athlete", &athlete.to_string()),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(consent.status(), 302);
    let back = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let res = client
        .get(app.url(&format!(
            "{}?{}",
            back.path(),
            back.query().unwrap_or_default()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        303,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let external: String = sqlx::query_scalar(
        "SELECT external_athlete_id FROM provider_connections WHERE user_id = $1 AND provider = 'garmin'",
    )
    .bind(rider)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(external, garmin::user_id_of(athlete), "the id pings name");

    // A ping for that athlete imports into the connected Pierre account.
    ping(&sim, &app, athlete).await;
    wait_for_jobs(&app).await;
    let owner: uuid::Uuid =
        sqlx::query_scalar("SELECT user_id FROM activities WHERE source = 'garmin'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(owner, rider);
}

/// Disconnecting Garmin drops the athlete's waiting ping jobs, as it drops
/// Strava's waiting sync jobs: nothing is left to fail against a connection
/// that is gone.
#[tokio::test]
async fn disconnecting_garmin_cancels_its_waiting_pings() {
    let sim = simulator();
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", keys_var())],
        ..Spawn::default()
    })
    .await;
    let (admin, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    configure_garmin_app(&app, &admin, &sim.base).await;
    let (_, rider) = signed_in(&app, "rider@example.org", &["athlete"]).await;
    let athlete = sim.sim.athletes()[1].0;
    connect(&app, &sim, rider, athlete).await;

    // Queued and cancelled in one uncommitted transaction: the app's worker never sees it.
    let mut tx = app.db.begin().await.unwrap();
    let notice = pierre::sync::garmin::FileNotice {
        user_id: garmin::user_id_of(athlete),
        summary_id: "summary-1".to_owned(),
        callback_url: format!("{}/wellness-api/rest/activityFile?id=1", sim.base),
        file_type: "FIT".to_owned(),
    };
    let queued = pierre::sync::garmin::enqueue_pings(&mut tx, &[notice])
        .await
        .unwrap();
    assert_eq!(queued.queued, 1);
    pierre::db::connections::forget(&mut tx, rider, pierre::domain::Provider::Garmin)
        .await
        .unwrap();
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE user_id = $1 AND kind = 'garmin_ping' AND state = 'queued'",
    )
    .bind(rider)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(waiting, 0, "the disconnect left a Garmin ping queued");
    tx.rollback().await.unwrap();
}
