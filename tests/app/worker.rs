//! `pierre worker`: the job worker as its own process, and `PIERRE_WORKER=off`
//! leaving jobs to it.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::accounts::create_user;
use crate::support::{Spawn, TestApp, url_for};

#[tokio::test]
async fn pierre_worker_runs_queued_jobs_and_stops_cleanly_on_sigterm() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_WORKER", "off".to_owned())],
        ..Spawn::default()
    })
    .await;
    let rider = create_user(&app, "rider@example.org", &["athlete"]).await;
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, user_id, payload) VALUES ('recompute_metrics', $1, '{\"from\": \"2026-01-01\"}') RETURNING id",
    )
    .bind(rider)
    .fetch_one(&app.db)
    .await
    .unwrap();
    // The server's own worker is off: the job stays queued.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(state, "queued");

    let mut child = Command::new(env!("CARGO_BIN_EXE_pierre"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url_for(&app.database))
        .env("METRICS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let (state, attempts) = loop {
        let row: (String, i32) = sqlx::query_as("SELECT state, attempts FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
        if row.0 == "done" || started.elapsed() > Duration::from_secs(30) {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!((state.as_str(), attempts), ("done", 1));

    // SIGTERM: the worker stops promptly with status 0.
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = Instant::now();
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "the worker did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let output = child.wait_with_output().unwrap();
    assert!(
        exit.success(),
        "{exit:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_released_job_goes_back_to_the_queue_with_its_attempt_not_counted() {
    let app = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_WORKER", "off".to_owned())],
        ..Spawn::default()
    })
    .await;
    let job: i64 = sqlx::query_scalar(
        "INSERT INTO jobs (kind, state, attempts, locked_until, run_at)
         VALUES ('sync_poll', 'running', 2, now() + interval '5 minutes', now() - interval '1 minute') RETURNING id",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let mut conn = app.db.acquire().await.unwrap();
    pierre::db::jobs::release(&mut conn, job).await.unwrap();
    let (state, attempts, locked): (String, i32, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as("SELECT state, attempts, locked_until FROM jobs WHERE id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts, locked), ("queued", 1, None));
    // A job that is no longer running is left alone.
    sqlx::query("UPDATE jobs SET state = 'done' WHERE id = $1")
        .bind(job)
        .execute(&app.db)
        .await
        .unwrap();
    pierre::db::jobs::release(&mut conn, job).await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = $1")
        .bind(job)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(state, "done");
}
