//! `pierre admin …`: create administrators and change roles from the command
//! line (the way to get the first admin of an instance), and `pierre keys
//! rotate`, which re-encrypts the secrets at rest with the current data key.
//!
//! Every command prints one line: what was done on standard output, or
//! `error: …` on standard error. Exit status:
//! * 0 — done (or nothing needed doing, which the line says);
//! * 1 — refused: unknown email, email already taken, weak or mismatched password;
//! * 2 — bad arguments: unknown role, malformed email or display name
//!   (clap and configuration errors use 2 as well);
//! * 3 — the database cannot be reached, is not migrated, or failed.
//!
//! Changes are audited (actor: none, `details.via = "cli"`) in the same
//! transaction as the change itself.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::process::ExitCode;

use clap::Subcommand;
use pierre::auth::Role;
use pierre::auth::password::{self, PasswordHasher};
use pierre::config::{Settings, redact_url};
use pierre::db::audit::{self, NewEvent, event};
use pierre::db::users::{self, Created};
use pierre::db::{self, DbPools, ReadinessError};
use pierre::web::forms::{FieldErrors, email_field, text_field};
use secrecy::ExposeSecret as _;
use sqlx::PgConnection;

/// `pierre admin …` subcommands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator (roles athlete and admin). The password is read
    /// from standard input when that is not a terminal (one line), otherwise
    /// asked for twice without echo.
    Create {
        /// Email address of the new administrator.
        #[arg(long)]
        email: String,
        /// Name shown in the app (default: the part of the email before the @).
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Grant a role (athlete, coach or admin) to an existing user.
    Grant {
        /// Email address of the user.
        #[arg(long)]
        email: String,
        /// athlete, coach or admin.
        #[arg(long)]
        role: String,
    },
    /// Revoke a role from a user; it takes effect on their next request.
    Revoke {
        /// Email address of the user.
        #[arg(long)]
        email: String,
        /// athlete, coach or admin.
        #[arg(long)]
        role: String,
    },
}

/// Why a command did not complete: one line and an exit status.
#[derive(Debug)]
struct Failure {
    code: u8,
    message: String,
}

const REFUSED: u8 = 1;
const USAGE: u8 = 2;
const DATABASE: u8 = 3;

fn refused(message: impl Into<String>) -> Failure {
    Failure {
        code: REFUSED,
        message: message.into(),
    }
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: USAGE,
        message: message.into(),
    }
}

impl From<sqlx::Error> for Failure {
    fn from(err: sqlx::Error) -> Self {
        let message = if db::is_connection_error(&err) {
            format!("lost the connection to the database: {err}")
        } else {
            format!("database error: {err}")
        };
        Self {
            code: DATABASE,
            message,
        }
    }
}

/// Run one admin command; prints its one line and returns the exit status.
pub async fn run(settings: &Settings, command: AdminCommand) -> ExitCode {
    report(execute(settings, command).await)
}

/// `pierre keys …` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every secret at rest (OAuth app secrets, provider tokens)
    /// with the current key, the first of `PIERRE_DATA_KEYS`, in one
    /// transaction. Values already under that key are left as they are, so
    /// running it again changes nothing.
    Rotate,
}

/// `pierre oauth-apps …` subcommands.
#[derive(Debug, Subcommand)]
pub enum OauthAppsCommand {
    /// Point the Strava and Garmin apps at the provider simulator at URL (demo
    /// client id 4242 and secret, the simulator's endpoints, enabled, a webhook
    /// verify token) and tell the simulator where Garmin pings go. Idempotent.
    ConfigureSim {
        /// The simulator's base URL, e.g. `http://127.0.0.1:8082`.
        url: String,
    },
    /// Make sure Strava has a push subscription to this instance's
    /// `/webhooks/strava` (created when missing). Pierre must be serving.
    Subscribe,
}

/// Run one oauth-apps command; prints its one line and returns the exit status
/// (1 when the provider refuses, 2 for a bad URL, 3 for the database).
pub async fn run_oauth_apps(settings: Settings, command: OauthAppsCommand) -> ExitCode {
    report(oauth_apps_command(settings, command).await)
}

