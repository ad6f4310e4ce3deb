//! The Strava provider simulator over real HTTP: consent, tokens, API, limits, faults.
//! No database.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::TimeDelta;
use pierre::clock::Clock;
use pierre::provider_sim::{self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, RateLimits, Sim, SimConfig};
use serde_json::Value;

use crate::support::{html, new_client};

const REDIRECT: &str = "http://localhost:8080/oauth/strava/callback";

struct Running {
    base: String,
    sim: Arc<Sim>,
    client: reqwest::Client,
}

impl Running {
    #[expect(clippy::unused_async, reason = "spawns onto the test's runtime")]
    async fn start(config: SimConfig) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let running = provider_sim::start(listener, config, Clock::system()).unwrap();
        tokio::spawn(running.server);
        Self {
            base: running.base_url,
            sim: running.sim,
            client: new_client(),
        }
    }

    async fn default() -> Self {
        Self::start(SimConfig {
            seed: 7,
            ..SimConfig::default()
        })
        .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorize_url(&self, scope: &str, state: &str) -> String {
        let mut url = url::Url::parse(&self.url("/oauth/authorize")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &DEMO_CLIENT_ID.to_string())
            .append_pair("redirect_uri", REDIRECT)
            .append_pair("response_type", "code")
            .append_pair("approval_prompt", "auto")
            .append_pair("scope", scope)
            .append_pair("state", state);
        url.to_string()
    }

    /// Show the consent page, submit it with `ticked` scopes as athlete number
    /// `athlete` (0-based) and `decision`; the redirect's query pairs.
    async fn consent(
        &self,
        scope: &str,
        ticked: &[&str],
        athlete: usize,
        decision: &str,
    ) -> Vec<(String, String)> {
        let page = self
            .client
            .get(self.authorize_url(scope, "s1"))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
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
        assert_eq!(athletes.len(), 3);
        let checkboxes: Vec<String> = doc
            .select(&sel("input[type=checkbox][name=scope]"))
            .map(|e| e.value().attr("value").unwrap().to_owned())
            .collect();
        for t in ticked {
            assert!(checkboxes.iter().any(|c| c == t), "{t} offered");
        }
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
            .post(self.url("/oauth/authorize"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap();
        assert!(location.starts_with(REDIRECT), "{location}");
        url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    async fn token(&self, fields: &[(&str, &str)]) -> reqwest::Response {
        let id = DEMO_CLIENT_ID.to_string();
        let mut form = vec![
            ("client_id", id.as_str()),
            ("client_secret", DEMO_CLIENT_SECRET),
        ];
        form.extend_from_slice(fields);
        self.client
            .post(self.url("/oauth/token"))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Consent (all requested scopes) and exchange: the token answer.
    async fn connect(&self, athlete: usize) -> Value {
        let query = self
            .consent(
                "read,activity:read_all",
                &["activity:read_all"],
                athlete,
                "authorize",
            )
            .await;
        let code = pair(&query, "code").unwrap();
        let answer = self
            .token(&[("code", &code), ("grant_type", "authorization_code")])
            .await;
        assert_eq!(answer.status(), 200);
        answer.json().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }
}

fn pair(query: &[(String, String)], name: &str) -> Option<String> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

fn access(token: &Value) -> String {
    token["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn authorization_code_flow_with_an_unticked_scope() {
    let sim = Running::default().await;
    let query = sim
        .consent(
            "read,activity:read_all,profile:read_all",
            &["activity:read_all"],
            1,
            "authorize",
        )
        .await;
    assert_eq!(pair(&query, "state").as_deref(), Some("s1"));
    assert_eq!(
        pair(&query, "scope").as_deref(),
        Some("read,activity:read_all")
    );
    let code = pair(&query, "code").unwrap();

    // A wrong secret is refused without using up the code.
    let id = DEMO_CLIENT_ID.to_string();
    let wrong = sim
        .client
        .post(sim.url("/oauth/token"))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", "nope"),
            ("code", &code),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let answer = sim
        .token(&[("code", &code), ("grant_type", "authorization_code")])
        .await;
    assert_eq!(answer.status(), 200);
    let token: Value = answer.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 21600);
    let now = chrono::Utc::now().timestamp();
    let expires_at = token["expires_at"].as_i64().unwrap();
    assert!((expires_at - now - 21600).abs() < 5);
    let athlete_id = sim.sim.athletes()[1].0;
    assert_eq!(token["athlete"]["id"], athlete_id);
    assert!(token["athlete"]["firstname"].is_string());
    assert!(token["refresh_token"].as_str().unwrap().len() >= 20);

    let me = sim.get("/api/v3/athlete", &access(&token)).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], athlete_id);

    // Codes are single-use.
    let again = sim
        .token(&[("code", &code), ("grant_type", "authorization_code")])
        .await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["message"], "Bad Request");
    assert_eq!(body["errors"][0]["field"], "code");
}

#[tokio::test]
async fn cancel_denies_and_bad_clients_are_refused() {
    let sim = Running::default().await;
    let query = sim
        .consent(
            "read,activity:read_all",
            &["activity:read_all"],
            0,
            "cancel",
        )
        .await;
    assert_eq!(pair(&query, "error").as_deref(), Some("access_denied"));
    assert_eq!(pair(&query, "state").as_deref(), Some("s1"));
    assert!(pair(&query, "code").is_none());

    let foreign = sim
        .authorize_url("read", "x")
        .replace("localhost%3A8080", "evil.example");
    let answer = sim.client.get(foreign).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "redirect_uri");

    let wrong_client = sim
        .authorize_url("read", "x")
        .replace("client_id=4242", "client_id=1");
    let answer = sim.client.get(wrong_client).send().await.unwrap();
    assert_eq!(answer.status(), 400);

    // Without the activity scope the activity list is refused.
    let query = sim.consent("read,activity:read", &[], 0, "authorize").await;
    assert_eq!(pair(&query, "scope").as_deref(), Some("read"));
    let code = pair(&query, "code").unwrap();
    let token: Value = sim
        .token(&[("code", &code), ("grant_type", "authorization_code")])
        .await
        .json()
        .await
        .unwrap();
    let list = sim.get("/api/v3/athlete/activities", &access(&token)).await;
    assert_eq!(list.status(), 401);
}

