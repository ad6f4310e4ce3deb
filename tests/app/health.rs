use crate::support::TestApp;

#[tokio::test]
async fn liveness_answers_while_the_process_is_up() {
    let app = TestApp::spawn().await;
    let res = app.get("/health/live").await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "live");
}

#[tokio::test]
async fn readiness_reports_database_and_migrations() {
    let app = TestApp::spawn().await;
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "applied");
}

#[tokio::test]
async fn readiness_is_503_when_a_migration_is_missing() {
    let app = TestApp::spawn().await;
    let latest = pierre::db::latest_migration().unwrap();
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(latest)
        .execute(&app.db)
        .await
        .unwrap();
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["migrations"], "pending");
}

#[tokio::test]
async fn migrations_are_not_applied_when_disabled_and_readiness_says_so() {
    let app = crate::support::TestApp::spawn_with(crate::support::Spawn {
        vars: vec![("PIERRE_MIGRATE_ON_START", "false".into())],
        ..Default::default()
    })
    .await;
    let res = app.get("/health/ready").await;
    assert_eq!(res.status(), 503);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["migrations"], "pending");
}
