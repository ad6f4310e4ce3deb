//! The Strava sync engine: the app-wide budget, the API client's failure
//! handling (wiremock), and end to end against the provider simulator
//! (backfill, webhook create / update / delete, duplicate deliveries,
//! deauthorization).
//!
//! Engine tests run jobs deterministically with `pierre::jobs::run_next` on a
//! migrated database without a server (so no other worker races them); the
//! end-to-end test lets the app's own worker run them and polls the database.

use pierre::db::summaries::Scope;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use pierre::clock::Clock;
use pierre::config::Settings;
use pierre::crypto::Aad;
use pierre::db::jobs;
use pierre::db::oauth_apps::{self, AppUpdate, column};
use pierre::domain::Provider;
use pierre::metrics::ProviderMetrics;
use pierre::provider_sim::{self, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, RateLimits, SimConfig};
use pierre::providers::ProviderCtx;
use pierre::providers::budget::{self, Grant, Limits, Usage};
use pierre::providers::tokens::{self, NewConnection, TokenSet};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Spawn, TestApp, create_database, test_vars, url_for};

const KEYS: &str = "s1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=";
const VERIFY: &str = "verify-sync-31f";
const ATHLETE: &str = "5001";

fn settings(database: &str) -> Arc<Settings> {
    let mut vars = test_vars(&url_for(database));
    vars.insert("PIERRE_DATA_KEYS".to_owned(), KEYS.to_owned());
    Arc::new(Settings::from_map(&vars).unwrap())
}

fn ctx_for(settings: Arc<Settings>, clock: Clock, timeout: Duration) -> ProviderCtx {
    let registry = prometheus::Registry::new();
    ProviderCtx {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .build()
            .unwrap(),
        settings,
        clock,
        metrics: Arc::new(ProviderMetrics::new(&registry).unwrap()),
    }
}

async fn migrated() -> (String, PgPool) {
    let database = create_database().await;
    let pool = PgPool::connect(&url_for(&database)).await.unwrap();
    pierre::db::MIGRATOR.run(&pool).await.unwrap();
    (database, pool)
}

async fn new_user(pool: &PgPool, email: &str) -> Uuid {
    let mut conn = pool.acquire().await.unwrap();
    match pierre::db::users::create(&mut conn, email, "Ana", "not-a-hash", &["athlete"])
        .await
        .unwrap()
    {
        pierre::db::users::Created::Yes(id) => id,
        pierre::db::users::Created::EmailTaken => panic!("taken"),
    }
}

/// The Strava app pointing at `api_base`, with these limits and the verify token.
async fn configure_app(pool: &PgPool, settings: &Settings, api_base: &str, limits: Limits) {
    let verify = settings
        .data_keys
        .seal(
            &SecretString::from(VERIFY),
            &Aad::app("strava", column::WEBHOOK_VERIFY_TOKEN),
        )
        .unwrap()
        .to_bytes();
    let secret = settings
        .data_keys
        .seal(
            &SecretString::from(DEMO_CLIENT_SECRET),
            &Aad::app("strava", column::CLIENT_SECRET),
        )
        .unwrap()
        .to_bytes();
    let base = api_base.trim_end_matches("/api/v3");
    let mut conn = pool.acquire().await.unwrap();
    oauth_apps::save(
        &mut conn,
        &AppUpdate {
            provider: "strava",
            display_name: "Strava",
            client_id: &DEMO_CLIENT_ID.to_string(),
            client_secret: Some(secret),
            authorize_url: &format!("{base}/oauth/authorize"),
            token_url: &format!("{base}/oauth/token"),
            api_base_url: api_base,
            scopes: "read,activity:read_all",
            webhook_verify_token: Some(verify),
            enabled: true,
            limit_short: limits.short,
            limit_daily: limits.daily,
            read_limit_short: limits.read_short,
            read_limit_daily: limits.read_daily,
        },
        Utc::now(),
    )
    .await
    .unwrap();
}

async fn connect(pool: &PgPool, settings: &Settings, user: Uuid, athlete: &str, access: &str) {
    let mut conn = pool.acquire().await.unwrap();
    tokens::save(
        &mut conn,
        &settings.data_keys,
        &NewConnection {
            user_id: user,
            provider: Provider::Strava,
            external_athlete_id: athlete,
            athlete_name: "Ana Novak",
            granted_scopes: "read,activity:read_all",
            tokens: &TokenSet {
                access: SecretString::from(access),
                refresh: SecretString::from("refresh-token"),
                expires_at: Utc::now() + TimeDelta::hours(6),
            },
            backfill_after: None,
        },
    )
    .await
    .unwrap();
}

const STRAVA_LIMITS: Limits = Limits {
    short: 200,
    daily: 2000,
    read_short: 100,
    read_daily: 1000,
};

/// A migrated database (no server), one connected athlete, the app at `api_base`.
struct Engine {
    pool: PgPool,
    ctx: ProviderCtx,
    user: Uuid,
}

impl Engine {
    async fn new(api_base: &str, timeout: Duration) -> Self {
        let (database, pool) = migrated().await;
        let settings = settings(&database);
        let user = new_user(&pool, "ana@example.org").await;
        configure_app(&pool, &settings, api_base, STRAVA_LIMITS).await;
        connect(&pool, &settings, user, ATHLETE, "access-token").await;
        let ctx = ctx_for(settings, Clock::system(), timeout);
        Self { pool, ctx, user }
    }

    async fn enqueue(&self, kind: &str, payload: Value, key: Option<&str>) -> i64 {
        let mut conn = self.pool.acquire().await.unwrap();
        jobs::enqueue(&mut conn, kind, Some(self.user), &payload, key)
            .await
            .unwrap()
            .unwrap()
    }

    /// Run every due job.
    async fn drain(&self) {
        while pierre::jobs::run_next(&self.pool, &self.ctx).await.unwrap() {}
    }

