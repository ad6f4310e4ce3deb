//! The admin pages: who may see them, the users list, the actions on one user
//! (each audited, each taking effect on the user's very next request), the
//! self-protection rules, and the audit log's filters.

use pierre::auth::password::PasswordHasher;
use pierre::db::users::{self, Created};
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use uuid::Uuid;

use crate::support::{TestApp, csrf_in, html, new_client, text_of};

const PASSWORD: &str = "correct horse battery staple";
/// A well-formed hash nobody's password matches: for users who never sign in
/// (saves an argon2 run per user).
const UNUSABLE_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn create_user(app: &TestApp, email: &str, name: &str, roles: &[&str], hash: &str) -> Uuid {
    let mut conn = app.db.acquire().await.unwrap();
    match users::create(&mut conn, email, name, hash, roles)
        .await
        .unwrap()
    {
        Created::Yes(id) => id,
        Created::EmailTaken => panic!("{email} already exists"),
    }
}

async fn real_hash() -> String {
    PasswordHasher::default()
        .hash(PASSWORD.to_owned())
        .await
        .unwrap()
}

/// Sign `client` in as `email` (whose password is [`PASSWORD`]).
async fn sign_in(app: &TestApp, client: &reqwest::Client, email: &str) {
    let res = try_sign_in(app, client, email).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
}

async fn try_sign_in(app: &TestApp, client: &reqwest::Client, email: &str) -> reqwest::Response {
    let body = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&body).expect("the sign-in form carries a token");
    client
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap()
}

/// A test app with a signed-in admin.
struct Admin {
    app: TestApp,
    client: reqwest::Client,
    id: Uuid,
    /// A real hash of [`PASSWORD`], for other users who must sign in.
    hash: String,
}

const ADMIN_EMAIL: &str = "root@example.org";

impl Admin {
    async fn spawn() -> Self {
        let app = TestApp::spawn().await;
        let hash = real_hash().await;
        let id = create_user(&app, ADMIN_EMAIL, "Ada Admin", &["athlete", "admin"], &hash).await;
        let client = new_client();
        sign_in(&app, &client, ADMIN_EMAIL).await;
        Self {
            app,
            client,
            id,
            hash,
        }
    }

    /// A user who can sign in, and a client signed in as them.
    async fn signed_in_user(&self, email: &str) -> (Uuid, reqwest::Client) {
        let id = create_user(&self.app, email, "Sam Subject", &["athlete"], &self.hash).await;
        let client = new_client();
        sign_in(&self.app, &client, email).await;
        (id, client)
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.app.url(path)).send().await.unwrap()
    }

    async fn page(&self, path: &str) -> scraper::Html {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        html(&res.text().await.unwrap())
    }

    /// This browser's anti-forgery token, from a page that has forms.
    async fn token(&self) -> String {
        let body = self
            .get(&format!("/admin/users/{}", self.id))
            .await
            .text()
            .await
            .unwrap();
        csrf_in(&body).expect("the user page carries a token")
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let token = self.token().await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        self.client
            .post(self.app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }

    /// Audit rows this admin caused: (event type, subject, outcome, details).
    async fn audit_rows(&self) -> Vec<(String, Option<Uuid>, String, serde_json::Value)> {
        sqlx::query_as(
            "SELECT event_type, subject_user_id, outcome, details FROM audit_events
             WHERE actor_user_id = $1 AND event_type <> 'login' ORDER BY id",
        )
        .bind(self.id)
        .fetch_all(&self.app.db)
        .await
        .unwrap()
    }
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn texts(doc: &scraper::Html, selector: &str) -> Vec<String> {
    let selector = scraper::Selector::parse(selector).unwrap();
    doc.select(&selector)
        .map(|el| el.text().collect::<String>().trim().to_owned())
        .collect()
}

async fn roles_of(app: &TestApp, id: Uuid) -> Vec<String> {
    sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
        .bind(id)
        .fetch_all(&app.db)
        .await
        .unwrap()
}

/// Whether a signed-in client is still signed in: its dashboard answers 200,
/// or it is sent to sign in.
async fn still_signed_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let res = client.get(app.url("/dashboard")).send().await.unwrap();
    match res.status() {
        StatusCode::OK => true,
        StatusCode::SEE_OTHER => {
            assert_eq!(location(&res), "/login?next=%2Fdashboard");
            false
        }
        other => panic!("unexpected {other} from /dashboard"),
    }
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_come_back() {
    let app = TestApp::spawn().await;
    let id = Uuid::now_v7();
    for (path, next) in [
        ("/admin/users", "%2Fadmin%2Fusers"),
        (
            "/admin/users?q=ann&page=2",
            "%2Fadmin%2Fusers%3Fq%3Dann%26page%3D2",
        ),
        ("/admin/audit", "%2Fadmin%2Faudit"),
        (
            &format!("/admin/users/{id}"),
            &format!("%2Fadmin%2Fusers%2F{id}"),
        ),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), format!("/login?next={next}"), "{path}");
    }
}