#[tokio::test]
async fn refresh_rotates_and_tokens_expire_after_six_hours() {
    let sim = Running::default().await;
    let first = sim.connect(0).await;
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();

    // Plenty of time left: same access token, new refresh token.
    let answer = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
        ])
        .await;
    assert_eq!(answer.status(), 200);
    let second: Value = answer.json().await.unwrap();
    assert_eq!(second["access_token"], first["access_token"]);
    assert_eq!(second["expires_at"], first["expires_at"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let stale = sim
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &old_refresh),
        ])
        .await;
    assert_eq!(stale.status(), 400);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "refresh_token");

    // Six hours later the access token is dead…
    sim.sim.clock().advance(TimeDelta::hours(6));
    let expired = sim.get("/api/v3/athlete", &access(&first)).await;
    assert_eq!(expired.status(), 401);
    assert!(expired.headers().contains_key("x-ratelimit-usage"));
    // …and a refresh gives a new one that works.
    let refresh = second["refresh_token"].as_str().unwrap();
    let third: Value = sim
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(third["access_token"], first["access_token"]);
    assert_eq!(third["expires_in"], 21600);
    assert_eq!(
        sim.get("/api/v3/athlete", &access(&third)).await.status(),
        200
    );
    assert_eq!(sim.get("/api/v3/athlete", "nonsense").await.status(), 401);
    let missing = sim
        .client
        .get(sim.url("/api/v3/athlete"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 401);
}

