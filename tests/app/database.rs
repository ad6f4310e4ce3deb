//! When PostgreSQL is down or the pool is exhausted, requests get a 503 with
//! `Retry-After` (no hang, no 500), and the server recovers by itself.

use crate::errors::error_routes;
use crate::support::{FlakyProxy, Spawn, TestApp, server_addr};

async fn spawn_behind_proxy() -> (TestApp, FlakyProxy) {
    let proxy = FlakyProxy::start(server_addr()).await;
    let mut url = url::Url::parse(&crate::support::server_url()).unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.addr.port())).unwrap();
    let app = TestApp::spawn_with(Spawn {
        extra: Some(error_routes),
        database_url: Some(url.to_string()),
        ..Spawn::default()
    })
    .await;
    (app, proxy)
}

#[tokio::test]
async fn database_down_gives_503_pages_then_recovers_without_restart() {
    let (app, proxy) = spawn_behind_proxy().await;
    assert_eq!(app.get("/__test/db").await.status(), 200);
    assert_eq!(app.get("/health/ready").await.status(), 200);

    proxy.cut().await;

    // An HTML page that needs the database.
    let res = app.get("/__test/db").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let body = res.text().await.unwrap();
    assert!(body.contains("Temporarily unavailable"), "{body}");
    // And again, now that the pool holds no connection at all.
    let res = app.get("/__test/db").await;
    assert_eq!(res.status(), 503);
    // Readiness says why, as JSON.
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "unreachable");
    // Pages that do not need the database still work.
    assert_eq!(app.get("/").await.status(), 200);
    assert_eq!(app.get("/health/live").await.status(), 200);

    proxy.restore().await;

    // A connection broken during the outage may fail one more request; after
    // that every request must succeed. Bounded, no sleeping.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(app.get("/__test/db").await.status().as_u16());
    }
    assert_eq!(statuses.last(), Some(&200), "recovered: {statuses:?}");
    assert!(
        statuses.iter().filter(|s| **s != 200).count() <= 1,
        "{statuses:?}"
    );
    assert_eq!(app.get("/health/ready").await.status(), 200);
}

#[tokio::test]
async fn an_exhausted_pool_gives_503_within_the_acquire_timeout_then_recovers() {
    // One worker with exactly one connection (4 total = 3 background + 1).
    let app = TestApp::spawn_with(Spawn {
        extra: Some(error_routes),
        vars: vec![("DATABASE_MAX_CONNECTIONS", "4".into())],
        ..Spawn::default()
    })
    .await;
    assert_eq!(app.get("/__test/db").await.status(), 200);

    // The test takes advisory lock 42, so /__test/lock blocks while holding
    // the worker's only connection.
    let mut holder = app.db.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(42)")
        .execute(&mut *holder)
        .await
        .unwrap();
    let blocked = tokio::spawn({
        let client = app.client.clone();
        let url = app.url("/__test/lock");
        async move { client.get(url).send().await.unwrap().status() }
    });
    // Wait until the blocked request really holds the connection (it shows
    // up in pg_locks as waiting), polling the database rather than sleeping.
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        if waiting > 0 {
            break;
        }
        tokio::task::yield_now().await;
    }

    let res = app.get("/__test/db").await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("pierre_db_pool_max_connections 4"),
        "{metrics}"
    );

    sqlx::query("SELECT pg_advisory_unlock(42)")
        .execute(&mut *holder)
        .await
        .unwrap();
    assert_eq!(blocked.await.unwrap(), 200);
    assert_eq!(app.get("/__test/db").await.status(), 200);
}
