//! Admin OAuth apps: write-only sealed secrets, validation, audit, access,
//! and `pierre keys rotate` through the real binary.

use std::process::Command;

use base64::Engine as _;
use pierre::crypto::{Aad, DataKeys, Sealed};
use secrecy::{ExposeSecret as _, SecretString};

use crate::accounts::signed_in;
use crate::support::{Spawn, TestApp, csrf_in, html, text_of};

const SECRET: &str = "strava-client-secret-4f1c9e";
const VERIFY: &str = "verify-token-77aa";

fn key(byte: u8) -> String {
    base64::engine::general_purpose::STANDARD.encode([byte; 32])
}

async fn spawn(keys: &str) -> TestApp {
    TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", keys.to_owned())],
        ..Spawn::default()
    })
    .await
}

/// The app's form with defaults for everything not given.
fn form<'a>(token: &'a str, overrides: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf_token", token),
        ("display_name", "Strava"),
        ("client_id", "12345"),
        ("client_secret", ""),
        ("authorize_url", "http://127.0.0.1:8090/oauth/authorize"),
        ("token_url", "http://127.0.0.1:8090/oauth/token"),
        ("api_base_url", "http://127.0.0.1:8090/api/v3"),
        ("scopes", "read, activity:read_all"),
        ("webhook_verify_token", ""),
        ("enabled", "on"),
        ("limit_short", "200"),
        ("limit_daily", "2000"),
        ("read_limit_short", "100"),
        ("read_limit_daily", "1000"),
    ];
    for (name, value) in overrides {
        if let Some(field) = fields.iter_mut().find(|(n, _)| n == name) {
            field.1 = value;
        } else {
            fields.push((name, value));
        }
    }
    fields.retain(|(_, v)| *v != "<absent>");
    fields
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url("/admin/oauth-apps/strava"))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn stored(app: &TestApp) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    sqlx::query_as(
        "SELECT client_secret, webhook_verify_token FROM oauth_apps WHERE provider = 'strava'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

fn open(keys: &DataKeys, bytes: &[u8], column: &str) -> String {
    let sealed = Sealed::from_bytes(bytes).unwrap();
    keys.open(&sealed, &Aad::app("strava", column))
        .unwrap()
        .expose_secret()
        .to_owned()
}

async fn audit_rows(app: &TestApp) -> Vec<(String, serde_json::Value)> {
    sqlx::query_as(
        "SELECT event_type, details FROM audit_events WHERE event_type LIKE 'oauth_app_%' ORDER BY id",
    )
    .fetch_all(&app.db)
    .await
    .unwrap()
}

/// Created, then two changes; names of fields, never a secret.
async fn audited_without_secrets(app: &TestApp, client: &reqwest::Client) {
    // Audited: created, then two changes; names of fields, never a secret.
    let events = audit_rows(app).await;
    let types: Vec<&str> = events.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        types,
        [
            "oauth_app_created",
            "oauth_app_changed",
            "oauth_app_changed"
        ]
    );
    assert_eq!(events[1].1["changed"], serde_json::json!(["client_id"]));
    assert_eq!(events[2].1["changed"], serde_json::json!(["client_secret"]));
    assert_eq!(events[0].1["provider"], "strava");
    for (_, details) in &events {
        let text = details.to_string();
        for secret in [SECRET, VERIFY, "replacement-secret-0b2"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
    let audit_page = client
        .get(app.url("/admin/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(audit_page.contains("oauth_app_changed"));
    assert!(!audit_page.contains(SECRET));
}

async fn connected_athletes_are_counted(app: &TestApp, client: &reqwest::Client) {
    // Connected athletes are counted from provider_connections.
    let athlete = crate::accounts::create_user(app, "rider@example.org", &["athlete"]).await;
    sqlx::query("INSERT INTO provider_connections (user_id, provider, external_athlete_id) VALUES ($1, 'strava', '991')")
        .bind(athlete)
        .execute(&app.db)
        .await
        .unwrap();
    let list = client
        .get(app.url("/admin/oauth-apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        text_of(&html(&list), "tr[data-provider=strava] .app-connected").unwrap(),
        "1"
    );
}

async fn no_plaintext_in_the_row(app: &TestApp) {
    let raw_text: String = sqlx::query_scalar("SELECT row_to_json(a)::text FROM oauth_apps a")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!raw_text.contains(SECRET) && !raw_text.contains(VERIFY));
    let scopes: String = sqlx::query_scalar("SELECT scopes FROM oauth_apps")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(scopes, "read,activity:read_all");
}

#[tokio::test]
async fn admin_saves_an_app_whose_secrets_are_sealed_and_never_shown() {
    let keys_var = format!("k1:{}", key(1));
    let keys = DataKeys::parse(&keys_var).unwrap();
    let app = spawn(&keys_var).await;
    let (client, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;

    // Both providers are listed before anything is configured.
    let list = client
        .get(app.url("/admin/oauth-apps"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);
    let doc = html(&list.text().await.unwrap());
    for provider in ["strava", "garmin"] {
        let status = text_of(&doc, &format!("tr[data-provider={provider}] .app-status")).unwrap();
        assert_eq!(status, "not configured");
    }
    // The edit page starts from the real provider's endpoints and shows the callback URL.
    let page = client
        .get(app.url("/admin/oauth-apps/strava"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("https://www.strava.com/oauth/authorize"),
        "{page}"
    );
    let doc = html(&page);
    let callback = text_of(&doc, "#callback-url").unwrap();
    assert!(callback.ends_with("/oauth/strava/callback"), "{callback}");
    assert!(callback.starts_with("http://127.0.0.1:"), "{callback}");
    assert!(page.contains("data-copy=\"callback-url\""));
    let token = csrf_in(&page).unwrap();

    let res = post(
        &app,
        &client,
        &form(
            &token,
            &[("client_secret", SECRET), ("webhook_verify_token", VERIFY)],
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/admin/oauth-apps/strava?done=saved"
    );

    // Stored sealed: the raw bytes do not contain the plaintext; they open with the key.
    let (secret, verify) = stored(&app).await;
    let (secret, verify) = (secret.unwrap(), verify.unwrap());
    for (bytes, plain) in [(&secret, SECRET), (&verify, VERIFY)] {
        assert!(!bytes.windows(plain.len()).any(|w| w == plain.as_bytes()));
        assert_eq!(Sealed::from_bytes(bytes).unwrap().key_id, "k1");
    }
    assert_eq!(open(&keys, &secret, "client_secret"), SECRET);
    assert_eq!(open(&keys, &verify, "webhook_verify_token"), VERIFY);
    // Bound to its column: the secret does not open as the verify token.
    assert!(
        keys.open(
            &Sealed::from_bytes(&secret).unwrap(),
            &Aad::app("strava", "webhook_verify_token")
        )
        .is_err()
    );
    no_plaintext_in_the_row(&app).await;
    // The page never shows the secrets, only that they are set.
    let page = client
        .get(app.url("/admin/oauth-apps/strava?done=saved"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains(SECRET) && !page.contains(VERIFY));
    let doc = html(&page);
    assert!(
        text_of(&doc, "#client-secret-status")
            .unwrap()
            .contains("set on")
    );
    assert!(
        text_of(&doc, "#verify-token-status")
            .unwrap()
            .contains("set on")
    );
    assert!(!page.contains("cannot be used"), "{page}");
    assert_eq!(text_of(&doc, "#admin-notice").unwrap(), "Saved.");
    let list = client
        .get(app.url("/admin/oauth-apps"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!list.contains(SECRET));
    let doc = html(&list);
    assert_eq!(
        text_of(&doc, "tr[data-provider=strava] .app-status").unwrap(),
        "enabled"
    );
    assert_eq!(
        text_of(&doc, "tr[data-provider=garmin] .app-status").unwrap(),
        "not configured"
    );

    // Leaving the secret empty keeps it (byte for byte); another field changes.
    let res = post(&app, &client, &form(&token, &[("client_id", "67890")])).await;
    assert_eq!(res.status(), 303);
    let (kept, kept_verify) = stored(&app).await;
    assert_eq!(kept.as_ref(), Some(&secret));
    assert_eq!(kept_verify.as_ref(), Some(&verify));

    // Replacing works.
    let res = post(
        &app,
        &client,
        &form(
            &token,
            &[
                ("client_id", "67890"),
                ("client_secret", "replacement-secret-0b2"),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    let (replaced, _) = stored(&app).await;
    assert_eq!(
        open(&keys, &replaced.unwrap(), "client_secret"),
        "replacement-secret-0b2"
    );

    // Saving the same values again changes nothing and audits nothing.
    let res = post(&app, &client, &form(&token, &[("client_id", "67890")])).await;
    assert_eq!(
        res.headers()["location"],
        "/admin/oauth-apps/strava?done=unchanged"
    );

    audited_without_secrets(&app, &client).await;
    connected_athletes_are_counted(&app, &client).await;
}

#[tokio::test]
async fn bad_input_is_refused_with_field_errors_and_athletes_are_kept_out() {
    let app = spawn(&format!("k1:{}", key(1))).await;
    let (client, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let page = client
        .get(app.url("/admin/oauth-apps/garmin"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("https://connect.garmin.com/oauth2Confirm"));
    let token = csrf_in(&page).unwrap();

    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("token_url", "http://strava.example.org/oauth/token")],
            "#app-token-url-error",
        ),
        (
            &[("authorize_url", "not a url")],
            "#app-authorize-url-error",
        ),
        (
            &[("api_base_url", "ftp://127.0.0.1/")],
            "#app-api-base-url-error",
        ),
        (
            &[("api_base_url", "https://user:pw@www.strava.com/api/v3")],
            "#app-api-base-url-error",
        ),
        (&[("limit_short", "lots")], "#app-limit-short-error"),
        (&[("limit_daily", "0")], "#app-limit-daily-error"),
        (
            &[("read_limit_short", "500")],
            "#app-read-limit-short-error",
        ),
        (&[("display_name", "  ")], "#app-display-name-error"),
        (&[("scopes", "read;drop table")], "#app-scopes-error"),
        // Enabling needs a client secret (none is stored yet).
        (&[], "#app-client-secret-error"),
        (&[("client_id", "")], "#app-client-id-error"),
    ];
    for (overrides, error) in cases {
        let res = post(&app, &client, &form(&token, overrides)).await;
        assert_eq!(res.status(), 422, "{overrides:?}");
        let body = res.text().await.unwrap();
        assert!(
            text_of(&html(&body), error).is_some(),
            "{overrides:?}: no {error}"
        );
    }
    // A typed secret is not echoed back in a form with errors.
    let res = post(
        &app,
        &client,
        &form(
            &token,
            &[
                ("client_secret", SECRET),
                ("token_url", "http://x.example/"),
            ],
        ),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(!body.contains(SECRET));
    assert!(body.contains("Secrets are never shown again"));
    let apps: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_apps")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(apps, 0);
    assert!(audit_rows(&app).await.is_empty());

    // Unknown providers are missing pages.
    assert_eq!(
        client
            .get(app.url("/admin/oauth-apps/polar"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let res = client
        .post(app.url("/admin/oauth-apps/polar"))
        .form(&form(&token, &[]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // An athlete is refused, and saves nothing.
    let (athlete, _) = signed_in(&app, "ana@example.org", &["athlete"]).await;
    let athlete_token = app.csrf_token(&athlete).await;
    assert_eq!(
        athlete
            .get(app.url("/admin/oauth-apps"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        athlete
            .get(app.url("/admin/oauth-apps/strava"))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let res = post(
        &app,
        &athlete,
        &form(&athlete_token, &[("client_secret", SECRET)]),
    )
    .await;
    assert_eq!(res.status(), 403);
    let apps: i64 = sqlx::query_scalar("SELECT count(*) FROM oauth_apps")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(apps, 0);
}

fn pierre(database_url: &str, keys: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pierre"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("PIERRE_DATA_KEYS", keys)
        .env("RUST_LOG", "warn");
    cmd
}

fn run(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn keys_rotate_re_encrypts_every_secret_with_the_new_key() {
    let old = format!("old:{}", key(1));
    let app = spawn(&old).await;
    let (client, _) = signed_in(&app, "admin@example.org", &["athlete", "admin"]).await;
    let token = app.csrf_token(&client).await;
    let res = post(
        &app,
        &client,
        &form(
            &token,
            &[("client_secret", SECRET), ("webhook_verify_token", VERIFY)],
        ),
    )
    .await;
    assert_eq!(res.status(), 303);
    // A connection with sealed tokens (as the sync work will store them).
    let old_keys = DataKeys::parse(&old).unwrap();
    let user = crate::accounts::create_user(&app, "rider@example.org", &["athlete"]).await;
    let seal = |column: &str, value: &str| {
        old_keys
            .seal(
                &SecretString::from(value.to_owned()),
                &Aad::connection(user, "strava", column),
            )
            .unwrap()
            .to_bytes()
    };
    sqlx::query(
        "INSERT INTO provider_connections (user_id, provider, external_athlete_id, access_token, refresh_token)
         VALUES ($1, 'strava', '4242', $2, $3)",
    )
    .bind(user)
    .bind(seal("access_token", "access-aaa"))
    .bind(seal("refresh_token", "refresh-rrr"))
    .execute(&app.db)
    .await
    .unwrap();

    let url = crate::support::url_for(&app.database);
    let rotated = format!("new:{},{old}", key(2));
    let (code, stdout, stderr) = run(pierre(&url, &rotated).args(["keys", "rotate"]));
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("Re-encrypted 4 of 4 secret values with the key new"),
        "{stdout}"
    );
    for secret in [
        &key(1),
        &key(2),
        SECRET,
        VERIFY,
        "access-aaa",
        "refresh-rrr",
    ] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    // Every sealed column now names the new key and opens with it alone.
    let new_only = DataKeys::parse(&format!("new:{}", key(2))).unwrap();
    let (secret, verify) = stored(&app).await;
    assert_eq!(
        Sealed::from_bytes(secret.as_ref().unwrap()).unwrap().key_id,
        "new"
    );
    assert_eq!(open(&new_only, &secret.unwrap(), "client_secret"), SECRET);
    assert_eq!(
        open(&new_only, &verify.unwrap(), "webhook_verify_token"),
        VERIFY
    );
    let (access, refresh): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT access_token, refresh_token FROM provider_connections")
            .fetch_one(&app.db)
            .await
            .unwrap();
    for (bytes, column, plain) in [
        (&access, "access_token", "access-aaa"),
        (&refresh, "refresh_token", "refresh-rrr"),
    ] {
        let sealed = Sealed::from_bytes(bytes).unwrap();
        assert_eq!(sealed.key_id, "new");
        let opened = new_only
            .open(&sealed, &Aad::connection(user, "strava", column))
            .unwrap();
        assert_eq!(opened.expose_secret(), plain);
    }

    // Idempotent: a second run re-encrypts nothing.
    let (code, stdout, _) = run(pierre(&url, &rotated).args(["keys", "rotate"]));
    assert_eq!(code, Some(0));
    assert!(stdout.contains("Re-encrypted 0 of 4"), "{stdout}");

    // Without the key the values name, rotation refuses and changes nothing.
    let (code, stdout, stderr) =
        run(pierre(&url, &format!("other:{}", key(3))).args(["keys", "rotate"]));
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("\"new\"") && stderr.contains("PIERRE_DATA_KEYS"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    let (after, _) = stored(&app).await;
    assert_eq!(Sealed::from_bytes(&after.unwrap()).unwrap().key_id, "new");

    // An instance still configured with the old key alone says the secret must be replaced…
    let page = client
        .get(app.url("/admin/oauth-apps/strava"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cannot be used"), "{page}");
    // …and one with the new key decrypts it.
    let second = TestApp::spawn_with(Spawn {
        vars: vec![("PIERRE_DATA_KEYS", format!("new:{}", key(2)))],
        database: Some(app.database.clone()),
        ..Spawn::default()
    })
    .await;
    let client2 = crate::support::new_client();
    let res = crate::accounts::login(
        &second,
        &client2,
        "admin@example.org",
        crate::accounts::PASSWORD,
    )
    .await;
    assert_eq!(res.status(), 303);
    let page = client2
        .get(second.url("/admin/oauth-apps/strava"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("set on") && !page.contains("cannot be used"),
        "{page}"
    );
}
