//! `pierre admin create|grant|revoke`, run as the real binary against a test
//! database: what they change, what they audit, how they refuse.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use pierre::db::users::{self, Created};
use uuid::Uuid;

use crate::support::{TestApp, create_database, csrf_in, new_client, url_for};

const PASSWORD: &str = "correct horse battery staple";

/// The binary with a clean environment pointed at `database_url`.
fn pierre(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pierre"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("DATABASE_ACQUIRE_TIMEOUT_SECS", "2")
        .env("RUST_LOG", "warn");
    cmd
}

/// Run with `stdin` piped in (`None`: an empty, non-terminal stdin).
fn run(mut cmd: Command, stdin: Option<&str>) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut pipe = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            // The command may rightly exit before reading (a refusal): ignore EPIPE.
            let _ = pipe.write_all(text.as_bytes());
        }
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Exit status `code` and exactly one `error: …` line containing `needle`.
fn assert_fails(out: &Output, code: i32, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(needle), "{needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

fn database_url(app: &TestApp) -> String {
    url_for(&app.database)
}

async fn roles_of(app: &TestApp, email: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT r.role FROM user_roles r JOIN users u ON u.id = r.user_id
         WHERE u.email_normalized = lower($1) ORDER BY r.role",
    )
    .bind(email)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

async fn audit_of(
    app: &TestApp,
    event_type: &str,
) -> Vec<(Option<Uuid>, Option<Uuid>, serde_json::Value)> {
    sqlx::query_as(
        "SELECT actor_user_id, subject_user_id, details FROM audit_events WHERE event_type = $1 ORDER BY id",
    )
    .bind(event_type)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn admin_create_makes_an_admin_who_can_sign_in_and_is_audited() {
    let app = TestApp::spawn().await;
    let mut cmd = pierre(&database_url(&app));
    cmd.args([
        "admin",
        "create",
        "--email",
        "Boss@Example.org",
        "--display-name",
        "The Boss",
    ]);
    let out = run(cmd, Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        "Created administrator Boss@Example.org (roles athlete, admin). They can sign in now."
    );
    assert_eq!(
        roles_of(&app, "boss@example.org").await,
        ["admin", "athlete"]
    );
    let (name,): (String,) = sqlx::query_as("SELECT display_name FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(name, "The Boss");
    let audited = audit_of(&app, "admin_created").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0].0, None, "no actor: the command line");
    assert!(audited[0].1.is_some());
    assert_eq!(audited[0].2["via"], "cli");

    // The new admin signs in with that password and reaches the admin pages.
    let client = new_client();
    let body = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&body).unwrap();
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("email", "boss@example.org"),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::SEE_OTHER);
    let res = client.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
}

#[tokio::test]
async fn admin_create_defaults_the_name_and_accepts_a_crlf_line() {
    let app = TestApp::spawn().await;
    let mut cmd = pierre(&database_url(&app));
    cmd.args(["admin", "create", "--email", "ops.lead@example.org"]);
    let out = run(cmd, Some(&format!("{PASSWORD}\r\n")));
    assert!(out.status.success(), "{}", stderr(&out));
    let (name, hash): (String, String) =
        sqlx::query_as("SELECT display_name, password_hash FROM users")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(name, "ops.lead");
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test]
async fn admin_create_refuses_weak_passwords_taken_emails_and_bad_input() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let create = |email: &str| {
        let mut cmd = pierre(&url);
        cmd.args(["admin", "create", "--email", email]);
        cmd
    };
    let out = run(create("a@example.org"), Some("password\n"));
    assert_fails(&out, 1, "password refused: Choose a less common password");
    let out = run(create("a@example.org"), Some("short\n"));
    assert_fails(&out, 1, "at least 8 characters");
    let out = run(create("a@example.org"), None);
    assert_fails(&out, 1, "no password on standard input");
    let out = run(create("a@example.org"), Some(&"x".repeat(2000)));
    assert_fails(&out, 1, "at most 256 characters");
    let out = run(create("not-an-email"), Some(&format!("{PASSWORD}\n")));
    assert_fails(&out, 2, "--email: Enter an email address");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was created");

    // An existing email is refused with the command that does what was meant.
    let mut conn = app.db.acquire().await.unwrap();
    let created = users::create(&mut conn, "taken@example.org", "T", "x", &["athlete"])
        .await
        .unwrap();
    assert!(matches!(created, Created::Yes(_)));
    let out = run(create("TAKEN@example.org"), Some(&format!("{PASSWORD}\n")));
    assert_fails(
        &out,
        1,
        "pierre admin grant --email TAKEN@example.org --role admin",
    );
    assert_eq!(roles_of(&app, "taken@example.org").await, ["athlete"]);
    assert!(audit_of(&app, "admin_created").await.is_empty());
}