    async fn job(&self, id: i64) -> (String, i32, Option<String>, Value, bool) {
        let row = sqlx::query!(
            r#"SELECT state, attempts, last_error, payload, run_at > now() AS "later!" FROM jobs WHERE id = $1"#,
            id
        )
        .fetch_one(&self.pool)
        .await
        .unwrap();
        (
            row.state,
            row.attempts,
            row.last_error,
            row.payload,
            row.later,
        )
    }

    async fn activities(&self) -> i64 {
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM activities"#)
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }
}

// ---------------------------------------------------------------- budget

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn the_budget_rolls_over_windows_and_days_and_keeps_to_every_limit() {
    let (_, pool) = migrated().await;
    let mut conn = pool.acquire().await.unwrap();
    let limits = Limits {
        short: 3,
        daily: 5,
        read_short: 2,
        read_daily: 100,
    };
    let t0 = at("2026-11-28T23:31:00Z");
    // Reads stop at the read limit; writes still have room.
    for _ in 0..2 {
        assert_eq!(
            budget::acquire(&mut conn, "strava", &limits, true, t0)
                .await
                .unwrap(),
            Grant::Granted
        );
    }
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, true, t0)
            .await
            .unwrap(),
        Grant::Wait(at("2026-11-28T23:45:00Z"))
    );
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, false, t0)
            .await
            .unwrap(),
        Grant::Granted
    );
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, false, t0)
            .await
            .unwrap(),
        Grant::Wait(at("2026-11-28T23:45:00Z")),
        "overall window limit"
    );
    // The next window has room again; the day's limit (5) then waits for midnight.
    let t1 = at("2026-11-28T23:45:00Z");
    for _ in 0..2 {
        assert_eq!(
            budget::acquire(&mut conn, "strava", &limits, false, t1)
                .await
                .unwrap(),
            Grant::Granted
        );
    }
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, false, t1)
            .await
            .unwrap(),
        Grant::Wait(at("2026-11-29T00:00:00Z"))
    );
    let (usage, blocked) = budget::current(&mut conn, "strava", t1).await.unwrap();
    assert_eq!(
        usage,
        Usage {
            short: 2,
            daily: 5,
            read_short: 0,
            read_daily: 2
        }
    );
    assert_eq!(blocked, None);
    // Midnight: a new day and window.
    let t2 = at("2026-11-29T00:00:01Z");
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, true, t2)
            .await
            .unwrap(),
        Grant::Granted
    );
    // The provider says someone else used more: the counts rise to it.
    budget::observe(
        &mut conn,
        "strava",
        &Usage {
            short: 3,
            daily: 3,
            read_short: 1,
            read_daily: 1,
        },
        t2,
    )
    .await
    .unwrap();
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, false, t2)
            .await
            .unwrap(),
        Grant::Wait(at("2026-11-29T00:15:00Z"))
    );
    // A 429 blocks until the given instant, whatever the counts.
    let t3 = at("2026-11-29T00:20:00Z");
    budget::block(&mut conn, "strava", at("2026-11-29T00:30:00Z"), t3)
        .await
        .unwrap();
    assert_eq!(
        budget::acquire(&mut conn, "strava", &limits, true, t3)
            .await
            .unwrap(),
        Grant::Wait(at("2026-11-29T00:30:00Z"))
    );
    assert_eq!(
        budget::acquire(
            &mut conn,
            "strava",
            &limits,
            true,
            at("2026-11-29T00:30:00Z")
        )
        .await
        .unwrap(),
        Grant::Granted
    );
}

#[tokio::test]
async fn concurrent_acquires_never_exceed_the_limit() {
    let (_, pool) = migrated().await;
    let limits = Limits {
        short: 25,
        daily: 1000,
        read_short: 25,
        read_daily: 1000,
    };
    let now = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..80 {
        let pool = pool.clone();
        tasks.spawn(async move {
            let mut conn = pool.acquire().await.unwrap();
            budget::acquire(&mut conn, "strava", &limits, true, now)
                .await
                .unwrap()
        });
    }
    let granted = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|g| *g == Grant::Granted)
        .count();
    assert_eq!(granted, 25);
    let mut conn = pool.acquire().await.unwrap();
    let (usage, _) = budget::current(&mut conn, "strava", now).await.unwrap();
    assert_eq!(usage.short, 25);
    assert_eq!(usage.read_short, 25);
}

// ---------------------------------------------------------------- wiremock

fn summary(id: u64, start: &str) -> Value {
    json!({
        "id": id, "name": format!("Ride {id}"), "sport_type": "Ride", "type": "Ride",
        "start_date": start, "utc_offset": 3600.0, "elapsed_time": 600, "moving_time": 600,
        "distance": 5000.0, "total_elevation_gain": 20.0, "average_heartrate": 140.0,
        "max_heartrate": 160.0, "average_watts": 200.0, "weighted_average_watts": 205.0,
        "device_watts": true, "trainer": false
    })
}

fn streams() -> Value {
    let n: i32 = 601;
    let time: Vec<i32> = (0..n).collect();
    let watts: Vec<i32> = (0..n).map(|i| 180 + (i % 40)).collect();
    let hr: Vec<i32> = (0..n).map(|i| 120 + i / 20).collect();
    let distance: Vec<f64> = (0..n).map(|i| f64::from(i) * 8.3).collect();
    let latlng: Vec<[f64; 2]> = (0..n)
        .map(|i| [46.05, f64::from(i).mul_add(1e-4, 14.5)])
        .collect();
    json!({
        "time": {"data": time}, "watts": {"data": watts}, "heartrate": {"data": hr},
        "distance": {"data": distance}, "latlng": {"data": latlng}
    })
}