async fn oauth_apps_command(
    settings: Settings,
    command: OauthAppsCommand,
) -> Result<String, Failure> {
    use pierre::providers::setup::{self, SetupError, Subscribed};
    let pool = connect(&settings).await?;
    let registry = prometheus::Registry::new();
    let metrics = pierre::metrics::ProviderMetrics::new(&registry)
        .map_err(|err| refused(format!("metrics: {err}")))?;
    let ctx = pierre::providers::ProviderCtx::new(
        std::sync::Arc::new(settings),
        pierre::clock::Clock::system(),
        std::sync::Arc::new(metrics),
    )
    .map_err(|err| refused(format!("could not build the HTTP client: {err}")))?;
    let failed = |err: SetupError| match err {
        SetupError::BadUrl(_) => usage(err.to_string()),
        SetupError::Database(err) => Failure::from(err),
        SetupError::Crypto(_) | SetupError::Refused(_) => refused(err.to_string()),
    };
    let message = match command {
        OauthAppsCommand::ConfigureSim { url } => {
            let (apps, pings) = setup::configure_sim(&pool, &ctx, &url)
                .await
                .map_err(failed)?;
            let apps: Vec<String> = apps
                .iter()
                .map(|a| {
                    if a.created {
                        format!("{} configured", a.provider)
                    } else if a.changed.is_empty() {
                        format!("{} already configured", a.provider)
                    } else {
                        format!("{} updated ({})", a.provider, a.changed.join(", "))
                    }
                })
                .collect();
            format!(
                "OAuth apps for the simulator at {}: {}; {}.",
                url.trim_end_matches('/'),
                apps.join(", "),
                pings.map_or_else(
                    || "the simulator did not answer, so Garmin pings are not routed yet"
                        .to_owned(),
                    |u| format!("Garmin pings go to {u}")
                )
            )
        }
        OauthAppsCommand::Subscribe => match setup::ensure_subscription(&pool, &ctx)
            .await
            .map_err(failed)?
        {
            Subscribed::Already(id) => format!("Strava push subscription {id} is in place."),
            Subscribed::Created(id) => format!("Strava push subscription {id} created."),
        },
    };
    pool.close().await;
    Ok(message)
}

/// Run one keys command; prints its one line and returns the exit status
/// (as the admin commands; 1 when a value cannot be decrypted).
pub async fn run_keys(settings: &Settings, command: KeysCommand) -> ExitCode {
    report(match command {
        KeysCommand::Rotate => rotate_keys(settings).await,
    })
}

async fn rotate_keys(settings: &Settings) -> Result<String, Failure> {
    use pierre::db::oauth_apps::{self, RotateError};
    let keys = &settings.data_keys;
    let pool = connect(settings).await?;
    let mut tx = pool.begin().await?;
    let rotated = oauth_apps::rotate_keys(&mut tx, keys)
        .await
        .map_err(|err| match err {
            RotateError::Database(err) => Failure::from(err),
            RotateError::Crypto { .. } => refused(format!(
                "{err}; nothing was re-encrypted (key ids configured: {})",
                keys.ids().join(", ")
            )),
        })?;
    tx.commit().await?;
    pool.close().await;
    let current = keys.current_id();
    Ok(format!(
        "Re-encrypted {} of {} secret value{} with the key {current}{}.",
        rotated.resealed,
        rotated.examined,
        if rotated.examined == 1 { "" } else { "s" },
        if rotated.resealed == 0 {
            "; nothing needed doing"
        } else {
            ""
        }
    ))
}

fn report(result: Result<String, Failure>) -> ExitCode {
    match result {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(failure) => {
            // One line, whatever the underlying error printed.
            let message = failure.message.replace(['\r', '\n'], " ");
            eprintln!("error: {message}");
            ExitCode::from(failure.code)
        }
    }
}

async fn execute(settings: &Settings, command: AdminCommand) -> Result<String, Failure> {
    match command {
        AdminCommand::Create {
            email,
            display_name,
        } => create(settings, &email, display_name.as_deref()).await,
        AdminCommand::Grant { email, role } => change_role(settings, &email, &role, true).await,
        AdminCommand::Revoke { email, role } => change_role(settings, &email, &role, false).await,
    }
}

/// A one-connection pool, checked to be reachable and migrated.
async fn connect(settings: &Settings) -> Result<sqlx::PgPool, Failure> {
    let options = db::connect_options(&settings.database)
        .map_err(|err| usage(format!("DATABASE_URL cannot be used: {err}")))?;
    let database = DbPools::default().create(&settings.database, options, 1);
    let url = redact_url(settings.database.url.expose_secret());
    match db::check_ready(&database).await {
        Ok(()) => Ok(database.pool().clone()),
        Err(ReadinessError::Unreachable) => Err(Failure {
            code: DATABASE,
            message: format!(
                "the database cannot be reached (DATABASE_URL {url}); is PostgreSQL running?"
            ),
        }),
        Err(ReadinessError::MigrationsPending) => Err(Failure {
            code: DATABASE,
            message: format!(
                "the database (DATABASE_URL {url}) is not migrated; run `pierre migrate` first"
            ),
        }),
    }
}

fn valid_email(email: &str) -> Result<String, Failure> {
    let mut errors = FieldErrors::default();
    let email = email_field(&mut errors, "email", email);
    if let Some(message) = errors.get("email") {
        return Err(usage(format!("--email: {message}")));
    }
    Ok(email)
}

