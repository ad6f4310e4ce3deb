//! The test harness: a real server on a bound port against a fresh database.
//!
//! `TestApp::spawn()` creates a new PostgreSQL database for the test (on the
//! server named by `PIERRE_TEST_DATABASE_URL`, which `./test` starts), builds
//! the application with port 0 listeners, and runs it in the background.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use pierre::clock::Clock;
use pierre::config::Settings;
use pierre::startup::{Application, BuildOptions, ExtraRoutes};
use sqlx::{Connection as _, PgConnection, PgPool};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Mutex;
use tokio::task::JoinSet;

/// The PostgreSQL server the tests use (a URL to any database on it).
pub fn server_url() -> String {
    std::env::var("PIERRE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:55432/postgres".to_owned())
}

/// `server_url()` pointed at another database.
pub fn url_for(database: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("PIERRE_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// Create an empty database with a unique name; returns its name.
pub async fn create_database() -> String {
    let name = format!("pierre_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&url_for("postgres")).await.expect(
        "the test PostgreSQL server is reachable (run ./test, or set PIERRE_TEST_DATABASE_URL)",
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&mut conn)
        .await
        .expect("can create a test database");
    name
}

/// Settings for a test instance: ports 0, one worker, short timeouts.
pub fn test_vars(database_url: &str) -> HashMap<String, String> {
    [
        ("DATABASE_URL", database_url),
        ("HTTP_HOST", "127.0.0.1"),
        ("HTTP_PORT", "0"),
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("HTTP_WORKERS", "1"),
        ("DATABASE_ACQUIRE_TIMEOUT_SECS", "1"),
        ("DATABASE_MAX_CONNECTIONS", "6"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A running application and what a test needs to talk to it.
#[allow(dead_code, reason = "not every test module uses every field")]
pub struct TestApp {
    pub address: String,
    pub metrics_address: String,
    pub port: u16,
    pub database: String,
    /// A pool on the test database, for arranging and checking data directly.
    pub db: PgPool,
    /// An HTTP client that does not follow redirects and keeps cookies.
    pub client: reqwest::Client,
    /// The application's clock: tests move it forward instead of sleeping.
    pub clock: Clock,
}

/// Options for [`TestApp::spawn_with`].
#[derive(Default)]
pub struct Spawn {
    pub vars: Vec<(&'static str, String)>,
    pub extra: Option<ExtraRoutes>,
    /// Connect the app through this address instead of directly (fault injection).
    pub database_url: Option<String>,
    /// Use this existing database (a second instance) instead of a new one.
    pub database: Option<String>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Spawn::default()).await
    }

    pub async fn spawn_with(options: Spawn) -> Self {
        let database = match options.database {
            Some(name) => name,
            None => create_database().await,
        };
        let direct_url = url_for(&database);
        let app_url = options.database_url.as_ref().map_or_else(
            || direct_url.clone(),
            |url| {
                let mut url = url::Url::parse(url).expect("valid override URL");
                url.set_path(&format!("/{database}"));
                url.to_string()
            },
        );
        let mut vars = test_vars(&app_url);
        for (key, value) in options.vars {
            vars.insert(key.to_owned(), value);
        }
        let settings = Settings::from_map(&vars).expect("test settings are valid");
        pierre::telemetry::init_tracing(settings.environment, &settings.log_filter);
        let clock = Clock::system();
        let app = Application::build_with(
            settings,
            BuildOptions {
                extra_routes: options.extra,
                clock: clock.clone(),
            },
        )
        .await
        .expect("the application builds");
        let port = app.port();
        let metrics_port = app.metrics_port();
        tokio::spawn(app.run_until_stopped());
        let db = PgPool::connect(&direct_url)
            .await
            .expect("connect to the test database");
        let client = new_client();
        Self {
            address: format!("http://127.0.0.1:{port}"),
            metrics_address: format!("http://127.0.0.1:{metrics_port}"),
            port,
            database,
            db,
            client,
            clock,
        }
    }

    /// An app whose every database connection goes through a statement
    /// counter (see `pg_count`).
    pub async fn spawn_counting() -> (Self, crate::pg_count::QueryCounter) {
        let proxy = crate::pg_count::CountingProxy::start(server_addr()).await;
        let app = Self::spawn_with(Spawn {
            database_url: Some(proxy.url()),
            ..Spawn::default()
        })
        .await;
        (app, proxy.counter)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }

    /// The anti-forgery token this client's pages carry (the sign-in form,
    /// or the profile form once signed in).
    pub async fn csrf_token(&self, client: &reqwest::Client) -> String {
        for path in ["/login", "/settings/profile"] {
            let res = client.get(self.url(path)).send().await.expect("GET");
            if res.status() == 200 {
                let body = res.text().await.expect("body");
                return csrf_in(&body).expect("the page carries a csrf_token");
            }
        }
        panic!("no page with a csrf_token");
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.metrics_address))
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics body")
    }
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .expect("HTTP client")
}

/// The value of the first `csrf_token` field (or meta tag) in a page.
pub fn csrf_in(body: &str) -> Option<String> {
    let doc = html(body);
    let field = scraper::Selector::parse("input[name=csrf_token]").expect("selector");
    let meta = scraper::Selector::parse("meta[name=csrf-token]").expect("selector");
    doc.select(&field)
        .next()
        .and_then(|el| el.value().attr("value"))
        .or_else(|| {
            doc.select(&meta)
                .next()
                .and_then(|el| el.value().attr("content"))
        })
        .map(str::to_owned)
}

/// Parse an HTML body.
pub fn html(body: &str) -> scraper::Html {
    scraper::Html::parse_document(body)
}

/// Text of the first element matching `selector`, trimmed.
pub fn text_of(doc: &scraper::Html, selector: &str) -> Option<String> {
    let selector = scraper::Selector::parse(selector).expect("valid selector");
    doc.select(&selector)
        .next()
        .map(|el| el.text().collect::<String>().trim().to_owned())
}

/// A TCP forwarder between the app and PostgreSQL that a test can cut and
/// restore, to simulate the database going away and coming back without
/// stopping the shared test server.
pub struct FlakyProxy {
    pub addr: SocketAddr,
    upstream: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl FlakyProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let proxy = Self {
            addr,
            upstream,
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        };
        proxy.serve(listener).await;
        proxy
    }

    async fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let tasks = Arc::clone(&self.tasks);
        self.tasks.lock().await.spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let Ok(mut outbound) = TcpStream::connect(upstream).await else {
                    continue;
                };
                tasks.lock().await.spawn(async move {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
        });
    }

    /// The database "goes down": the listener closes and every open
    /// connection is dropped.
    pub async fn cut(&self) {
        self.tasks.lock().await.abort_all();
    }

    /// The database "comes back" on the same address.
    pub async fn restore(&self) {
        let socket = TcpSocket::new_v4().expect("socket");
        socket.set_reuseaddr(true).expect("reuseaddr");
        socket.bind(self.addr).expect("rebind proxy address");
        let listener = socket.listen(64).expect("listen");
        self.serve(listener).await;
    }
}

