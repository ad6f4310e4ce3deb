//! A stand-in for Strava's public API v3 and OAuth endpoints, for tests and demos
//! (`pierre provider-sim`; see `docs/PROVIDER-SIM.md`).
//!
//! It serves synthetic athletes and activities ([`crate::synthetic`], deterministic by
//! seed) behind the contract of `PROVIDERS.md`: the consent page, token exchange and
//! refresh with rotation, deauthorization, the athlete, the activity list, activity
//! detail and streams, per-app rate limits with Strava's headers, and injected faults.
//! Time comes from a [`Clock`] the caller owns, so tests can expire tokens and move
//! rate-limit windows without sleeping.
//!
//! - [`data`]: the synthetic world and its JSON shapes.
//! - [`oauth`]: `/oauth/authorize`, `/oauth/token`, `/oauth/deauthorize`.
//! - [`api`]: `/api/v3/…`, rate limits and faults.
//! - [`push`]: push subscriptions and webhook events (`POST /__sim/events`).
//! - [`garmin`]: Garmin's OAuth 2.0 with PKCE, ping notifications and FIT file pulls
//!   (`/garmin/…`), with [`fit`] writing the files.
//! - `/__sim/…`: test controls (faults, the clock, events).

pub mod api;
pub mod data;
pub mod fit;
pub mod garmin;
pub mod oauth;
pub mod push;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use rand::Rng as _;
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::domain::Streams;

pub use data::World;

/// The demo app's client id the simulator accepts unless configured otherwise.
pub const DEMO_CLIENT_ID: u64 = 4242;
/// The demo app's client secret.
pub const DEMO_CLIENT_SECRET: &str = "pierre-sim-demo-secret";

/// Access tokens live this long (Strava: six hours).
pub const ACCESS_TOKEN_LIFETIME: TimeDelta = TimeDelta::hours(6);
/// A refresh while the access token has more than this left returns it unchanged.
pub const REFRESH_MARGIN: TimeDelta = TimeDelta::hours(1);
/// Authorization codes must be exchanged within this time.
pub const CODE_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// Per-app request budgets (Strava's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    /// All requests per 15-minute window.
    pub overall_15min: u32,
    /// All requests per UTC day.
    pub overall_daily: u32,
    /// Read (GET) requests per 15-minute window.
    pub read_15min: u32,
    /// Read (GET) requests per UTC day.
    pub read_daily: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            overall_15min: 200,
            overall_daily: 2000,
            read_15min: 100,
            read_daily: 1000,
        }
    }
}

/// Injected failures for the API and token endpoints; settable at start and through
/// `POST /__sim/faults` (JSON; missing fields are zero / false).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The next N answers are 429 (with the rate-limit headers), usage unchanged.
    pub rate_limited: u32,
    /// The next N answers are 500.
    pub server_errors: u32,
    /// Every answer waits this long first, milliseconds.
    pub delay_ms: u64,
    /// The next N JSON bodies are cut in half (status 200, invalid JSON).
    pub truncated: u32,
    /// Revoke every token now (applied once, then reset).
    pub revoke_all: bool,
}

/// How to run the simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Synthetic athletes (at most [`data::MAX_ATHLETES`]).
    pub athletes: u32,
    /// Activities each.
    pub activities_per_athlete: u32,
    /// The generator's seed.
    pub seed: u64,
    /// The only accepted client id.
    pub client_id: u64,
    /// Its secret.
    pub client_secret: String,
    /// The app's "Authorization Callback Domain": redirect URIs must lie in it
    /// (localhost and 127.0.0.1 are always allowed, as on Strava).
    pub callback_domain: String,
    /// Request budgets.
    pub limits: RateLimits,
    /// Faults from the start.
    pub faults: Faults,
    /// The day of the newest activity (default: yesterday on the clock).
    pub last_day: Option<NaiveDate>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            athletes: 3,
            activities_per_athlete: 60,
            seed: 2026,
            client_id: DEMO_CLIENT_ID,
            client_secret: DEMO_CLIENT_SECRET.to_owned(),
            callback_domain: "localhost".to_owned(),
            limits: RateLimits::default(),
            faults: Faults::default(),
            last_day: None,
        }
    }
}

/// A pending authorization code.
#[derive(Debug, Clone)]
struct Code {
    athlete: usize,
    scopes: Vec<String>,
    expires: DateTime<Utc>,
}

/// One athlete's authorization of the app.
#[derive(Debug, Clone)]
struct Grant {
    athlete: usize,
    scopes: Vec<String>,
    access_token: String,
    expires_at: DateTime<Utc>,
    refresh_token: String,
}

/// The app's push subscription.
#[derive(Debug, Clone)]
struct Subscription {
    id: u64,
    callback_url: url::Url,
}

/// Usage counters of the current windows.
#[derive(Debug, Clone, Default)]
struct Usage {
    window: i64,
    day: Option<NaiveDate>,
    overall_15min: u32,
    overall_daily: u32,
    read_15min: u32,
    read_daily: u32,
}

/// Mutable state behind one lock (requests are short; nothing awaits while holding it).
#[derive(Debug)]
struct Inner {
    world: World,
    codes: HashMap<String, Code>,
    grants: Vec<Grant>,
    usage: Usage,
    faults: Faults,
    limits: RateLimits,
    streams: HashMap<u64, Arc<Streams>>,
    subscription: Option<Subscription>,
    next_subscription: u64,
    garmin: garmin::GarminState,
}