async fn create(
    settings: &Settings,
    email: &str,
    display_name: Option<&str>,
) -> Result<String, Failure> {
    let email = valid_email(email)?;
    let default_name = email.split('@').next().unwrap_or_default().to_owned();
    let mut errors = FieldErrors::default();
    let display_name = text_field(
        &mut errors,
        "display_name",
        "The display name",
        display_name.unwrap_or(&default_name),
        true,
        100,
    );
    if let Some(message) = errors.get("display_name") {
        return Err(usage(format!("--display-name: {message}")));
    }
    let pool = connect(settings).await?;
    let grant_hint = || {
        refused(format!(
            "a user with email {email} already exists; to make them an admin run: \
             pierre admin grant --email {email} --role admin"
        ))
    };
    // Ask before the password is typed, not after.
    if users::id_by_email(&mut *pool.acquire().await?, &email)
        .await?
        .is_some()
    {
        return Err(grant_hint());
    }
    let password = read_password()?;
    password::check_new_password(&password, &[&email, &display_name])
        .map_err(|message| refused(format!("password refused: {message}")))?;
    let hash = PasswordHasher::default()
        .hash(password)
        .await
        .map_err(|err| refused(format!("could not hash the password: {err}")))?;

    let roles = [Role::Athlete.as_str(), Role::Admin.as_str()];
    let mut tx = pool.begin().await?;
    let Created::Yes(id) = users::create(&mut tx, &email, &display_name, &hash, &roles).await?
    else {
        return Err(grant_hint());
    };
    record(
        &mut tx,
        event::ADMIN_CREATED,
        id,
        &email,
        serde_json::json!({ "via": "cli", "roles": roles }),
    )
    .await?;
    tx.commit().await?;
    pool.close().await;
    Ok(format!(
        "Created administrator {email} (roles athlete, admin). They can sign in now."
    ))
}

async fn change_role(
    settings: &Settings,
    email: &str,
    role: &str,
    grant: bool,
) -> Result<String, Failure> {
    let role = Role::parse(role).map_err(|message| usage(format!("--role: {message}")))?;
    let email = email.trim();
    if email.is_empty() {
        return Err(usage("--email: Email is required."));
    }
    let pool = connect(settings).await?;
    let mut tx = pool.begin().await?;
    let Some(id) = users::id_by_email(&mut tx, email).await? else {
        return Err(refused(format!(
            "no user has the email {email}; check the address (`pierre admin create` makes a new admin)"
        )));
    };
    let changed = if grant {
        users::grant_role(&mut tx, id, role.as_str()).await?
    } else {
        users::revoke_role(&mut tx, id, role.as_str()).await?
    };
    let role = role.as_str();
    if !changed {
        drop(tx);
        pool.close().await;
        return Ok(if grant {
            format!("{email} already has the role {role}; nothing changed.")
        } else {
            format!("{email} does not have the role {role}; nothing changed.")
        });
    }
    let event_type = if grant {
        event::ROLE_GRANTED
    } else {
        event::ROLE_REVOKED
    };
    record(
        &mut tx,
        event_type,
        id,
        email,
        serde_json::json!({ "via": "cli", "role": role }),
    )
    .await?;
    tx.commit().await?;
    pool.close().await;
    Ok(if grant {
        format!("Granted the role {role} to {email}.")
    } else {
        format!("Revoked the role {role} from {email}; this takes effect on their next request.")
    })
}

async fn record(
    conn: &mut PgConnection,
    event_type: &str,
    subject: uuid::Uuid,
    email: &str,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        NewEvent {
            actor: None,
            subject: Some(subject),
            subject_email: Some(email),
            event_type,
            success: true,
            details,
            ..NewEvent::default()
        },
    )
    .await
}

/// Bytes read from a pipe at most: the longest password in 4-byte characters,
/// plus a line ending.
const MAX_LINE_BYTES: usize = password::MAX_LEN * 4 + 2;

/// The new password: one line from a pipe, or typed twice at the terminal.
fn read_password() -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let prompt = |text: &str| {
            rpassword::prompt_password(text)
                .map_err(|err| refused(format!("could not read the password: {err}")))
        };
        let first = prompt("Password for the new administrator: ")?;
        let second = prompt("The same password again: ")?;
        if first != second {
            return Err(refused("the two passwords differ; nothing was created"));
        }
        if first.is_empty() {
            return Err(refused("no password given; nothing was created"));
        }
        return Ok(first);
    }
    let mut line = Vec::new();
    stdin
        .lock()
        .take(u64::try_from(MAX_LINE_BYTES + 1).unwrap_or(u64::MAX))
        .read_until(b'\n', &mut line)
        .map_err(|err| refused(format!("could not read the password: {err}")))?;
    if line.len() > MAX_LINE_BYTES {
        return Err(refused(format!(
            "password refused: Use at most {} characters.",
            password::MAX_LEN
        )));
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
    }
    if line.is_empty() {
        return Err(refused(
            "no password on standard input: pipe one line, or run in a terminal to be asked",
        ));
    }
    String::from_utf8(line).map_err(|_| refused("the password is not valid UTF-8 text"))
}
