//! Security headers on every kind of response: pages, errors, static files, JSON.

use crate::support::TestApp;

fn assert_security_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP"))
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert!(h.contains_key("referrer-policy"), "{what}");
    assert!(h.contains_key("permissions-policy"), "{what}");
    assert!(h.contains_key("x-request-id"), "{what}");
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let landing = app.get("/").await;
    assert_security_headers(&landing, "page");
    let body = landing.text().await.unwrap();
    let css = body
        .split('"')
        .find(|part| part.starts_with("/static/") && part.ends_with("app.css"))
        .expect("the page links its stylesheet")
        .to_owned();
    assert_security_headers(&app.get(&css).await, "static file");
    assert_security_headers(&app.get("/missing").await, "404 page");
    assert_security_headers(&app.get("/health/ready").await, "JSON");
    let token = app.csrf_token(&app.client).await;
    let res = app
        .client
        .put(app.url("/"))
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    assert_security_headers(&res, "405 page");
    // Plain HTTP: no HSTS.
    assert!(
        !app.get("/")
            .await
            .headers()
            .contains_key("strict-transport-security")
    );
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let app = TestApp::spawn_with(crate::support::Spawn {
        vars: vec![("PIERRE_PUBLIC_URL", "https://pierre.example.org".into())],
        ..Default::default()
    })
    .await;
    for path in ["/", "/missing", "/health/live"] {
        let res = app.get(path).await;
        let hsts = res.headers()["strict-transport-security"].to_str().unwrap();
        assert!(hsts.contains("max-age=31536000"), "{path}: {hsts}");
        assert!(hsts.contains("includeSubDomains"), "{path}: {hsts}");
    }
}

#[tokio::test]
async fn html_is_compressed_for_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    let raw = reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap();
    for path in ["/", "/missing"] {
        let res = raw
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["content-encoding"], "gzip", "{path}");
    }
}