/// Streams kept in memory at most (generated again when evicted).
const STREAM_CACHE: usize = 64;

/// The simulator's shared state.
#[derive(Debug)]
pub struct Sim {
    config: SimConfig,
    clock: Clock,
    inner: Mutex<Inner>,
}

fn token() -> String {
    let bytes: [u8; 20] = rand::rng().random();
    bytes.iter().fold(String::with_capacity(40), |mut out, b| {
        use std::fmt::Write as _;
        let _ = write!(out, "{b:02x}");
        out
    })
}

impl Sim {
    /// The simulator's state for this configuration, its world generated now.
    #[must_use]
    pub fn new(config: SimConfig, clock: Clock) -> Self {
        let last_day = config
            .last_day
            .unwrap_or_else(|| clock.now().date_naive() - TimeDelta::days(1));
        let world = World::generate(
            config.athletes,
            config.activities_per_athlete,
            config.seed,
            last_day,
        );
        let inner = Inner {
            world,
            codes: HashMap::new(),
            grants: Vec::new(),
            usage: Usage::default(),
            faults: config.faults.clone(),
            limits: config.limits,
            streams: HashMap::new(),
            subscription: None,
            next_subscription: 0,
            garmin: garmin::GarminState::default(),
        };
        Self {
            config,
            clock,
            inner: Mutex::new(inner),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock the simulator reads (advance it to expire tokens and reset windows).
    #[must_use]
    pub const fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The configuration it runs with.
    #[must_use]
    pub const fn config(&self) -> &SimConfig {
        &self.config
    }

    /// Replace the injected faults (`revoke_all` is applied at once).
    pub fn set_faults(&self, mut faults: Faults) {
        let mut inner = self.lock();
        if faults.revoke_all {
            inner.grants.clear();
            faults.revoke_all = false;
        }
        inner.faults = faults;
    }

    /// The faults still pending.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// Replace the request budgets.
    pub fn set_limits(&self, limits: RateLimits) {
        self.lock().limits = limits;
    }

    /// `(id, firstname, lastname)` of every athlete.
    #[must_use]
    pub fn athletes(&self) -> Vec<(u64, String, String)> {
        self.lock()
            .world
            .athletes
            .iter()
            .map(|a| (a.id, a.firstname.clone(), a.lastname.clone()))
            .collect()
    }

    /// How many activities athlete `id` has now.
    #[must_use]
    pub fn activity_count(&self, athlete_id: u64) -> usize {
        let inner = self.lock();
        let Some(index) = inner.world.athletes.iter().position(|a| a.id == athlete_id) else {
            return 0;
        };
        inner
            .world
            .activities
            .values()
            .filter(|a| a.athlete == index)
            .count()
    }
}

/// A running simulator.
pub struct Running {
    /// `http://host:port`, what Pierre's OAuth app takes as authorize, token and API base.
    pub base_url: String,
    /// The port it listens on.
    pub port: u16,
    /// Its state (faults, limits, the clock).
    pub sim: Arc<Sim>,
    /// The server; await it (or spawn it) to serve.
    pub server: Server,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("base_url", &self.base_url)
            .field("sim", &self.sim)
            .finish_non_exhaustive()
    }
}

/// Start serving on `listener` (bound by the caller; port 0 is fine).
///
/// # Errors
/// If the listener cannot be used.
pub fn start(listener: TcpListener, config: SimConfig, clock: Clock) -> std::io::Result<Running> {
    let addr = listener.local_addr()?;
    let sim = Arc::new(Sim::new(config, clock));
    let data = web::Data::from(Arc::clone(&sim));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .configure(oauth::configure)
            .configure(api::configure)
            .configure(push::configure)
            .configure(garmin::configure)
            .service(
                web::resource("/__sim/faults")
                    .route(web::get().to(get_faults))
                    .route(web::post().to(post_faults)),
            )
            .service(web::resource("/__sim/clock").route(web::post().to(post_clock)))
            .default_service(web::to(not_found))
    })
    .workers(2)
    .listen(listener)?
    .run();
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    Ok(Running {
        base_url: format!("http://{host}:{}", addr.port()),
        port: addr.port(),
        sim,
        server,
    })
}

async fn not_found() -> HttpResponse {
    api::error(
        actix_web::http::StatusCode::NOT_FOUND,
        "Record Not Found",
        &[("resource", "path"), ("code", "invalid")],
    )
}

async fn get_faults(sim: web::Data<Sim>) -> HttpResponse {
    HttpResponse::Ok().json(sim.faults())
}

async fn post_faults(sim: web::Data<Sim>, faults: web::Json<Faults>) -> HttpResponse {
    sim.set_faults(faults.into_inner());
    HttpResponse::Ok().json(sim.faults())
}

/// `POST /__sim/clock` body.
#[derive(Debug, Deserialize)]
struct Advance {
    advance_seconds: i64,
}

async fn post_clock(sim: web::Data<Sim>, body: web::Json<Advance>) -> HttpResponse {
    if body.advance_seconds < 0 {
        return api::error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "Bad Request",
            &[("field", "advance_seconds"), ("code", "invalid")],
        );
    }
    sim.clock.advance(TimeDelta::seconds(body.advance_seconds));
    HttpResponse::Ok().json(serde_json::json!({ "now": sim.clock.now().to_rfc3339() }))
}
