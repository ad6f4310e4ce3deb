//! The production Nginx config (`nginx/nginx.conf`), rendered with test paths
//! and free ports, run as a real Nginx in front of a real `TestApp`.
//!
//! Nginx starts in daemon mode: the `nginx` command returns once the listening
//! sockets are bound, so no test waits or polls for it. `Drop` stops it.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;

use actix_web::{HttpRequest, HttpResponse, web};
use pierre::web::headers::{
    CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY, STRICT_TRANSPORT_SECURITY,
};

use crate::support::{Spawn, TestApp};

const NGINX: &str = "/usr/sbin/nginx";
const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(REPO).join(path))
        .unwrap_or_else(|err| panic!("cannot read {path}: {err}"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .map(|line| line.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Substitute the `${NAME}` placeholders of `nginx/template-vars`, like
/// `envsubst "$(cat nginx/template-vars)"` does in `scripts/nginx-local`.
fn render(template: &str, values: &[(&str, String)]) -> String {
    let listed = repo_file("nginx/template-vars");
    let listed: Vec<&str> = listed.split_whitespace().collect();
    let mut out = template.to_owned();
    for (name, value) in values {
        let placeholder = format!("${{{name}}}");
        assert!(
            listed.contains(&placeholder.as_str()),
            "{placeholder} is not in nginx/template-vars"
        );
        out = out.replace(&placeholder, value);
    }
    for placeholder in listed {
        assert!(!out.contains(placeholder), "{placeholder} was not rendered");
    }
    out
}

/// A running Nginx with its own folder (config, certificate, logs, temp files).
struct Nginx {
    dir: PathBuf,
    https_port: u16,
    http_port: u16,
}

impl Nginx {
    /// Nginx in front of an app listening on `upstream_port`.
    fn start(upstream_port: u16) -> Self {
        assert!(
            Path::new(NGINX).exists(),
            "{NGINX} is missing: run ./test (it installs nginx and openssl), or apt-get install nginx"
        );
        let dir = std::env::temp_dir().join(format!("pierre-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        make_certificate(&dir);
        std::fs::copy(
            Path::new(REPO).join("nginx/security-headers.conf"),
            dir.join("security-headers.conf"),
        )
        .unwrap();
        // Free ports can be taken between the check and Nginx's bind: retry.
        let mut last_error = String::new();
        for _ in 0..5 {
            let nginx = Self {
                dir: dir.clone(),
                https_port: free_port(),
                http_port: free_port(),
            };
            nginx.write_config(upstream_port);
            let output = nginx.command().output().expect("nginx runs");
            if output.status.success() {
                return nginx;
            }
            last_error = String::from_utf8_lossy(&output.stderr).into_owned();
            std::mem::forget(nginx); // not running: nothing to stop, keep the folder
            if !last_error.contains("Address already in use") {
                break;
            }
        }
        panic!("nginx did not start:\n{last_error}");
    }

    fn config(&self, upstream_port: u16) -> String {
        let dir = self.dir.display();
        let user = if is_root() { "nobody nogroup" } else { "root" };
        render(
            &repo_file("nginx/nginx.conf"),
            &[
                ("PIERRE_SERVER_NAME", "localhost".into()),
                (
                    "PIERRE_PUBLIC_ORIGIN",
                    format!("https://localhost:{}", self.https_port),
                ),
                (
                    "PIERRE_HTTPS_LISTEN",
                    format!("127.0.0.1:{}", self.https_port),
                ),
                (
                    "PIERRE_HTTP_LISTEN",
                    format!("127.0.0.1:{}", self.http_port),
                ),
                ("PIERRE_TLS_CERT", format!("{dir}/cert.pem")),
                ("PIERRE_TLS_KEY", format!("{dir}/key.pem")),
                ("PIERRE_STATIC_ROOT", format!("{REPO}/static")),
                (
                    "PIERRE_UPSTREAM_SERVERS",
                    format!("server 127.0.0.1:{upstream_port} max_fails=3 fail_timeout=10s;"),
                ),
                ("NGINX_USER", user.into()),
                ("NGINX_STATE_DIR", dir.to_string()),
                ("NGINX_LOG_DIR", format!("{dir}/logs")),
            ],
        )
    }

    fn write_config(&self, upstream_port: u16) {
        std::fs::write(self.dir.join("nginx.conf"), self.config(upstream_port)).unwrap();
    }

    fn command(&self) -> Command {
        let mut command = Command::new(NGINX);
        command
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"))
            .arg("-e")
            .arg(self.dir.join("logs/error.log"));
        command
    }

    fn https(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.https_port)
    }

    fn http(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.http_port)
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("logs/access.log")).unwrap_or_default()
    }

    /// The access log once it contains every `needle`. Nginx writes a request's
    /// line just after sending the response, so the client can be a little
    /// ahead: poll, for at most 5 s.
    async fn access_log_with(&self, needles: &[String]) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let log = self.access_log();
            if needles.iter().all(|needle| log.contains(needle.as_str()))
                || std::time::Instant::now() > deadline
            {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.command().args(["-s", "stop"]).output();
        if std::thread::panicking() {
            eprintln!("nginx files kept for inspection in {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn make_certificate(dir: &Path) {
    let output = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(dir.join("key.pem"))
        .arg("-out")
        .arg(dir.join("cert.pem"))
        .output()
        .expect("openssl is installed (run ./test, or apt-get install openssl)");
    assert!(
        output.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A client for the self-signed Nginx: `localhost` is 127.0.0.1 (so TLS sends
/// the name Nginx expects), no redirects followed, no transparent decompression.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve("localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .redirect(reqwest::redirect::Policy::none())
        .no_gzip()
        .no_brotli()
        .no_proxy()
        .build()
        .unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header on {}", res.url()))
        .to_str()
        .unwrap()
}

/// The headers `src/web/headers.rs` promises, with exactly the app's values,
/// plus HSTS (sent exactly once: this is always behind TLS).
fn assert_security_headers(res: &reqwest::Response) {
    let h = res.headers();
    let what = res.url().path();
    assert_eq!(
        h["content-security-policy"], CONTENT_SECURITY_POLICY,
        "{what}"
    );
    assert_eq!(h["permissions-policy"], PERMISSIONS_POLICY, "{what}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert_eq!(
        h["referrer-policy"], "strict-origin-when-cross-origin",
        "{what}"
    );
    assert_eq!(h["x-frame-options"], "DENY", "{what}");
    assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{what}");
    assert_eq!(h["cross-origin-resource-policy"], "same-origin", "{what}");
    let hsts: Vec<_> = h.get_all("strict-transport-security").iter().collect();
    assert_eq!(hsts, [STRICT_TRANSPORT_SECURITY], "{what}: one HSTS header");
    assert!(h.contains_key("x-request-id"), "{what}");
}

fn is_nginx_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test]
async fn nginx_accepts_the_production_config() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    let output = nginx.command().arg("-t").output().unwrap();
    assert!(
        output.status.success(),
        "nginx -t: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The rendered file keeps the production directives the deployment relies on.
    let config = nginx.config(app.port);
    for directive in [
        "ssl_protocols TLSv1.2 TLSv1.3;",
        "ssl_prefer_server_ciphers off;",
        "ssl_session_tickets off;",
        "server_tokens off;",
        "keepalive 64;",
        "proxy_http_version 1.1;",
        "proxy_set_header Connection \"\";",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Request-Id $pierre_request_id;",
        "client_max_body_size 1g;",
    ] {
        assert!(config.contains(directive), "nginx.conf lacks {directive}");
    }
}

#[tokio::test]
async fn plain_http_is_redirected_to_the_same_path_over_https() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    let res = client()
        .get(nginx.http("/some/page?x=1&y=%20z"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(
        header(&res, "location"),
        nginx.https("/some/page?x=1&y=%20z")
    );
    // Following it lands on the app.
    let res = client().get(header(&res, "location")).send().await.unwrap();
    assert_eq!(res.status(), 404, "the app's own 404 page");
    assert!(!res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn https_reaches_the_app_with_one_hsts_header_and_the_apps_security_headers() {
    // The app itself also sends HSTS when its public URL is https: Nginx must
    // not double it.
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_PUBLIC_URL", "https://localhost".into())],
        ..Spawn::default()
    })
    .await;
    let nginx = Nginx::start(app.port);
    let client = client();
    for path in ["/", "/health/ready", "/missing"] {
        let res = client.get(nginx.https(path)).send().await.unwrap();
        assert_security_headers(&res);
        assert_eq!(
            header(&res, "server"),
            "nginx",
            "no version: server_tokens off"
        );
    }
    let res = client.get(nginx.https("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(header(&res, "content-type").starts_with("text/html"));
    let body = res.text().await.unwrap();
    assert!(body.contains(&pierre::web::assets::url("css/app.css")));
    // Without HSTS from the app (plain-HTTP public URL), Nginx still sends it.
    let plain = TestApp::spawn().await;
    let nginx = Nginx::start(plain.port);
    let res = client.get(nginx.https("/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_security_headers(&res);
}

#[tokio::test]
async fn request_ids_pass_through_nginx_or_are_made_by_it_and_logged() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    let client = client();

    let res = client
        .get(nginx.https("/"))
        .header("x-request-id", "client-chosen-id-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "x-request-id"), "client-chosen-id-42");

    // Absent: Nginx makes one (32 hex digits, unlike the app's UUIDs) and the
    // app adopts it, so both logs carry the same id.
    let res = client.get(nginx.https("/")).send().await.unwrap();
    let made = header(&res, "x-request-id").to_owned();
    assert!(is_nginx_request_id(&made), "{made}");

    // Unsafe ids are replaced, not echoed.
    let res = client
        .get(nginx.https("/"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    let replaced = header(&res, "x-request-id").to_owned();
    assert!(is_nginx_request_id(&replaced), "{replaced}");

    let expected: Vec<String> = ["client-chosen-id-42", made.as_str(), replaced.as_str()]
        .iter()
        .map(|id| format!("\"request_id\":\"{id}\""))
        .collect();
    let log = nginx.access_log_with(&expected).await;
    for id in ["client-chosen-id-42", made.as_str(), replaced.as_str()] {
        assert!(
            log.contains(&format!("\"request_id\":\"{id}\"")),
            "{id} not in {log}"
        );
    }
    assert!(log.contains("\"upstream_response_time\":\"0."), "{log}");
}

/// What the app sees of a request: mounted only in the test below.
fn forwarded_echo(cfg: &mut web::ServiceConfig) {
    async fn echo(req: HttpRequest) -> HttpResponse {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let client_ip = req
            .app_data::<web::Data<pierre::state::AppState>>()
            .and_then(|state| pierre::auth::client_ip(&req, &state.settings))
            .map(|ip| ip.to_string());
        let info = req.connection_info();
        HttpResponse::Ok().json(serde_json::json!({
            "x-forwarded-for": header("x-forwarded-for"),
            "x-forwarded-proto": header("x-forwarded-proto"),
            "x-forwarded-host": header("x-forwarded-host"),
            "forwarded": header("forwarded"),
            "x-request-id": header("x-request-id"),
            "connection": header("connection"),
            "version": format!("{:?}", req.version()),
            "scheme": info.scheme(),
            "host": info.host(),
            "client": info.realip_remote_addr(),
            "client_ip": client_ip,
        }))
    }
    cfg.service(web::resource("/_test/forwarded").route(web::get().to(echo)));
}

#[tokio::test]
async fn the_app_sees_the_client_address_scheme_and_host_from_nginx_not_from_the_client() {
    let app = TestApp::spawn_with(Spawn {
        extra: Some(forwarded_echo),
        vars: vec![("PIERRE_TRUSTED_PROXIES", "127.0.0.1".into())],
        ..Spawn::default()
    })
    .await;
    let nginx = Nginx::start(app.port);
    let seen: serde_json::Value = client()
        .get(nginx.https("/_test/forwarded"))
        .header("x-request-id", "trace-me-0001")
        // Spoofing attempts, all of which Nginx must replace or drop.
        .header("x-forwarded-for", "203.0.113.9")
        .header("forwarded", "for=203.0.113.9;proto=http;host=evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "http")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let expected_host = format!("localhost:{}", nginx.https_port);
    assert_eq!(seen["x-forwarded-for"], "127.0.0.1", "{seen}");
    assert_eq!(seen["x-forwarded-proto"], "https", "{seen}");
    assert_eq!(seen["x-forwarded-host"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["forwarded"], serde_json::Value::Null, "{seen}");
    assert_eq!(seen["x-request-id"], "trace-me-0001", "{seen}");
    assert_eq!(seen["scheme"], "https", "{seen}");
    assert_eq!(seen["host"], expected_host.as_str(), "{seen}");
    assert_eq!(seen["client"], "127.0.0.1", "{seen}");
    // The address the app rate-limits and audits by (Nginx is a trusted proxy).
    assert_eq!(seen["client_ip"], "127.0.0.1", "{seen}");
    // Keep-alive to the upstream: HTTP/1.1 and no "Connection: close".
    assert_eq!(seen["version"], "HTTP/1.1", "{seen}");
    assert_eq!(seen["connection"], serde_json::Value::Null, "{seen}");
}

#[tokio::test]
async fn static_files_are_served_by_nginx_even_with_no_app_running() {
    // Nothing listens on the upstream port: whatever answers is Nginx alone.
    let nginx = Nginx::start(free_port());
    let client = client();

    let css = pierre::web::assets::url("css/app.css");
    let res = client.get(nginx.https(&css)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/css; charset=utf-8");
    let cache: Vec<_> = res.headers().get_all("cache-control").iter().collect();
    assert_eq!(cache, ["public, max-age=31536000, immutable"]);
    assert_security_headers(&res);
    let body = res.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        pierre::web::assets::get("css/app.css").unwrap().raw
    );

    // Text is compressed for clients that accept it.
    let js = pierre::web::assets::url("vendor/htmx/htmx-2.0.11.min.js");
    let res = client
        .get(nginx.https(&js))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert_eq!(header(&res, "vary"), "Accept-Encoding");
    assert!(header(&res, "cache-control").contains("immutable"));
    let raw_len = pierre::web::assets::get("vendor/htmx/htmx-2.0.11.min.js")
        .unwrap()
        .raw
        .len();
    assert!(res.bytes().await.unwrap().len() < raw_len / 2);

    // Pages need the app: Nginx answers with its own 503 page, headers included.
    let res = client.get(nginx.https("/")).send().await.unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(header(&res, "retry-after"), "5");
    assert_security_headers(&res);
    let id = header(&res, "x-request-id").to_owned();
    assert!(
        res.text().await.unwrap().contains(&id),
        "the page shows its request id"
    );
}

#[tokio::test]
async fn static_urls_cannot_reach_files_outside_the_static_folder() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    let client = client();
    let hash = pierre::web::assets::get("css/app.css")
        .unwrap()
        .hash
        .clone();
    let mut tried = String::new();
    for trick in [
        "../../Cargo.toml",
        "..%2f..%2fCargo.toml",
        "%2e%2e/%2e%2e/Cargo.toml",
        "css/../../Cargo.toml",
        "..%252f..%252fCargo.toml",
        "%2fetc%2fpasswd",
    ] {
        let res = client
            .get(nginx.https(&format!("/static/{hash}/{trick}")))
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        let _ = writeln!(tried, "{trick}: {status}");
        assert!(!body.contains("[package]"), "{trick} leaked Cargo.toml");
        assert!(!body.contains("root:x:0:0"), "{trick} leaked /etc/passwd");
        assert_ne!(status, 200, "{trick}");
    }
    // A file that is not on disk falls back to the app (its 404 page).
    let res = client
        .get(nginx.https(&format!("/static/{hash}/css/missing.css")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "{tried}");
}

#[tokio::test]
async fn unknown_host_names_never_reach_the_app() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    // A known TLS name but another Host header: Nginx closes without answering.
    let res = client()
        .get(nginx.https("/"))
        .header("host", "evil.example")
        .send()
        .await;
    assert!(res.is_err(), "{res:?}");
    // No TLS name at all (an IP address): the handshake is refused.
    let res = client()
        .get(format!("https://127.0.0.1:{}/", nginx.https_port))
        .send()
        .await;
    assert!(res.is_err(), "{res:?}");
    // Plain HTTP with another Host: no redirect to anywhere.
    let res = client()
        .get(nginx.http("/"))
        .header("host", "evil.example")
        .send()
        .await;
    assert!(res.is_err(), "{res:?}");
}

#[tokio::test]
async fn bodies_over_2_mib_are_refused_except_on_the_upload_route() {
    let app = TestApp::spawn().await;
    let nginx = Nginx::start(app.port);
    let client = client();
    let big = vec![b'a'; 3 * 1024 * 1024];
    let res = client
        .post(nginx.https("/theme"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);
    assert_security_headers(&res);
    // The upload route lets it through: the app answers on its own terms (no
    // upload handler yet, and no anti-forgery token here), not Nginx's 413.
    let res = client
        .post(nginx.https("/activities/upload"))
        .header("content-type", "application/octet-stream")
        .body(big)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert!(matches!(status, 403 | 404), "{status}");
    assert!(!res.text().await.unwrap().contains("That is too large"));
}