#[tokio::test]
async fn athletes_get_403_on_admin_pages_and_actions() {
    let app = TestApp::spawn().await;
    let hash = real_hash().await;
    let id = create_user(
        &app,
        "ath@example.org",
        "Athlete",
        &["athlete", "coach"],
        &hash,
    )
    .await;
    let client = new_client();
    sign_in(&app, &client, "ath@example.org").await;
    for path in [
        "/admin",
        "/admin/users",
        "/admin/audit",
        &format!("/admin/users/{id}"),
    ] {
        let res = client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // A valid token does not make an athlete an admin either.
    let body = client
        .get(app.url("/settings/security"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = csrf_in(&body).unwrap();
    let res = client
        .post(app.url(&format!("/admin/users/{id}/roles")))
        .form(&[
            ("role", "admin"),
            ("action", "grant"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(roles_of(&app, id).await, ["athlete", "coach"]);
}

#[tokio::test]
async fn admins_see_users_and_can_search_and_page() {
    let admin = Admin::spawn().await;
    for i in 0..30 {
        create_user(
            &admin.app,
            &format!("runner{i:02}@example.org"),
            &format!("Runner {i:02}"),
            &["athlete"],
            UNUSABLE_HASH,
        )
        .await;
    }
    let zed = create_user(
        &admin.app,
        "zed@Other.test",
        "Zed Cyclist",
        &["athlete", "coach"],
        UNUSABLE_HASH,
    )
    .await;
    sqlx::query("UPDATE users SET disabled_at = now() WHERE id = $1")
        .bind(zed)
        .execute(&admin.app.db)
        .await
        .unwrap();

    let res = admin.get("/admin").await;
    assert_eq!(location(&res), "/admin/users");
    let first = admin.page("/admin/users").await;
    let first_emails = texts(&first, "#users-table tbody .user-email");
    assert_eq!(first_emails.len(), 25);
    assert_eq!(
        text_of(&first, ".list-summary").unwrap(),
        "Showing 1–25 of 32 users."
    );
    let next = scraper::Selector::parse(".pagination a[rel=next]").unwrap();
    let next = first.select(&next).next().expect("a next-page link");
    assert_eq!(next.value().attr("href"), Some("/admin/users?page=2"));
    assert_eq!(next.value().attr("hx-get"), Some("/admin/users?page=2"));
    assert_eq!(next.value().attr("hx-push-url"), Some("true"));

    let second = admin.page("/admin/users?page=2").await;
    let second_emails = texts(&second, "#users-table tbody .user-email");
    assert_eq!(second_emails.len(), 7);
    let mut all: Vec<String> = first_emails.into_iter().chain(second_emails).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 32, "pages neither overlap nor skip");
    assert!(all.contains(&ADMIN_EMAIL.to_owned()));

    // Search by name, and by email ignoring case; the row shows the columns.
    for q in ["cyclist", "OTHER.TEST"] {
        let doc = admin.page(&format!("/admin/users?q={q}")).await;
        assert_eq!(
            texts(&doc, "#users-table tbody .user-email"),
            ["zed@Other.test"],
            "{q}"
        );
        assert_eq!(texts(&doc, ".user-name"), ["Zed Cyclist"]);
        assert_eq!(texts(&doc, ".user-roles .badge"), ["athlete", "coach"]);
        assert_eq!(texts(&doc, ".user-status"), ["disabled"]);
        assert_eq!(texts(&doc, ".user-sessions"), ["0"]);
        assert_eq!(
            texts(&doc, ".user-created"),
            [chrono::Utc::now().format("%Y-%m-%d").to_string()]
        );
    }
    // The admin's own row: active, one session (this client).
    let doc = admin.page("/admin/users?q=root%40").await;
    assert_eq!(texts(&doc, ".user-status"), ["active"]);
    assert_eq!(texts(&doc, ".user-sessions"), ["1"]);
    assert_eq!(texts(&doc, ".user-roles .badge"), ["admin", "athlete"]);
    // LIKE wildcards are searched for literally.
    let doc = admin.page("/admin/users?q=%25").await;
    assert!(texts(&doc, "#users-table tbody tr").is_empty());
    assert_eq!(
        text_of(&doc, ".list-summary").unwrap(),
        "No users match “%”."
    );

    // htmx gets only the rows block of the same template, for the same URL.
    let res = admin
        .client
        .get(admin.app.url("/admin/users?q=runner&page=2"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("HX-Request"))
    );
    let body = res.text().await.unwrap();
    assert!(
        body.trim_start().starts_with("<section id=\"user-rows\""),
        "{body}"
    );
    assert!(!body.contains("<html"));
    let doc = html(&body);
    assert_eq!(texts(&doc, ".user-email").len(), 5);
    let prev = scraper::Selector::parse(".pagination a[rel=prev]").unwrap();
    assert_eq!(
        doc.select(&prev).next().unwrap().value().attr("href"),
        Some("/admin/users?q=runner")
    );
    // A history restore asks for the whole page.
    let res = admin
        .client
        .get(admin.app.url("/admin/users?page=2"))
        .header("HX-Request", "true")
        .header("HX-History-Restore-Request", "true")
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("<html"));
}

#[tokio::test]
async fn disabling_a_user_ends_their_session_at_once_and_refuses_sign_in() {
    let admin = Admin::spawn().await;
    let (id, user_client) = admin.signed_in_user("sam@example.org").await;
    assert!(still_signed_in(&admin.app, &user_client).await);

    let res = admin.post(&format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), format!("/admin/users/{id}?done=disabled"));
    assert!(!still_signed_in(&admin.app, &user_client).await);

    let res = try_sign_in(&admin.app, &new_client(), "sam@example.org").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let doc = html(&res.text().await.unwrap());
    assert!(
        text_of(&doc, "#login-error")
            .unwrap()
            .contains("This account has been disabled")
    );

    let doc = admin
        .page(&format!("/admin/users/{id}?done=disabled"))
        .await;
    assert!(text_of(&doc, "#admin-notice").unwrap().contains("disabled"));
    assert!(
        text_of(&doc, "#user-status")
            .unwrap()
            .starts_with("disabled")
    );
    assert!(text_of(&doc, "#enable-form").is_some());

    // Disabling again changes nothing and writes nothing.
    let res = admin.post(&format!("/admin/users/{id}/disable"), &[]).await;
    assert_eq!(location(&res), format!("/admin/users/{id}?done=unchanged"));

    let res = admin.post(&format!("/admin/users/{id}/enable"), &[]).await;
    assert_eq!(location(&res), format!("/admin/users/{id}?done=enabled"));
    sign_in(&admin.app, &new_client(), "sam@example.org").await;

    let rows = admin.audit_rows().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0].0, "user_disabled");
    assert_eq!(rows[0].1, Some(id));
    assert_eq!(rows[0].2, "success");
    assert_eq!(rows[0].3["sessions_ended"], 1);
    assert_eq!(rows[1].0, "user_enabled");
    assert_eq!(rows[1].1, Some(id));
}

#[tokio::test]
async fn ending_all_sessions_signs_the_user_out_everywhere() {
    let admin = Admin::spawn().await;
    let (id, phone) = admin.signed_in_user("sam@example.org").await;
    let laptop = new_client();
    sign_in(&admin.app, &laptop, "sam@example.org").await;
    let doc = admin.page(&format!("/admin/users/{id}")).await;
    assert_eq!(text_of(&doc, "#user-session-count").unwrap(), "2");

    let res = admin
        .post(&format!("/admin/users/{id}/sessions/end"), &[])
        .await;
    assert_eq!(
        location(&res),
        format!("/admin/users/{id}?done=sessions_ended")
    );
    assert!(!still_signed_in(&admin.app, &phone).await);
    assert!(!still_signed_in(&admin.app, &laptop).await);
    // The user may sign in again: ending sessions is not disabling.
    sign_in(&admin.app, &phone, "sam@example.org").await;
    // The admin's own session is untouched.
    assert!(still_signed_in(&admin.app, &admin.client).await);

    let rows = admin.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "sessions_ended");
    assert_eq!(rows[0].1, Some(id));
    assert_eq!(rows[0].3["ended"], 2);
}