fn rate_headers(template: ResponseTemplate, short: i32, daily: i32) -> ResponseTemplate {
    template
        .insert_header("x-ratelimit-limit", "200,2000")
        .insert_header("x-ratelimit-usage", format!("{short},{daily}").as_str())
        .insert_header("x-readratelimit-limit", "100,1000")
        .insert_header("x-readratelimit-usage", format!("{short},{daily}").as_str())
}

async fn mock_streams(server: &MockServer, id: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v3/activities/{id}/streams")))
        .respond_with(rate_headers(ResponseTemplate::new(200), 1, 1).set_body_json(streams()))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_429_mid_backfill_defers_the_job_blocks_the_budget_and_resumes_without_duplicates() {
    let server = MockServer::start().await;
    let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(5)).await;
    let (a, b, c) = (
        summary(103, "2026-11-20T08:00:00Z"),
        summary(102, "2026-11-19T08:00:00Z"),
        summary(101, "2026-11-18T08:00:00Z"),
    );
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([a, b, c])))
        .mount(&server)
        .await;
    let cursor = DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z")
        .unwrap()
        .timestamp()
        .to_string();
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(query_param("before", cursor.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([b, c])))
        .with_priority(1)
        .mount(&server)
        .await;
    let oldest = DateTime::parse_from_rfc3339("2026-11-18T08:00:00Z")
        .unwrap()
        .timestamp()
        .to_string();
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(query_param("before", oldest.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(1)
        .mount(&server)
        .await;
    mock_streams(&server, 103).await;
    mock_streams(&server, 101).await;
    // Activity 102's streams: one 429 (the app's window used up), then fine.
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/102/streams"))
        .respond_with(rate_headers(ResponseTemplate::new(429), 200, 900))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    mock_streams(&server, 102).await;

    let job = engine
        .enqueue(
            jobs::SYNC_BACKFILL,
            json!({"provider": "strava", "after": null}),
            None,
        )
        .await;
    engine.drain().await;
    let (state, attempts, error, payload, later) = engine.job(job).await;
    assert_eq!(state, "queued");
    assert_eq!(attempts, 0, "a rate limit does not use up an attempt");
    assert!(later, "deferred to the next window");
    assert!(error.unwrap().contains("rate limit"));
    assert_eq!(payload["total"], 3);
    assert_eq!(payload["done"], 1);
    assert_eq!(payload["before"].to_string(), cursor);
    assert_eq!(engine.activities().await, 1);
    let mut conn = engine.pool.acquire().await.unwrap();
    let now = engine.ctx.clock.now();
    let (usage, blocked) = budget::current(&mut conn, "strava", now).await.unwrap();
    let blocked = blocked.unwrap();
    assert!(blocked > now && blocked <= now + TimeDelta::minutes(15));
    assert!(usage.short >= 200, "the provider's usage was observed");
    let errors: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM provider_errors WHERE status = 429"#)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(errors, 1);
    // Still blocked: running it now defers again without calling Strava.
    sqlx::query!("UPDATE jobs SET run_at = now() WHERE id = $1", job)
        .execute(&mut *conn)
        .await
        .unwrap();
    let calls_before = server.received_requests().await.unwrap().len();
    engine.drain().await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        calls_before
    );
    assert_eq!(engine.job(job).await.1, 0);

    // The next window: the job resumes at its cursor and finishes.
    engine.ctx.clock.advance(TimeDelta::minutes(15));
    sqlx::query!("UPDATE jobs SET run_at = now() WHERE id = $1", job)
        .execute(&mut *conn)
        .await
        .unwrap();
    engine.drain().await;
    let (state, attempts, _, payload, _) = engine.job(job).await;
    assert_eq!(state, "done");
    assert_eq!(attempts, 1);
    assert_eq!(payload["done"], 3);
    assert_eq!(engine.activities().await, 3);
    let row = sqlx::query!(
        "SELECT source, external_id, sport, file_format, load_source, power_curve IS NOT NULL AS curve,
                (SELECT sample_count FROM activity_streams WHERE activity_id = a.id) AS samples
         FROM activities a WHERE external_id = '102'"
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(row.source, "strava");
    assert_eq!(row.sport, "cycling");
    assert_eq!(row.file_format, None);
    assert_eq!(row.curve, Some(true));
    assert_eq!(row.samples, Some(601));
    let synced = sqlx::query!(
        "SELECT last_sync_at IS NOT NULL AS last, next_sync_at > last_sync_at AS next FROM provider_connections"
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!((synced.last, synced.next), (Some(true), Some(true)));

    // A second backfill imports nothing twice and fetches no streams again.
    let streams_calls = |requests: &[wiremock::Request]| {
        requests
            .iter()
            .filter(|r| r.url.path().ends_with("/streams"))
            .count()
    };
    let before = streams_calls(&server.received_requests().await.unwrap());
    let again = engine
        .enqueue(jobs::SYNC_BACKFILL, json!({"provider": "strava"}), None)
        .await;
    engine.drain().await;
    assert_eq!(engine.job(again).await.0, "done");
    assert_eq!(engine.activities().await, 3);
    assert_eq!(
        streams_calls(&server.received_requests().await.unwrap()),
        before
    );
}

#[tokio::test]
async fn server_errors_timeouts_and_truncated_json_are_retried_later_with_nothing_stored() {
    let cases: [(&str, ResponseTemplate, &str); 3] = [
        (
            "5xx",
            ResponseTemplate::new(503).set_body_string("upstream down"),
            "answered 503",
        ),
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(3)),
            "did not answer in time",
        ),
        (
            "truncated",
            ResponseTemplate::new(200)
                .set_body_raw(r#"[{"id": 1, "name": "Morn"#, "application/json"),
            "cut short",
        ),
    ];
    for (name, response, expected) in cases {
        let server = MockServer::start().await;
        let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(1)).await;
        Mock::given(method("GET"))
            .and(path("/api/v3/athlete/activities"))
            .respond_with(response)
            .mount(&server)
            .await;
        let job = engine
            .enqueue(jobs::SYNC_BACKFILL, json!({"provider": "strava"}), None)
            .await;
        engine.drain().await;
        let (state, attempts, error, _, later) = engine.job(job).await;
        assert_eq!(state, "queued", "{name}");
        assert_eq!(attempts, 1, "{name}");
        assert!(later, "{name}: retried after a backoff");
        let error = error.unwrap();
        assert!(error.contains(expected), "{name}: {error}");
        assert!(
            !error.contains("access-token"),
            "{name}: no token in errors"
        );
        assert_eq!(engine.activities().await, 0, "{name}");
        let recorded: Vec<String> =
            sqlx::query_scalar!("SELECT message FROM provider_errors WHERE kind = 'api'")
                .fetch_all(&engine.pool)
                .await
                .unwrap();
        assert_eq!(recorded.len(), 1, "{name}: {recorded:?}");
        assert!(!recorded[0].contains("access-token"));
        let status: String = sqlx::query_scalar!("SELECT status FROM provider_connections")
            .fetch_one(&engine.pool)
            .await
            .unwrap();
        assert_eq!(status, "active", "{name}");
    }
}

