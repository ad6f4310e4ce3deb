//! Static files: content-hashed URLs, long-lived caching, precompressed.

use crate::support::TestApp;

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_precompressed() {
    let app = TestApp::spawn().await;
    let url = pierre::web::assets::url("css/app.css");
    let hash = url.split('/').nth(2).unwrap();
    assert_eq!(hash.len(), 12, "{url}");
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let res = raw
        .get(app.url(&url))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(res.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(res.headers()["content-encoding"], "gzip");

    // A stale hash still serves the file, but not as immutable.
    let res = app.get("/static/000000000000/css/app.css").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-cache");
    // Unknown files and path tricks are 404 pages.
    assert_eq!(
        app.get(&format!("/static/{hash}/nope.css")).await.status(),
        404
    );
    assert_eq!(
        app.get(&format!("/static/{hash}/../Cargo.toml"))
            .await
            .status(),
        404
    );
    assert_eq!(
        app.get(&format!("/static/{hash}/%2e%2e/Cargo.toml"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn vendored_htmx_is_served_with_its_licence_alongside() {
    assert!(pierre::web::assets::get("vendor/htmx/htmx-2.0.11.min.js").is_some());
    assert!(pierre::web::assets::get("vendor/htmx/LICENSE").is_some());
}