#[tokio::test]
async fn granting_and_revoking_roles_takes_effect_on_the_next_request() {
    let admin = Admin::spawn().await;
    let (id, user_client) = admin.signed_in_user("sam@example.org").await;
    let admin_users = || async {
        user_client
            .get(admin.app.url("/admin/users"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(admin_users().await, StatusCode::FORBIDDEN);

    let path = format!("/admin/users/{id}/roles");
    let res = admin
        .post(&path, &[("role", "admin"), ("action", "grant")])
        .await;
    assert_eq!(
        location(&res),
        format!("/admin/users/{id}?done=role_granted")
    );
    assert_eq!(admin_users().await, StatusCode::OK);

    let res = admin
        .post(&path, &[("role", "admin"), ("action", "revoke")])
        .await;
    assert_eq!(
        location(&res),
        format!("/admin/users/{id}?done=role_revoked")
    );
    assert_eq!(admin_users().await, StatusCode::FORBIDDEN);

    admin
        .post(&path, &[("role", "Coach"), ("action", "grant")])
        .await;
    assert_eq!(roles_of(&admin.app, id).await, ["athlete", "coach"]);
    let doc = admin.page(&format!("/admin/users/{id}")).await;
    assert_eq!(texts(&doc, "#user-roles .badge"), ["athlete", "coach"]);

    // Granting a held role changes nothing and writes nothing.
    let res = admin
        .post(&path, &[("role", "coach"), ("action", "grant")])
        .await;
    assert_eq!(location(&res), format!("/admin/users/{id}?done=unchanged"));
    // An unknown role is a clear 422.
    let res = admin
        .post(&path, &[("role", "root"), ("action", "grant")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let doc = html(&res.text().await.unwrap());
    assert_eq!(
        text_of(&doc, "#admin-error").unwrap(),
        "Choose athlete, coach or admin."
    );
    assert_eq!(roles_of(&admin.app, id).await, ["athlete", "coach"]);

    let rows = admin.audit_rows().await;
    let summary: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.0.as_str(), r.3["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("role_granted", "admin"),
            ("role_revoked", "admin"),
            ("role_granted", "coach")
        ]
    );
    assert!(rows.iter().all(|r| r.1 == Some(id) && r.2 == "success"));
}

#[tokio::test]
async fn deleting_a_user_needs_their_email_typed_and_is_audited() {
    let admin = Admin::spawn().await;
    let (id, user_client) = admin.signed_in_user("sam@example.org").await;
    let path = format!("/admin/users/{id}/delete");

    let res = admin
        .post(&path, &[("confirm_email", "someone@example.org")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let doc = html(&res.text().await.unwrap());
    assert!(
        text_of(&doc, "#confirm-email-error")
            .unwrap()
            .contains("Nothing was deleted")
    );
    assert!(still_signed_in(&admin.app, &user_client).await);

    let res = admin
        .post(&path, &[("confirm_email", " SAM@example.org ")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/admin/users?done=deleted");
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&admin.app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    assert!(!still_signed_in(&admin.app, &user_client).await);
    assert_eq!(
        admin.get(&format!("/admin/users/{id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    let doc = admin.page("/admin/users?done=deleted").await;
    assert!(text_of(&doc, "#admin-notice").unwrap().contains("deleted"));

    let rows = admin.audit_rows().await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, "user_deleted");
    assert_eq!(rows[0].1, Some(id));
    // The log stays readable after the user is gone.
    let doc = admin.page("/admin/audit?event=user_deleted").await;
    assert_eq!(texts(&doc, ".event-subject"), ["sam@example.org"]);
    assert_eq!(texts(&doc, ".event-actor"), [ADMIN_EMAIL]);
}

#[tokio::test]
async fn an_admin_cannot_disable_delete_or_demote_themselves() {
    let admin = Admin::spawn().await;
    let me = admin.id;
    let cases = [
        (
            format!("/admin/users/{me}/disable"),
            vec![],
            "You cannot disable your own account",
        ),
        (
            format!("/admin/users/{me}/delete"),
            vec![("confirm_email", ADMIN_EMAIL)],
            "You cannot delete your own account",
        ),
        (
            format!("/admin/users/{me}/roles"),
            vec![("role", "admin"), ("action", "revoke")],
            "You cannot remove your own admin role",
        ),
    ];
    for (path, fields, message) in &cases {
        let res = admin.post(path, fields).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let doc = html(&res.text().await.unwrap());
        assert!(
            text_of(&doc, "#admin-error").unwrap().contains(message),
            "{path}"
        );
    }
    // Nothing happened: still an enabled admin with a working session.
    assert_eq!(roles_of(&admin.app, me).await, ["admin", "athlete"]);
    assert_eq!(admin.get("/admin/users").await.status(), StatusCode::OK);
    // The page does not offer those actions for oneself…
    let doc = admin.page(&format!("/admin/users/{me}")).await;
    assert!(text_of(&doc, "#disable-form").is_none());
    assert!(text_of(&doc, "#delete-user-form").is_none());
    assert!(
        texts(&doc, "#user-role-actions button")
            .iter()
            .all(|b| b != "Revoke admin")
    );
    // …other roles can still be changed on oneself.
    let res = admin
        .post(
            &format!("/admin/users/{me}/roles"),
            &[("role", "coach"), ("action", "grant")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    // The refusals are audited as failures.
    let rows = admin.audit_rows().await;
    let outcomes: Vec<(&str, &str)> = rows.iter().map(|r| (r.0.as_str(), r.2.as_str())).collect();
    assert_eq!(
        outcomes,
        [
            ("user_disabled", "failure"),
            ("user_deleted", "failure"),
            ("role_revoked", "failure"),
            ("role_granted", "success"),
        ]
    );
    assert!(rows.iter().all(|r| r.1 == Some(me)));
}

/// (event type, actor, subject, subject email, IP, outcome).
type AuditRow = (
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    String,
    String,
);

#[tokio::test]
async fn every_admin_action_leaves_an_audit_row_with_actor_and_subject() {
    let admin = Admin::spawn().await;
    let (id, _user_client) = admin.signed_in_user("sam@example.org").await;
    let base = format!("/admin/users/{id}");
    for (path, fields) in [
        (
            format!("{base}/roles"),
            vec![("role", "coach"), ("action", "grant")],
        ),
        (
            format!("{base}/roles"),
            vec![("role", "coach"), ("action", "revoke")],
        ),
        (format!("{base}/sessions/end"), vec![]),
        (format!("{base}/disable"), vec![]),
        (format!("{base}/enable"), vec![]),
        (
            format!("{base}/delete"),
            vec![("confirm_email", "sam@example.org")],
        ),
    ] {
        let res = admin.post(&path, &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
    }
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT event_type, actor_user_id, subject_user_id, subject_email, ip, outcome
             FROM audit_events WHERE subject_user_id = $1 AND event_type <> 'login' ORDER BY id",
    )
    .bind(id)
    .fetch_all(&admin.app.db)
    .await
    .unwrap();
    let types: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        types,
        [
            "role_granted",
            "role_revoked",
            "sessions_ended",
            "user_disabled",
            "user_enabled",
            "user_deleted"
        ]
    );
    for row in &rows {
        assert_eq!(row.1, Some(admin.id), "{row:?}");
        assert_eq!(row.2, Some(id), "{row:?}");
        assert_eq!(row.3.as_deref(), Some("sam@example.org"), "{row:?}");
        assert_eq!(row.4, "127.0.0.1", "{row:?}");
        assert_eq!(row.5, "success", "{row:?}");
    }
}

#[tokio::test]
async fn unknown_users_answer_404() {
    let admin = Admin::spawn().await;
    let missing = Uuid::now_v7();
    for path in [
        format!("/admin/users/{missing}"),
        "/admin/users/not-an-id".to_owned(),
    ] {
        assert_eq!(
            admin.get(&path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    for action in ["disable", "enable", "sessions/end"] {
        let res = admin
            .post(&format!("/admin/users/{missing}/{action}"), &[])
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{action}");
    }
    let res = admin
        .post(
            &format!("/admin/users/{missing}/delete"),
            &[("confirm_email", "x@example.org")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

/// Insert an audit event at a given time (UTC).
async fn event_at(
    app: &TestApp,
    at: &str,
    event_type: &str,
    subject_email: &str,
    outcome: &str,
    details: serde_json::Value,
) {
    sqlx::query(
        "INSERT INTO audit_events (occurred_at, subject_email, event_type, ip, user_agent, outcome, details)
         VALUES ($1::timestamptz, $2, $3, '203.0.113.5',
                 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0', $4, $5)",
    )
    .bind(at)
    .bind(subject_email)
    .bind(event_type)
    .bind(outcome)
    .bind(details)
    .execute(&app.db)
    .await
    .unwrap();
}

#[tokio::test]
async fn the_audit_log_filters_by_type_user_and_dates() {
    let admin = Admin::spawn().await;
    let app = &admin.app;
    let none = serde_json::json!({});
    event_at(
        app,
        "2024-03-01T10:00:00Z",
        "login",
        "ann@example.org",
        "success",
        none.clone(),
    )
    .await;
    event_at(
        app,
        "2024-03-02T23:59:59Z",
        "password_changed",
        "bob@example.org",
        "success",
        none.clone(),
    )
    .await;
    event_at(
        app,
        "2024-03-03T00:00:00Z",
        "login",
        "bob@example.org",
        "failure",
        serde_json::json!({ "reason": "wrong email or password" }),
    )
    .await;

    let subjects = |doc: &scraper::Html| texts(doc, ".event-subject");
    // By type: the three logins (the admin's own sign-in is one).
    let doc = admin.page("/admin/audit?event=login").await;
    assert_eq!(
        subjects(&doc),
        [ADMIN_EMAIL, "bob@example.org", "ann@example.org"]
    );
    assert!(texts(&doc, ".event-type").iter().all(|t| t == "login"));
    // By user, ignoring case.
    let doc = admin.page("/admin/audit?user=BOB").await;
    assert_eq!(texts(&doc, ".event-type"), ["login", "password_changed"]);
    // By dates: "to" includes its whole day and no more.
    let doc = admin
        .page("/admin/audit?from=2024-03-02&to=2024-03-02")
        .await;
    assert_eq!(texts(&doc, ".event-type"), ["password_changed"]);
    let doc = admin.page("/admin/audit?from=2024-03-03").await;
    assert_eq!(
        subjects(&doc),
        [ADMIN_EMAIL, "bob@example.org"],
        "from includes its whole day"
    );
    let doc = admin.page("/admin/audit?to=2024-03-01").await;
    assert_eq!(subjects(&doc), ["ann@example.org"]);
    // All together, and what a row shows.
    let doc = admin
        .page("/admin/audit?user=bob&event=login&from=2024-03-01&to=2024-03-31")
        .await;
    assert_eq!(texts(&doc, ".event-time"), ["2024-03-03 00:00:00 UTC"]);
    assert_eq!(texts(&doc, ".event-outcome"), ["failure"]);
    assert_eq!(texts(&doc, ".event-ip"), ["203.0.113.5"]);
    assert_eq!(texts(&doc, ".event-device"), ["Firefox on Linux"]);
    assert_eq!(
        texts(&doc, ".event-details"),
        ["reason: wrong email or password"]
    );
    assert_eq!(texts(&doc, ".event-actor"), ["—"]);
    let selected = scraper::Selector::parse("#audit-event option[selected]").unwrap();
    assert_eq!(
        doc.select(&selected).next().unwrap().value().attr("value"),
        Some("login")
    );

    // Bad filters: a clear 422 naming each problem, and no rows.
    for (query, problem) in [
        ("event=nope", "choose an event type"),
        ("from=2024-13-01", "enter a date like"),
        (
            "from=2024-03-05&to=2024-03-01",
            "on or after the start date",
        ),
    ] {
        let res = admin.get(&format!("/admin/audit?{query}")).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{query}");
        let doc = html(&res.text().await.unwrap());
        assert!(
            text_of(&doc, "#audit-problems").unwrap().contains(problem),
            "{query}"
        );
        assert!(texts(&doc, "#audit-table tbody tr").is_empty());
    }
}

#[tokio::test]
async fn the_audit_log_pages_with_its_filters_kept() {
    let admin = Admin::spawn().await;
    let none = serde_json::json!({});
    for i in 0..30 {
        event_at(
            &admin.app,
            &format!("2023-01-01T00:{i:02}:00Z"),
            "logout",
            "ann@example.org",
            "success",
            none.clone(),
        )
        .await;
    }
    let doc = admin.page("/admin/audit?event=logout").await;
    assert_eq!(texts(&doc, ".event-time").len(), 25);
    assert_eq!(
        text_of(&doc, ".list-summary").unwrap(),
        "Showing 1–25 of 30 events, newest first."
    );
    let next = scraper::Selector::parse(".pagination a[rel=next]").unwrap();
    let href = doc
        .select(&next)
        .next()
        .unwrap()
        .value()
        .attr("href")
        .unwrap()
        .to_owned();
    assert_eq!(href, "/admin/audit?event=logout&page=2");
    let res = admin
        .client
        .get(admin.app.url(&href))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.trim_start().starts_with("<section id=\"audit-rows\""));
    let doc = html(&body);
    assert_eq!(
        texts(&doc, ".event-time"),
        [
            "2023-01-01 00:04:00 UTC",
            "2023-01-01 00:03:00 UTC",
            "2023-01-01 00:02:00 UTC",
            "2023-01-01 00:01:00 UTC",
            "2023-01-01 00:00:00 UTC"
        ]
    );
}