#[tokio::test]
async fn a_revoked_token_marks_the_connection_and_stops_the_job_for_good() {
    let server = MockServer::start().await;
    let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(5)).await;
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(
            rate_headers(ResponseTemplate::new(401), 1, 1).set_body_json(json!({
                "message": "Authorization Error",
                "errors": [{"resource": "Athlete", "field": "access_token", "code": "invalid"}]
            })),
        )
        .mount(&server)
        .await;
    let job = engine
        .enqueue(jobs::SYNC_BACKFILL, json!({"provider": "strava"}), None)
        .await;
    engine.drain().await;
    let (state, attempts, error, _, _) = engine.job(job).await;
    assert_eq!(state, "dead", "not retried: only the athlete can fix it");
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("connect again"));
    let row = sqlx::query!("SELECT status, last_error, last_error_at FROM provider_connections")
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    assert_eq!(row.status, "needs_reauth");
    assert!(row.last_error.unwrap().contains("Connect Strava again"));
    assert!(row.last_error_at.is_some());
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn polls_are_scheduled_once_catch_missed_activities_and_leave_uploaded_files_alone() {
    let server = MockServer::start().await;
    let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(5)).await;
    let now = Utc::now();
    let start = |hours: i64| (now - TimeDelta::hours(hours)).to_rfc3339();
    let missed = summary(201, &start(2));
    let uploaded = summary(202, &start(30));
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([missed, uploaded])))
        .mount(&server)
        .await;
    mock_streams(&server, 201).await;
    mock_streams(&server, 202).await;
    // The athlete uploaded 202's file themselves (starting 20 s later).
    let mut file: pierre::providers::strava::StravaActivity =
        serde_json::from_value(uploaded.clone()).unwrap();
    file.start_date += TimeDelta::seconds(20);
    let parsed = pierre::sync::mapping::parsed(&file, None);
    let mut tx = engine.pool.begin().await.unwrap();
    pierre::db::activities::insert(
        &mut tx,
        &pierre::db::activities::NewActivity {
            user_id: engine.user,
            source: pierre::db::activities::Source::Upload,
            external_id: None,
            name: "My own file",
            parsed: &parsed,
            file_sha256: None,
            original: None,
            metrics: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let last_sync = now - TimeDelta::days(1);
    sqlx::query!(
        "UPDATE provider_connections SET last_sync_at = $1, next_sync_at = $2",
        last_sync,
        now - TimeDelta::minutes(1)
    )
    .execute(&engine.pool)
    .await
    .unwrap();

    // Due once: queued once, and not again a minute later.
    assert_eq!(
        pierre::sync::schedule_polls(&engine.pool, &engine.ctx)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        pierre::sync::schedule_polls(&engine.pool, &engine.ctx)
            .await
            .unwrap(),
        0
    );
    let key = format!("poll:{}:strava", engine.user);
    let polls: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'sync_poll' AND dedupe_key = $1"#,
        key
    )
    .fetch_one(&engine.pool)
    .await
    .unwrap();
    assert_eq!(polls, 1);
    engine.drain().await;

    let rows = sqlx::query!("SELECT source, external_id, name FROM activities ORDER BY start_time")
        .fetch_all(&engine.pool)
        .await
        .unwrap();
    let rows: Vec<(String, Option<String>, String)> = rows
        .into_iter()
        .map(|r| (r.source, r.external_id, r.name))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("upload".to_owned(), None, "My own file".to_owned()),
            (
                "strava".to_owned(),
                Some("201".to_owned()),
                "Ride 201".to_owned()
            ),
        ],
        "the missed activity is imported; the uploaded file wins over its Strava copy"
    );
    let list = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path().ends_with("/athlete/activities"))
        .unwrap();
    let after: i64 = list
        .url
        .query_pairs()
        .find(|(k, _)| k == "after")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert_eq!(after, (last_sync - TimeDelta::days(3)).timestamp());
    let synced = sqlx::query!("SELECT last_sync_at, next_sync_at FROM provider_connections")
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    let synced_at = synced.last_sync_at.unwrap();
    assert!(synced_at > now - TimeDelta::seconds(5));
    assert_eq!(
        synced.next_sync_at.unwrap() - synced_at,
        TimeDelta::hours(6)
    );
}