#[tokio::test]
async fn admin_grant_and_revoke_change_roles_and_are_audited() {
    let app = TestApp::spawn().await;
    let url = database_url(&app);
    let mut conn = app.db.acquire().await.unwrap();
    let Created::Yes(id) = users::create(&mut conn, "coach@example.org", "C", "x", &["athlete"])
        .await
        .unwrap()
    else {
        panic!("created")
    };
    drop(conn);
    let role = |verb: &str, email: &str, role: &str| {
        let mut cmd = pierre(&url);
        cmd.args(["admin", verb, "--email", email, "--role", role]);
        run(cmd, None)
    };

    let out = role("grant", "Coach@Example.org", "coach");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).trim_end(),
        "Granted the role coach to Coach@Example.org."
    );
    assert_eq!(
        roles_of(&app, "coach@example.org").await,
        ["athlete", "coach"]
    );
    let out = role("grant", "coach@example.org", "COACH");
    assert!(out.status.success());
    assert!(stdout(&out).contains("already has the role coach; nothing changed"));

    let out = role("revoke", "coach@example.org", "athlete");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("takes effect on their next request"));
    assert_eq!(roles_of(&app, "coach@example.org").await, ["coach"]);
    let out = role("revoke", "coach@example.org", "athlete");
    assert!(stdout(&out).contains("does not have the role athlete; nothing changed"));

    let granted = audit_of(&app, "role_granted").await;
    let revoked = audit_of(&app, "role_revoked").await;
    assert_eq!(granted.len(), 1, "no-ops are not audited");
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        granted[0],
        (
            None,
            Some(id),
            serde_json::json!({"via": "cli", "role": "coach"})
        )
    );
    assert_eq!(
        revoked[0],
        (
            None,
            Some(id),
            serde_json::json!({"via": "cli", "role": "athlete"})
        )
    );

    assert_fails(
        &role("grant", "coach@example.org", "root"),
        2,
        "unknown role \"root\": expected athlete, coach or admin",
    );
    assert_fails(
        &role("grant", "nobody@example.org", "admin"),
        1,
        "no user has the email nobody@example.org",
    );
}

#[tokio::test]
async fn admin_commands_fail_clearly_without_a_usable_database() {
    // Unreachable: exit 3, one line, the password in the URL never shown.
    let mut cmd = pierre("postgres://pierre:s3cret-pw@127.0.0.1:1/pierre");
    cmd.args([
        "admin",
        "grant",
        "--email",
        "a@example.org",
        "--role",
        "admin",
    ]);
    let out = run(cmd, None);
    assert_fails(&out, 3, "the database cannot be reached");
    assert!(!stderr(&out).contains("s3cret-pw"));
    assert!(!stdout(&out).contains("s3cret-pw"));

    // Reachable but not migrated: says what to run.
    let database = create_database().await;
    let mut cmd = pierre(&url_for(&database));
    cmd.args(["admin", "create", "--email", "a@example.org"]);
    let out = run(cmd, Some(&format!("{PASSWORD}\n")));
    assert_fails(&out, 3, "run `pierre migrate` first");
}

#[test]
fn admin_help_lists_its_commands() {
    let out = pierre("postgres://u@127.0.0.1:1/x")
        .args(["admin", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    for sub in ["create", "grant", "revoke"] {
        assert!(help.contains(sub), "{help}");
    }
}
