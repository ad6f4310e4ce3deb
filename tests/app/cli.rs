//! The `pierre` binary: configuration errors, --help, --version, migrate, and
//! that secrets never reach its output.

use std::process::Command;

use base64::Engine as _;

fn pierre() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pierre"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd
}

#[test]
fn help_and_version_work_without_configuration() {
    let out = pierre().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for sub in ["serve", "migrate"] {
        assert!(help.contains(sub), "{help}");
    }
    let out = pierre().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .starts_with("pierre ")
    );
}

#[test]
fn configuration_errors_exit_2_with_one_line_naming_the_variable() {
    let db = "postgres://u@127.0.0.1:1/x";
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "DATABASE_URL"),
        (&[("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("DATABASE_URL", db), ("HTTP_PORT", "http")], "HTTP_PORT"),
        (
            &[("DATABASE_URL", db), ("DATABASE_MAX_CONNECTIONS", "lots")],
            "DATABASE_MAX_CONNECTIONS",
        ),
        (
            &[("DATABASE_URL", db), ("PIERRE_ENV", "production")],
            "PIERRE_SECRET_KEY",
        ),
        (
            &[("DATABASE_URL", db), ("PIERRE_SECRET_KEY", "dG9vIHNob3J0")],
            "PIERRE_SECRET_KEY",
        ),
        (
            &[("DATABASE_URL", db), ("METRICS_ADDR", "nowhere")],
            "METRICS_ADDR",
        ),
        (
            &[("DATABASE_URL", db), ("PIERRE_TRUSTED_PROXIES", "a.b.c.d")],
            "PIERRE_TRUSTED_PROXIES",
        ),
    ];
    for (vars, var) in cases {
        let mut cmd = pierre();
        cmd.arg("serve");
        for (k, v) in *vars {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{var}: one line expected: {stderr}"
        );
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!stderr.contains("backtrace"), "{stderr}");
    }
}

#[test]
fn a_bad_database_url_never_echoes_its_password() {
    let out = pierre()
        .arg("serve")
        .env("DATABASE_URL", "mysql://user:sup3rs3cret@db/pierre")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("sup3rs3cret"));
}

#[tokio::test]
async fn migrate_applies_migrations_and_logs_no_secret() {
    let database = crate::support::create_database().await;
    let mut url = url::Url::parse(&crate::support::url_for(&database)).unwrap();
    // The test server trusts local connections, so any password is accepted:
    // this one must never appear in the output.
    url.set_password(Some("pw-not-to-be-logged")).unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32]);
    let out = pierre()
        .arg("migrate")
        .env("DATABASE_URL", url.as_str())
        .env("PIERRE_SECRET_KEY", &key)
        .env("RUST_LOG", "trace")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(all.contains("migrations applied"), "{all}");
    assert!(
        !all.contains("pw-not-to-be-logged"),
        "password leaked: {all}"
    );
    assert!(!all.contains(&key), "secret key leaked");
    let pool = sqlx::PgPool::connect(&crate::support::url_for(&database))
        .await
        .unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        applied,
        i64::try_from(pierre::db::MIGRATOR.iter().count()).unwrap()
    );
}

#[tokio::test]
async fn seed_bulk_stores_athletes_activities_and_summaries_once() {
    let database = crate::support::create_database().await;
    let url = crate::support::url_for(&database);
    let run = |args: &[&str]| {
        let out = pierre()
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    run(&["migrate"]);
    let bulk = [
        "seed-bulk",
        "--athletes",
        "5",
        "--days",
        "60",
        "--seed",
        "7",
    ];
    let first = run(&bulk);
    assert!(first.contains("bulk athletes created: 5"), "{first}");

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let first_day = chrono::Utc::now().date_naive() - chrono::TimeDelta::days(60);
    let expected: usize = (0..5)
        .map(|a| pierre::synthetic::athlete_summaries(a, first_day, 60, 7).count())
        .sum();
    let count = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        count("SELECT count(*) FROM users WHERE email LIKE 'athlete%@bulk.pierre.local'").await,
        5
    );
    assert_eq!(
        count("SELECT count(*) FROM user_roles WHERE role = 'athlete'").await,
        5
    );
    let activities = count("SELECT count(*) FROM activities").await;
    assert_eq!(activities, i64::try_from(expected).unwrap());
    assert!(activities > 100, "{activities}");
    assert!(
        first.contains(&format!("with {activities} activities")),
        "{first}"
    );
    let with_thresholds = (0..5)
        .filter(|&a| pierre::synthetic::bulk_athlete(a, 7).0.thresholds_known)
        .count();
    assert_eq!(
        count("SELECT count(*) FROM athlete_thresholds").await,
        i64::try_from(with_thresholds * 4).unwrap()
    );
    // Derived columns: power curves only on rides with power, efforts only on runs.
    assert_eq!(
        count(
            "SELECT count(*) FROM activities WHERE (power_curve IS NOT NULL) <> (load_source = 'power')
                 OR (best_efforts IS NOT NULL) <> (sport = 'running')
                 OR load <= 0 OR intensity_factor IS NULL OR local_day IS NULL
                 OR cardinality(power_curve) <> 30 OR cardinality(best_efforts) <> 7"
        )
        .await,
        0
    );

    // The stored summaries are what a rebuild from the activities gives.
    let users: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT id FROM users ORDER BY email")
        .fetch_all(&pool)
        .await
        .unwrap();
    let mut conn = pool.acquire().await.unwrap();
    for user in users {
        let stored = pierre::db::summaries::get(&mut conn, user, pierre::db::summaries::Scope::All)
            .await
            .unwrap();
        assert!(stored.is_some(), "every athlete trained in 60 days");
        pierre::db::summaries::rebuild(&mut conn, user)
            .await
            .unwrap();
        let rebuilt =
            pierre::db::summaries::get(&mut conn, user, pierre::db::summaries::Scope::All)
                .await
                .unwrap();
        assert_eq!(stored, rebuilt, "summary of {user}");
    }
    drop(conn);

    // Idempotent: a second run adds nothing.
    let second = run(&bulk);
    assert!(second.contains("already present"), "{second}");
    assert_eq!(count("SELECT count(*) FROM activities").await, activities);
    assert_eq!(count("SELECT count(*) FROM users").await, 5);
    assert_eq!(
        count("SELECT count(*) FROM athlete_summaries WHERE scope = 'all'").await,
        5
    );
    assert_eq!(
        count("SELECT count(*) FROM athlete_summaries WHERE scope = 'coach'").await,
        5,
        "seeded uploads are visible to coaches"
    );
}