#[tokio::test]
async fn events_update_names_and_sports_without_refetching_streams_and_a_vanished_activity_goes() {
    let server = MockServer::start().await;
    let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(5)).await;
    let detail = summary(301, "2026-11-21T07:00:00Z");
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/301"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&detail))
        .mount(&server)
        .await;
    mock_streams(&server, 301).await;
    let event = |aspect: &str| {
        json!({"provider": "strava", "object_type": "activity", "object_id": 301,
               "aspect_type": aspect, "owner_id": ATHLETE.parse::<u64>().unwrap(),
               "subscription_id": 1, "event_time": 1, "updates": {}})
    };
    engine
        .enqueue(jobs::SYNC_EVENT, event("create"), None)
        .await;
    engine.drain().await;
    assert_eq!(engine.activities().await, 1);
    let streams_calls = || async {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path().ends_with("/streams"))
            .count()
    };
    assert_eq!(streams_calls().await, 1);

    // Renamed and re-typed on Strava: updated in place, no second streams call.
    let mut changed = detail.clone();
    changed["name"] = json!("Commute");
    changed["sport_type"] = json!("Run");
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/301"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&changed))
        .with_priority(1)
        .mount(&server)
        .await;
    let id_before: Uuid = sqlx::query_scalar!("SELECT id FROM activities")
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    engine
        .enqueue(jobs::SYNC_EVENT, event("update"), None)
        .await;
    engine.drain().await;
    let row = sqlx::query!("SELECT id, name, sport FROM activities")
        .fetch_one(&engine.pool)
        .await
        .unwrap();
    assert_eq!(
        (row.name.as_str(), row.sport.as_str()),
        ("Commute", "running")
    );
    assert_eq!(row.id, id_before, "the same row");
    assert_eq!(streams_calls().await, 1);

    // Gone from Strava by the time the event is handled: ours goes too.
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/301"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "Record Not Found"})),
        )
        .mount(&server)
        .await;
    engine
        .enqueue(jobs::SYNC_EVENT, event("update"), None)
        .await;
    engine.drain().await;
    assert_eq!(engine.activities().await, 0);
    let dead: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE state <> 'done'"#)
            .fetch_one(&engine.pool)
            .await
            .unwrap();
    assert_eq!(dead, 0);
}

// ---------------------------------------------------------------- end to end

/// Wait (polling the database, up to `$secs` seconds) until `$cond` holds.
macro_rules! until {
    ($what:expr, $secs:expr, $cond:expr) => {{
        let started = std::time::Instant::now();
        loop {
            let done: bool = $cond;
            if done {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs($secs),
                "timed out waiting for {}",
                $what
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }};
}

async fn strava_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM activities WHERE source = 'strava'"#)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn sim_event(client: &reqwest::Client, base: &str, event: Value) -> Value {
    let answer = client
        .post(format!("{base}/__sim/events"))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["delivered"], true, "{body}");
    body
}