#[tokio::test]
async fn activities_page_newest_first_with_before_and_after() {
    let sim = Running::default().await;
    let token = access(&sim.connect(0).await);
    let mut seen = Vec::new();
    for page in 1..=10 {
        let answer = sim
            .get(
                &format!("/api/v3/athlete/activities?per_page=7&page={page}"),
                &token,
            )
            .await;
        assert_eq!(answer.status(), 200);
        let list: Vec<Value> = answer.json().await.unwrap();
        if list.is_empty() {
            break;
        }
        assert!(list.len() <= 7);
        seen.extend(list);
    }
    assert_eq!(seen.len(), 60);
    let ids: HashSet<u64> = seen.iter().map(|a| a["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 60, "no duplicates across pages");
    let starts: Vec<String> = seen
        .iter()
        .map(|a| a["start_date"].as_str().unwrap().to_owned())
        .collect();
    assert!(starts.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let first = &seen[0];
    for field in [
        "name",
        "sport_type",
        "start_date_local",
        "timezone",
        "utc_offset",
        "elapsed_time",
        "moving_time",
        "distance",
        "total_elevation_gain",
        "average_heartrate",
        "max_heartrate",
        "has_heartrate",
        "device_watts",
    ] {
        assert!(!first[field].is_null(), "{field}");
    }
    assert!(
        seen.iter()
            .any(|a| a["average_watts"].is_number() && a["weighted_average_watts"].is_number())
    );

    // before / after select by start time, exclusive.
    let epoch = |a: &Value| {
        chrono::DateTime::parse_from_rfc3339(a["start_date"].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    let (after, before) = (epoch(&seen[40]), epoch(&seen[10]));
    let window: Vec<Value> = sim
        .get(
            &format!("/api/v3/athlete/activities?after={after}&before={before}&per_page=200"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let expected: Vec<&Value> = seen[11..40].iter().collect();
    assert_eq!(window.len(), expected.len());
    assert_eq!(window[0]["id"], expected[0]["id"]);
    // per_page above 200 is capped, defaults to 30.
    let all: Vec<Value> = sim
        .get("/api/v3/athlete/activities?per_page=500", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all.len(), 60);
    let default: Vec<Value> = sim
        .get("/api/v3/athlete/activities", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(default.len(), 30);
    let bad = sim
        .get("/api/v3/athlete/activities?before=yesterday", &token)
        .await;
    assert_eq!(bad.status(), 400);

    // Detail of one's own activity; another athlete's is 404.
    let id = first["id"].as_u64().unwrap();
    let detail: Value = sim
        .get(&format!("/api/v3/activities/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(detail["id"], id);
    assert_eq!(detail["resource_state"], 3);
    let other = access(&sim.connect(1).await);
    assert_eq!(
        sim.get(&format!("/api/v3/activities/{id}"), &other)
            .await
            .status(),
        404
    );
    assert_eq!(
        sim.get(
            &format!("/api/v3/activities/{id}/streams?keys=time"),
            &other
        )
        .await
        .status(),
        404
    );
}

#[tokio::test]
async fn same_seed_same_activities() {
    let a = Running::default().await;
    let b = Running::default().await;
    let ta = access(&a.connect(2).await);
    let tb = access(&b.connect(2).await);
    let la: Value = a
        .get("/api/v3/athlete/activities", &ta)
        .await
        .json()
        .await
        .unwrap();
    let lb: Value = b
        .get("/api/v3/athlete/activities", &tb)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(la, lb);
}

#[tokio::test]
async fn streams_have_strava_shape() {
    let sim = Running::start(SimConfig {
        seed: 7,
        activities_per_athlete: 8,
        ..SimConfig::default()
    })
    .await;
    // Athlete 0 is the cyclist with a power meter.
    let token = access(&sim.connect(0).await);
    let list: Vec<Value> = sim
        .get("/api/v3/athlete/activities", &token)
        .await
        .json()
        .await
        .unwrap();
    let ride = list
        .iter()
        .find(|a| a["sport_type"] == "Ride")
        .expect("an outdoor ride");
    let id = ride["id"].as_u64().unwrap();
    let keys = "time,latlng,altitude,heartrate,watts,cadence,velocity_smooth,distance";
    let answer = sim
        .get(
            &format!("/api/v3/activities/{id}/streams?keys={keys}&key_by_type=true"),
            &token,
        )
        .await;
    assert_eq!(answer.status(), 200);
    let streams: Value = answer.json().await.unwrap();
    let n = streams["time"]["original_size"].as_u64().unwrap();
    assert!(n > 600);
    for key in keys.split(',') {
        let s = &streams[key];
        assert_eq!(s["data"].as_array().unwrap().len() as u64, n, "{key}");
        assert_eq!(s["original_size"], n);
        assert_eq!(s["series_type"], "distance");
        assert_eq!(s["resolution"], "high");
    }
    assert_eq!(streams["latlng"]["data"][0].as_array().unwrap().len(), 2);
    assert!(streams["time"]["data"][0].is_i64());

    // Only what was asked (plus distance), as an array without key_by_type.
    let array: Value = sim
        .get(
            &format!("/api/v3/activities/{id}/streams?keys=heartrate"),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let types: Vec<&str> = array
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["heartrate", "distance"]);
}

#[tokio::test]
async fn rate_limits_count_per_window_and_answer_429() {
    let sim = Running::default().await;
    let token = access(&sim.connect(0).await);
    sim.sim.set_limits(RateLimits {
        overall_15min: 6,
        overall_daily: 100,
        read_15min: 3,
        read_daily: 50,
    });
    // Start at the beginning of a window so the test does not straddle one.
    let now = sim.sim.clock().now();
    let into = now.timestamp().rem_euclid(900);
    sim.sim.clock().advance(TimeDelta::seconds(900 - into + 1));
    for used in 1..=3 {
        let answer = sim.get("/api/v3/athlete", &token).await;
        assert_eq!(answer.status(), 200);
        let h = answer.headers();
        assert_eq!(h["x-ratelimit-limit"], "6,100");
        assert_eq!(h["x-readratelimit-limit"], "3,50");
        assert_eq!(
            h["x-readratelimit-usage"].to_str().unwrap(),
            format!("{used},{used}")
        );
        assert_eq!(
            h["x-ratelimit-usage"].to_str().unwrap(),
            format!("{used},{used}")
        );
    }
    let over = sim.get("/api/v3/athlete", &token).await;
    assert_eq!(over.status(), 429);
    assert_eq!(over.headers()["x-readratelimit-usage"], "3,3");
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["message"], "Rate Limit Exceeded");
    // The next quarter hour starts afresh; the day keeps counting.
    sim.sim.clock().advance(TimeDelta::minutes(15));
    let answer = sim.get("/api/v3/athlete", &token).await;
    assert_eq!(answer.status(), 200);
    let usage = answer.headers()["x-readratelimit-usage"].to_str().unwrap();
    assert!(usage == "1,4" || usage == "1,1", "{usage}");
}

#[tokio::test]
async fn faults_500_429_truncation_and_revocation() {
    let sim = Running::default().await;
    let token = access(&sim.connect(0).await);
    let set = |faults: Value| {
        let client = sim.client.clone();
        let url = sim.url("/__sim/faults");
        async move {
            let answer = client.post(url).json(&faults).send().await.unwrap();
            assert_eq!(answer.status(), 200);
        }
    };
    set(serde_json::json!({ "server_errors": 1, "rate_limited": 1 })).await;
    let first = sim.get("/api/v3/athlete", &token).await;
    assert_eq!(first.status(), 429);
    assert!(first.headers().contains_key("x-ratelimit-limit"));
    assert_eq!(sim.get("/api/v3/athlete", &token).await.status(), 500);
    assert_eq!(sim.get("/api/v3/athlete", &token).await.status(), 200);

    set(serde_json::json!({ "truncated": 1, "delay_ms": 50 })).await;
    let started = std::time::Instant::now();
    let cut = sim.get("/api/v3/athlete/activities", &token).await;
    assert_eq!(cut.status(), 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(50));
    let text = cut.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err(), "truncated");
    let whole = sim.get("/api/v3/athlete/activities", &token).await;
    assert!(whole.json::<Value>().await.is_ok());

    set(serde_json::json!({ "revoke_all": true })).await;
    assert_eq!(sim.get("/api/v3/athlete", &token).await.status(), 401);
}

#[tokio::test]
async fn deauthorize_revokes_the_athletes_tokens() {
    let sim = Running::default().await;
    let token = sim.connect(0).await;
    let other = sim.connect(1).await;
    let answer = sim
        .client
        .post(sim.url("/oauth/deauthorize"))
        .form(&[("access_token", access(&token))])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(
        sim.get("/api/v3/athlete", &access(&token)).await.status(),
        401
    );
    let refresh = token["refresh_token"].as_str().unwrap();
    let answer = sim
        .token(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await;
    assert_eq!(answer.status(), 400);
    // Other athletes stay connected.
    assert_eq!(
        sim.get("/api/v3/athlete", &access(&other)).await.status(),
        200
    );
}

/// A webhook receiver: echoes the challenge when the verify token is `vt`, records
/// events. Its base URL and the recorded events.
fn receiver() -> (String, Arc<std::sync::Mutex<Vec<Value>>>) {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let events = Arc::new(std::sync::Mutex::new(Vec::<Value>::new()));
    let recorded = Arc::clone(&events);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let recorded = Arc::clone(&recorded);
        App::new().service(
            web::resource("/hook")
                .route(web::get().to(
                    |q: web::Query<std::collections::HashMap<String, String>>| async move {
                        if q.get("hub.verify_token").map(String::as_str) == Some("vt")
                            && q.get("hub.mode").map(String::as_str) == Some("subscribe")
                        {
                            HttpResponse::Ok()
                                .json(serde_json::json!({ "hub.challenge": q["hub.challenge"] }))
                        } else {
                            HttpResponse::Forbidden().finish()
                        }
                    },
                ))
                .route(web::post().to(move |body: web::Json<Value>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        recorded.lock().unwrap().push(body.into_inner());
                        HttpResponse::Ok().finish()
                    }
                })),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/hook"), events)
}

#[tokio::test]
async fn push_subscription_and_webhook_events() {
    let sim = Running::default().await;
    let (hook, events) = receiver();
    let id = DEMO_CLIENT_ID.to_string();
    let subscribe = |verify: &'static str| {
        let client = sim.client.clone();
        let url = sim.url("/api/v3/push_subscriptions");
        let (id, hook) = (id.clone(), hook.clone());
        async move {
            client
                .post(url)
                .form(&[
                    ("client_id", id.as_str()),
                    ("client_secret", DEMO_CLIENT_SECRET),
                    ("callback_url", hook.as_str()),
                    ("verify_token", verify),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(subscribe("wrong").await.status(), 400);
    let created = subscribe("vt").await;
    assert_eq!(created.status(), 201);
    let subscription: Value = created.json().await.unwrap();
    assert!(subscription["id"].as_u64().is_some());
    assert_eq!(subscribe("vt").await.status(), 400, "one per app");

    let token = sim.connect(0).await;
    let athlete_id = token["athlete"]["id"].as_u64().unwrap();
    let before = sim.sim.activity_count(athlete_id);
    let fire = |event: Value| {
        let client = sim.client.clone();
        let url = sim.url("/__sim/events");
        async move {
            let answer = client.post(url).json(&event).send().await.unwrap();
            assert_eq!(answer.status(), 200);
            let outcome: Value = answer.json().await.unwrap();
            assert_eq!(outcome["delivered"], true, "{outcome}");
            outcome["event"].clone()
        }
    };
    let created = fire(serde_json::json!({
        "object_type": "activity", "aspect_type": "create", "athlete_id": athlete_id
    }))
    .await;
    assert_eq!(sim.sim.activity_count(athlete_id), before + 1);
    let new_id = created["object_id"].as_u64().unwrap();
    assert_eq!(created["owner_id"], athlete_id);
    assert_eq!(created["subscription_id"], subscription["id"]);
    let detail = sim
        .get(&format!("/api/v3/activities/{new_id}"), &access(&token))
        .await;
    assert_eq!(detail.status(), 200);

    let updated = fire(serde_json::json!({
        "object_type": "activity", "aspect_type": "update", "athlete_id": athlete_id,
        "activity_id": new_id, "name": "Renamed"
    }))
    .await;
    assert_eq!(updated["updates"]["title"], "Renamed");
    fire(serde_json::json!({
        "object_type": "activity", "aspect_type": "delete", "athlete_id": athlete_id,
        "activity_id": new_id
    }))
    .await;
    assert_eq!(sim.sim.activity_count(athlete_id), before);
    let gone = sim
        .get(&format!("/api/v3/activities/{new_id}"), &access(&token))
        .await;
    assert_eq!(gone.status(), 404);

    let deauth = fire(serde_json::json!({
        "object_type": "athlete", "aspect_type": "update", "athlete_id": athlete_id
    }))
    .await;
    assert_eq!(deauth["updates"]["authorized"], "false");
    assert_eq!(
        sim.get("/api/v3/athlete", &access(&token)).await.status(),
        401
    );

    let received = events.lock().unwrap().clone();
    let kinds: Vec<(String, String)> = received
        .iter()
        .map(|e| {
            (
                e["object_type"].as_str().unwrap().to_owned(),
                e["aspect_type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("activity".to_owned(), "create".to_owned()),
            ("activity".to_owned(), "update".to_owned()),
            ("activity".to_owned(), "delete".to_owned()),
            ("athlete".to_owned(), "update".to_owned()),
        ]
    );
}