/// Host and port of the test PostgreSQL server.
pub fn server_addr() -> SocketAddr {
    let url = url::Url::parse(&server_url()).expect("URL");
    let host = url.host_str().unwrap_or("127.0.0.1");
    let host = if host == "localhost" {
        "127.0.0.1"
    } else {
        host
    };
    format!("{host}:{}", url.port().unwrap_or(5432))
        .parse()
        .expect("the test database host is an IP address")
}

/// Store `parsed` for `user` with `metrics` through the importer's insert (in
/// its own transaction, so the athlete's summary is maintained as on import);
/// the new activity's id.
pub async fn store_activity(
    app: &TestApp,
    user: uuid::Uuid,
    name: &str,
    parsed: &pierre::domain::ParsedActivity,
    metrics: Option<&pierre::analytics::summary::ActivityMetrics>,
) -> uuid::Uuid {
    use pierre::db::activities::{self, NewActivity, Source, Stored};
    let mut tx = app.db.begin().await.expect("begin");
    let stored = activities::insert(
        &mut tx,
        &NewActivity {
            user_id: user,
            source: Source::Upload,
            external_id: None,
            name,
            parsed,
            file_sha256: None,
            original: None,
            metrics,
        },
    )
    .await
    .expect("insert");
    tx.commit().await.expect("commit");
    match stored {
        Stored::Imported(id) => id,
        other => panic!("not imported: {other:?}"),
    }
}
