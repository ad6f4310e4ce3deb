//! Every error status renders the styled page (or an htmx fragment) with the
//! request id and nothing internal.

use actix_web::web;
use pierre::error::AppError;
use pierre::state::AppState;

use crate::support::{Spawn, TestApp, html, text_of};

/// Routes mounted only in these tests, to trigger errors no production route
/// produces on demand.
pub fn error_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/__test/internal").route(web::get().to(internal)))
        .service(web::resource("/__test/sql").route(web::get().to(bad_sql)))
        .service(web::resource("/__test/unprocessable").route(web::get().to(unprocessable)))
        .service(web::resource("/__test/db").route(web::get().to(db_page)))
        .service(web::resource("/__test/lock").route(web::get().to(hold_lock)));
}

async fn internal() -> Result<web::Html, AppError> {
    Err(AppError::internal(anyhow::anyhow!(
        "secret internal detail: password=hunter2 at /srv/pierre/src/x.rs"
    )))
}

async fn bad_sql(state: web::Data<AppState>) -> Result<web::Html, AppError> {
    let mut conn = state.db.conn().await?;
    let result = sqlx::query("SELECT * FROM table_that_does_not_exist")
        .execute(&mut *conn)
        .await;
    conn.check(result)?;
    Ok(web::Html::new("unreachable"))
}

async fn unprocessable() -> Result<web::Html, AppError> {
    Err(AppError::Unprocessable(
        "The date must be in the past.".to_owned(),
    ))
}

/// A page that needs the database.
async fn db_page(state: web::Data<AppState>) -> Result<web::Html, AppError> {
    let mut conn = state.db.conn().await?;
    let result: Result<i32, _> = sqlx::query_scalar("SELECT 41 + 1")
        .fetch_one(&mut *conn)
        .await;
    let value = conn.check(result)?;
    Ok(web::Html::new(format!("<p id=value>{value}</p>")))
}

/// Holds this worker's connection until the test releases advisory lock 42.
async fn hold_lock(state: web::Data<AppState>) -> Result<web::Html, AppError> {
    let mut conn = state.db.conn().await?;
    let result = sqlx::query("SELECT pg_advisory_lock(42), pg_advisory_unlock(42)")
        .execute(&mut *conn)
        .await;
    conn.check(result)?;
    Ok(web::Html::new("released"))
}

pub async fn spawn_with_error_routes() -> TestApp {
    TestApp::spawn_with(Spawn {
        extra: Some(error_routes),
        ..Spawn::default()
    })
    .await
}

async fn assert_error_page(res: reqwest::Response, status: u16) -> scraper::Html {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    let doc = html(&body);
    let shown_id = text_of(&doc, ".error-request-id code").expect("the page shows the request id");
    assert_eq!(shown_id, request_id);
    assert_eq!(
        text_of(&doc, "[data-status]").map(|_| ()),
        Some(()),
        "status section present"
    );
    assert!(text_of(&doc, "h1").is_some_and(|t| !t.is_empty()));
    assert!(body.contains("<html"), "a full page, not a fragment");
    doc
}

#[tokio::test]
async fn unknown_paths_get_the_404_page() {
    let app = TestApp::spawn().await;
    let doc = assert_error_page(app.get("/no/such/page").await, 404).await;
    assert_eq!(text_of(&doc, "h1").unwrap(), "Page not found");
}

#[tokio::test]
async fn a_wrong_method_gets_the_405_page() {
    let app = TestApp::spawn().await;
    let token = app.csrf_token(&app.client).await;
    let res = app
        .client
        .delete(app.url("/health/live"))
        .header("X-CSRF-Token", token)
        .send()
        .await
        .unwrap();
    assert_error_page(res, 405).await;
}

#[tokio::test]
async fn an_oversized_body_gets_the_413_page() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(2 * 1024 * 1024);
    let res = app
        .client
        .post(app.url("/theme"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("theme={huge}"))
        .send()
        .await
        .unwrap();
    assert_error_page(res, 413).await;
}

#[tokio::test]
async fn invalid_input_gets_the_422_page_with_the_specific_message() {
    let app = spawn_with_error_routes().await;
    let doc = assert_error_page(app.get("/__test/unprocessable").await, 422).await;
    assert_eq!(
        text_of(&doc, ".error-message").unwrap(),
        "The date must be in the past."
    );

    let token = app.csrf_token(&app.client).await;
    let res = app
        .client
        .post(app.url("/theme"))
        .form(&[
            ("theme", "<script>alert(1)</script>"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    let doc = assert_error_page(res, 422).await;
    assert_eq!(
        text_of(&doc, ".error-message").unwrap(),
        "Choose a theme: light, dark or system."
    );
}

#[tokio::test]
async fn internal_errors_get_the_500_page_and_leak_nothing() {
    let app = spawn_with_error_routes().await;
    for path in ["/__test/internal", "/__test/sql"] {
        let res = app.get(path).await;
        let body_status = res.status();
        let doc = assert_error_page(res, 500).await;
        let text = doc.root_element().text().collect::<String>();
        for secret in [
            "hunter2",
            "/srv/pierre",
            "table_that_does_not_exist",
            "sqlx",
            "relation",
        ] {
            assert!(
                !text.contains(secret),
                "{path} ({body_status}) leaked {secret:?}"
            );
        }
    }
}

#[tokio::test]
async fn htmx_requests_get_a_fragment_not_a_page() {
    let app = spawn_with_error_routes().await;
    for (path, status) in [
        ("/missing", 404),
        ("/__test/unprocessable", 422),
        ("/__test/internal", 500),
    ] {
        let res = app
            .client
            .get(app.url(path))
            .header("HX-Request", "true")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status);
        let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("<html"),
            "{path}: fragment expected, got a page"
        );
        assert!(
            body.contains(&request_id),
            "{path}: the fragment shows the request id"
        );
        assert!(body.contains(&format!("data-status=\"{status}\"")));
    }
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_echoed_and_a_hostile_one_replaced() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/missing"))
        .header("X-Request-Id", "client-abc-12345")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-abc-12345");
    let body = res.text().await.unwrap();
    assert!(body.contains("client-abc-12345"));

    let res = app
        .client
        .get(app.url("/missing"))
        .header("X-Request-Id", "<script>x</script>")
        .send()
        .await
        .unwrap();
    let echoed = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(echoed, "<script>x</script>");
    assert!(uuid::Uuid::parse_str(&echoed).is_ok());
    assert!(!res.text().await.unwrap().contains("<script>x"));
}