/// Consent as `athlete_id` and exchange the code at the simulator: the token answer.
async fn sim_token(client: &reqwest::Client, base: &str, athlete_id: u64) -> Value {
    let consent = client
        .post(format!("{base}/oauth/authorize"))
        .form(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("redirect_uri", "http://localhost/oauth/strava/callback"),
            ("state", "s"),
            ("requested", "read,activity:read_all"),
            ("athlete", athlete_id.to_string().as_str()),
            ("decision", "authorize"),
            ("scope", "activity:read_all"),
        ])
        .send()
        .await
        .unwrap();
    let location = url::Url::parse(consent.headers()["location"].to_str().unwrap()).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    client
        .post(format!("{base}/oauth/token"))
        .form(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("code", code.as_str()),
            ("grant_type", "authorization_code"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one story, step by step: connect, backfill, events, deauthorize"
)]
async fn end_to_end_backfill_webhooks_duplicates_and_deauthorization_against_the_simulator() {
    let unlimited = RateLimits {
        overall_15min: 100_000,
        overall_daily: 100_000,
        read_15min: 100_000,
        read_daily: 100_000,
    };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sim = provider_sim::start(
        listener,
        SimConfig {
            athletes: 1,
            activities_per_athlete: 500,
            seed: 11,
            limits: unlimited,
            ..SimConfig::default()
        },
        Clock::system(),
    )
    .unwrap();
    let base = sim.base_url.clone();
    let world = Arc::clone(&sim.sim);
    tokio::spawn(sim.server);
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", KEYS.to_owned())],
        ..Spawn::default()
    })
    .await;
    let pool = app.db.clone();
    let settings = settings(&app.database);
    let user = new_user(&pool, "sim@example.org").await;
    {
        let mut conn = pool.acquire().await.unwrap();
        let day = chrono::NaiveDate::from_ymd_opt(2000, 1, 1).unwrap();
        let values = pierre::db::thresholds::Thresholds {
            ftp_w: Some(260.0),
            lthr_bpm: Some(165.0),
            max_hr_bpm: Some(190.0),
            rest_hr_bpm: Some(50.0),
            threshold_speed_mps: Some(4.0),
            swim_speed_mps: Some(1.3),
            ..Default::default()
        };
        pierre::db::thresholds::upsert(&mut conn, user, "all", day, &values)
            .await
            .unwrap();
    }
    let limits = Limits {
        short: 100_000,
        daily: 100_000,
        read_short: 100_000,
        read_daily: 100_000,
    };
    configure_app(&pool, &settings, &format!("{base}/api/v3"), limits).await;
    let client = crate::support::new_client();

    // The push subscription: the simulator validates our callback (GET) first.
    let created = client
        .post(format!("{base}/api/v3/push_subscriptions"))
        .form(&[
            ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
            ("client_secret", DEMO_CLIENT_SECRET),
            ("callback_url", app.url("/webhooks/strava").as_str()),
            ("verify_token", VERIFY),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", created.text().await.unwrap());
    let subscription: Value = created.json().await.unwrap();
    sqlx::query!(
        "UPDATE oauth_apps SET subscription_id = $1 WHERE provider = 'strava'",
        subscription["id"].to_string()
    )
    .execute(&pool)
    .await
    .unwrap();

    // Connect: consent and token exchange at the simulator, tokens saved.
    let (athlete_id, _, _) = world.athletes()[0].clone();
    let token = sim_token(&client, &base, athlete_id).await;
    connect(
        &pool,
        &settings,
        user,
        &athlete_id.to_string(),
        token["access_token"].as_str().unwrap(),
    )
    .await;

    // Backfill 500 activities (the app's worker runs the job).
    let job = {
        let mut conn = pool.acquire().await.unwrap();
        jobs::enqueue(
            &mut conn,
            jobs::SYNC_BACKFILL,
            Some(user),
            &json!({"provider": "strava", "after": null}),
            Some(&format!("backfill:{user}:strava")),
        )
        .await
        .unwrap()
        .unwrap()
    };
    until!("the backfill", 900, {
        let state: String = sqlx::query_scalar!("SELECT state FROM jobs WHERE id = $1", job)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert!(state != "dead", "backfill died");
        state == "done"
    });
    assert_eq!(strava_count(&pool).await, 500);
    let stats = sqlx::query!(
        r#"SELECT count(*) AS "n!",
                  count(*) FILTER (WHERE s.sample_count > 0) AS "with_streams!",
                  count(*) FILTER (WHERE a.load > 0 AND a.load_source <> 'none') AS "with_load!",
                  count(*) FILTER (WHERE a.external_id IS NULL) AS "no_external!",
                  count(DISTINCT a.external_id) AS "distinct_ids!"
           FROM activities a LEFT JOIN activity_streams s ON s.activity_id = a.id"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stats.n, 500);
    assert_eq!(stats.with_streams, 500);
    assert_eq!(stats.with_load, 500);
    assert_eq!(stats.no_external, 0);
    assert_eq!(stats.distinct_ids, 500);
    let progress = {
        let mut conn = pool.acquire().await.unwrap();
        jobs::latest(&mut conn, user, jobs::SYNC_BACKFILL)
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!((progress.done, progress.total), (500, 500));
    {
        let mut conn = pool.acquire().await.unwrap();
        let summary = pierre::db::summaries::get(&mut conn, user, Scope::All)
            .await
            .unwrap()
            .unwrap();
        assert!(summary.loads.iter().sum::<f64>() > 0.0);
        // Strava's terms: nothing of it counts in what coaches see.
        let coach = pierre::db::summaries::get(&mut conn, user, Scope::Coach)
            .await
            .unwrap();
        assert!(
            coach.is_none(),
            "Strava loads leaked into the coach summary"
        );
    }

    // Webhook: a new activity.
    let created = sim_event(
        &client,
        &base,
        json!({"object_type": "activity", "aspect_type": "create", "athlete_id": athlete_id}),
    )
    .await;
    let new_id = created["event"]["object_id"].as_u64().unwrap().to_string();
    until!("the created activity", 60, {
        strava_count(&pool).await == 501
    });
    let imported: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM activities WHERE external_id = $1"#,
        new_id
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(imported, 1);

    // Webhook: a rename.
    sim_event(
        &client,
        &base,
        json!({"object_type": "activity", "aspect_type": "update", "athlete_id": athlete_id,
               "activity_id": new_id.parse::<u64>().unwrap(), "name": "Renamed on Strava"}),
    )
    .await;
    until!("the rename", 60, {
        sqlx::query_scalar!("SELECT name FROM activities WHERE external_id = $1", new_id)
            .fetch_one(&pool)
            .await
            .unwrap()
            == "Renamed on Strava"
    });

    // Webhook: a delete.
    let oldest: String = sqlx::query_scalar!(
        r#"SELECT external_id AS "id!" FROM activities ORDER BY start_time LIMIT 1"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    sim_event(
        &client,
        &base,
        json!({"object_type": "activity", "aspect_type": "delete", "athlete_id": athlete_id,
               "activity_id": oldest.parse::<u64>().unwrap()}),
    )
    .await;
    until!("the delete", 60, { strava_count(&pool).await == 500 });

    // The same event delivered three times at once is queued and imported once.
    let target: String = sqlx::query_scalar!(
        r#"SELECT external_id AS "id!" FROM activities ORDER BY start_time DESC OFFSET 3 LIMIT 1"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    {
        let id: Uuid =
            sqlx::query_scalar!("SELECT id FROM activities WHERE external_id = $1", target)
                .fetch_one(&pool)
                .await
                .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        assert!(
            pierre::db::activities::delete(&mut conn, user, id)
                .await
                .unwrap()
        );
    }
    let event = json!({
        "object_type": "activity", "object_id": target.parse::<u64>().unwrap(),
        "aspect_type": "create", "owner_id": athlete_id,
        "subscription_id": subscription["id"], "event_time": 1_764_000_000, "updates": {}
    });
    let mut deliveries = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let request = client.post(app.url("/webhooks/strava")).json(&event);
        deliveries.spawn(async move { request.send().await.unwrap().status() });
    }
    for status in deliveries.join_all().await {
        assert_eq!(status, 200);
    }
    until!("the re-import", 60, { strava_count(&pool).await == 500 });
    // While one is waiting or running, duplicates queue nothing; a delivery
    // after it finished may queue a second job, which finds the activity
    // already there.
    let key = format!("strava:activity:{target}:create:1764000000");
    until!("the event jobs", 60, {
        let job_states: Vec<String> =
            sqlx::query_scalar!("SELECT state FROM jobs WHERE dedupe_key = $1", key)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!((1..=3).contains(&job_states.len()), "{job_states:?}");
        job_states.iter().all(|s| s == "done")
    });
    let copies: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM activities WHERE external_id = $1"#,
        target
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(copies, 1);

    // Deauthorization: the connection and every Strava activity go.
    sim_event(
        &client,
        &base,
        json!({"object_type": "athlete", "aspect_type": "update", "athlete_id": athlete_id}),
    )
    .await;
    until!("the deauthorization", 60, {
        strava_count(&pool).await == 0
    });
    let connections: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM provider_connections"#)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(connections, 0);
    let mut conn = pool.acquire().await.unwrap();
    assert!(
        pierre::db::summaries::get(&mut conn, user, Scope::All)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn the_webhook_validates_with_the_verify_token_and_refuses_strangers() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", KEYS.to_owned())],
        ..Spawn::default()
    })
    .await;
    let settings = settings(&app.database);
    configure_app(
        &app.db,
        &settings,
        "http://127.0.0.1:9/api/v3",
        STRAVA_LIMITS,
    )
    .await;
    sqlx::query!("UPDATE oauth_apps SET subscription_id = '77' WHERE provider = 'strava'")
        .execute(&app.db)
        .await
        .unwrap();
    let user = new_user(&app.db, "hook@example.org").await;
    connect(&app.db, &settings, user, ATHLETE, "tok").await;
    let client = reqwest::Client::new();

    let validate = |token: &str| {
        client
            .get(app.url("/webhooks/strava"))
            .query(&[
                ("hub.mode", "subscribe"),
                ("hub.challenge", "ch-123"),
                ("hub.verify_token", token),
            ])
            .send()
    };
    let ok = validate(VERIFY).await.unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    assert_eq!(body, json!({"hub.challenge": "ch-123"}));
    assert_eq!(validate("wrong").await.unwrap().status(), 403);
    assert_eq!(validate("").await.unwrap().status(), 403);
    let missing = client
        .get(app.url("/webhooks/strava"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);

    let post = |body: Value| client.post(app.url("/webhooks/strava")).json(&body).send();
    let event = |subscription: u64, owner: &str| {
        json!({"object_type": "activity", "object_id": 9, "aspect_type": "create",
               "owner_id": owner.parse::<u64>().unwrap(), "subscription_id": subscription,
               "event_time": 1_764_000_000, "updates": {}})
    };
    // Another subscription: refused and recorded for the admin.
    assert_eq!(post(event(78, ATHLETE)).await.unwrap().status(), 403);
    // An athlete nobody connected: accepted and ignored.
    assert_eq!(post(event(77, "999")).await.unwrap().status(), 200);
    // Malformed and oversized bodies.
    assert_eq!(
        post(json!({"object_type": "activity"}))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        post(
            json!({"object_type": "club", "object_id": 1, "aspect_type": "create", "owner_id": 1,
                    "subscription_id": 77, "event_time": 1})
        )
        .await
        .unwrap()
        .status(),
        400
    );
    let big = client
        .post(app.url("/webhooks/strava"))
        .header("content-type", "application/json")
        .body(vec![b' '; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(big.status(), 413);
    // Nothing queued so far; a valid event queues one job.
    let queued = || async {
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM jobs WHERE kind = 'sync_event'"#)
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(queued().await, 0);
    assert_eq!(post(event(77, ATHLETE)).await.unwrap().status(), 200);
    assert_eq!(queued().await, 1);
    let errors: Vec<String> =
        sqlx::query_scalar!("SELECT message FROM provider_errors WHERE kind = 'webhook'")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(errors.len(), 1);
}

// ---------------------------------------------------------------- benchmark

/// Save the simulator's token answer as the athlete's connection.
async fn save_sim_token(
    pool: &PgPool,
    settings: &Settings,
    user: Uuid,
    athlete: u64,
    token: &Value,
) {
    let mut conn = pool.acquire().await.unwrap();
    tokens::save(
        &mut conn,
        &settings.data_keys,
        &NewConnection {
            user_id: user,
            provider: Provider::Strava,
            external_athlete_id: &athlete.to_string(),
            athlete_name: "Bench",
            granted_scopes: "read,activity:read_all",
            tokens: &TokenSet {
                access: SecretString::from(token["access_token"].as_str().unwrap()),
                refresh: SecretString::from(token["refresh_token"].as_str().unwrap()),
                expires_at: DateTime::from_timestamp(token["expires_at"].as_i64().unwrap(), 0)
                    .unwrap(),
            },
            backfill_after: None,
        },
    )
    .await
    .unwrap();
}

/// One backfill of `count` simulator activities with these limits, jobs run
/// in this task. When the budget defers the job, the shared clock jumps to
/// the instant it names (the accelerated clock) and the token is refreshed
/// at the simulator. Returns (wall seconds, provider-clock seconds, deferrals,
/// 429s seen).
async fn bench_run(count: u32, sim_limits: RateLimits, limits: Limits) -> (f64, f64, u32, i64) {
    let clock = Clock::system();
    // Start at a UTC midnight, as a fresh day's budget.
    let now = clock.now();
    let midnight = budget::next_day(now);
    clock.advance(midnight - now);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sim = provider_sim::start(
        listener,
        SimConfig {
            athletes: 1,
            activities_per_athlete: count,
            seed: 5,
            limits: sim_limits,
            ..SimConfig::default()
        },
        clock.clone(),
    )
    .unwrap();
    let base = sim.base_url.clone();
    let athlete_id = sim.sim.athletes()[0].0;
    tokio::spawn(sim.server);
    let (database, pool) = migrated().await;
    let settings = settings(&database);
    let user = new_user(&pool, "bench@example.org").await;
    configure_app(&pool, &settings, &format!("{base}/api/v3"), limits).await;
    let client = crate::support::new_client();
    let token = sim_token(&client, &base, athlete_id).await;
    save_sim_token(&pool, &settings, user, athlete_id, &token).await;
    let ctx = ctx_for(settings.clone(), clock.clone(), Duration::from_secs(20));
    let job = {
        let mut conn = pool.acquire().await.unwrap();
        jobs::enqueue(
            &mut conn,
            jobs::SYNC_BACKFILL,
            Some(user),
            &json!({"provider": "strava"}),
            None,
        )
        .await
        .unwrap()
        .unwrap()
    };
    let started = std::time::Instant::now();
    let provider_start = clock.now();
    let mut deferrals = 0;
    loop {
        while pierre::jobs::run_next(&pool, &ctx).await.unwrap() {}
        let row = sqlx::query!(
            r#"SELECT state, attempts, extract(epoch FROM run_at - now())::float8 AS "wait!" FROM jobs WHERE id = $1"#,
            job
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if row.state == "done" {
            break;
        }
        assert_eq!(row.state, "queued");
        assert_eq!(row.attempts, 0, "only deferrals, no failures");
        deferrals += 1;
        clock.advance(
            TimeDelta::from_std(Duration::from_secs_f64(row.wait.max(0.0) + 0.001)).unwrap(),
        );
        sqlx::query!("UPDATE jobs SET run_at = now() WHERE id = $1", job)
            .execute(&pool)
            .await
            .unwrap();
        // Stand-in for the refresh the OAuth client does: keep the token alive
        // across the clock's jumps.
        let refreshed: Value = client
            .post(format!("{base}/oauth/token"))
            .form(&[
                ("client_id", DEMO_CLIENT_ID.to_string().as_str()),
                ("client_secret", DEMO_CLIENT_SECRET),
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    token_refresh(&pool, &ctx, user).await.as_str(),
                ),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        save_sim_token(&pool, &ctx.settings, user, athlete_id, &refreshed).await;
    }
    let wall = started.elapsed().as_secs_f64();
    let provider = (clock.now() - provider_start).as_seconds_f64();
    let stored: i64 = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM activities a JOIN activity_streams s ON s.activity_id = a.id
           WHERE a.source = 'strava' AND s.sample_count > 0"#
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, i64::from(count));
    let rejected: i64 =
        sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM provider_errors WHERE status = 429"#)
            .fetch_one(&pool)
            .await
            .unwrap();
    (wall, provider, deferrals, rejected)
}

async fn token_refresh(pool: &PgPool, ctx: &ProviderCtx, user: Uuid) -> String {
    use secrecy::ExposeSecret as _;
    let mut conn = pool.acquire().await.unwrap();
    tokens::load(&mut conn, &ctx.settings.data_keys, user, Provider::Strava)
        .await
        .unwrap()
        .unwrap()
        .refresh
        .expose_secret()
        .to_owned()
}

/// `scripts/bench-backfill`: throughput without limits, and a 1,000-activity
/// backfill under Strava's default limits on the accelerated clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run with scripts/bench-backfill"]
async fn bench_backfill() {
    let count: u32 = std::env::var("BENCH_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let unlimited = RateLimits {
        overall_15min: 1_000_000,
        overall_daily: 1_000_000,
        read_15min: 1_000_000,
        read_daily: 1_000_000,
    };
    let no_limits = Limits {
        short: 1_000_000,
        daily: 1_000_000,
        read_short: 1_000_000,
        read_daily: 1_000_000,
    };
    let (wall, _, _, _) = bench_run(count, unlimited, no_limits).await;
    println!(
        "BENCH no limits: {count} activities with streams in {wall:.2} s = {:.1} activities/s",
        f64::from(count) / wall
    );
    let (wall, provider, deferrals, rejected) =
        bench_run(1000, RateLimits::default(), STRAVA_LIMITS).await;
    println!(
        "BENCH Strava limits: 1000 activities, provider-clock wall time {:.2} h ({provider:.0} s), \
         {deferrals} deferrals, {rejected} answers 429, real time {wall:.1} s",
        provider / 3600.0
    );
    assert_eq!(
        rejected, 0,
        "the budget never lets a call exceed Strava's limits"
    );
}

/// Disconnecting while an import is in flight (its streams being fetched)
/// leaves no Strava activity behind: the import finds the connection gone.
#[tokio::test]
async fn a_disconnect_during_an_import_leaves_no_strava_data_behind() {
    let server = MockServer::start().await;
    let engine = Engine::new(&format!("{}/api/v3", server.uri()), Duration::from_secs(10)).await;
    let a = summary(301, "2026-11-20T08:00:00Z");
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([a])))
        .mount(&server)
        .await;
    let cursor = DateTime::parse_from_rfc3339("2026-11-20T08:00:00Z")
        .unwrap()
        .timestamp()
        .to_string();
    Mock::given(method("GET"))
        .and(path("/api/v3/athlete/activities"))
        .and(query_param("before", cursor.as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .with_priority(1)
        .mount(&server)
        .await;
    // The streams answer slowly: the athlete disconnects meanwhile.
    Mock::given(method("GET"))
        .and(path("/api/v3/activities/301/streams"))
        .respond_with(
            rate_headers(ResponseTemplate::new(200), 1, 1)
                .set_body_json(streams())
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    engine
        .enqueue(
            jobs::SYNC_BACKFILL,
            json!({"provider": "strava", "after": null}),
            None,
        )
        .await;
    let pool = engine.pool.clone();
    let ctx = engine.ctx.clone();
    let running = tokio::spawn(async move { pierre::jobs::run_next(&pool, &ctx).await });
    // Wait until the import asks for the streams, then disconnect.
    for _ in 0..100 {
        let asked = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .any(|r| r.url.path().ends_with("/streams"));
        if asked {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut tx = engine.pool.begin().await.unwrap();
    pierre::db::connections::forget(&mut tx, engine.user, Provider::Strava)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(running.await.unwrap().unwrap(), "the job ran");
    assert_eq!(
        engine.activities().await,
        0,
        "a Strava activity outlived the disconnect"
    );
}
