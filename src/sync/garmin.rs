//! Garmin activities by ping notification.
//!
//! `POST /webhooks/garmin` receives notifications
//! `{"activityFiles": [{userId, summaryId, callbackURL, fileType, …}]}`,
//! queues one `garmin_ping` job per file ([`enqueue_pings`]) and answers at
//! once; the job ([`run_ping`]) pulls the FIT file from `callbackURL` with the
//! athlete's token, parses it with the FIT importer and stores it as a Garmin
//! activity (`source = 'garmin'`, `external_id` = the summary id), once.
//!
//! Pings are not signed, so a ping is only trusted as far as this: its
//! `userId` must be a connected athlete, and its `callbackURL` must lie under
//! the Garmin app's API base URL — the athlete's token is never sent anywhere
//! else.

use std::io::Write as _;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest as _;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::db::activities::{self, NewActivity, Source, Stored};
use crate::db::jobs::{self, Job};
use crate::db::oauth_apps;
use crate::domain::Provider;
use crate::providers::ProviderCtx;
use crate::providers::tokens::{self, TokenError};

/// Largest FIT file pulled (the upload limit applies too, whichever is lower).
const MAX_FIT_BYTES: u64 = 50_000_000;

/// One file announced by a ping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileNotice {
    pub user_id: String,
    pub summary_id: String,
    #[serde(rename = "callbackURL")]
    pub callback_url: String,
    #[serde(default)]
    pub file_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ping {
    #[serde(default)]
    activity_files: Vec<Value>,
    #[serde(default)]
    deregistrations: Vec<Value>,
}

/// What a notification body announces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notification {
    /// Activity files to pull.
    pub files: Vec<FileNotice>,
    /// Garmin user ids that removed Pierre's access in Garmin Connect.
    pub deregistered: Vec<String>,
}

/// The files and deregistrations of a notification body; entries that are
/// not what they should be are skipped.
///
/// # Errors
/// When the body is not a JSON object.
pub fn notices(body: &[u8]) -> Result<Notification, serde_json::Error> {
    let ping: Ping = serde_json::from_slice(body)?;
    Ok(Notification {
        files: ping
            .activity_files
            .into_iter()
            .filter_map(|v| serde_json::from_value::<FileNotice>(v).ok())
            .filter(|n| !n.user_id.is_empty() && !n.summary_id.is_empty())
            .collect(),
        deregistered: ping
            .deregistrations
            .iter()
            .filter_map(|v| v.get("userId").and_then(Value::as_str))
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

/// Garmin users who removed Pierre's access: their connections become
/// `revoked`, their tokens are deleted, and the athlete is told why. Returns
/// how many connections changed.
///
/// # Errors
/// Database errors.
pub async fn deregister(conn: &mut PgConnection, user_ids: &[String]) -> Result<u64, sqlx::Error> {
    if user_ids.is_empty() {
        return Ok(0);
    }
    let done = sqlx::query!(
        "UPDATE provider_connections
         SET status = 'revoked', access_token = NULL, refresh_token = NULL, expires_at = NULL,
             last_error = 'Pierre''s access was removed in Garmin Connect. Connect Garmin again to resume importing.',
             last_error_at = now(), updated_at = now()
         WHERE provider = 'garmin' AND external_athlete_id = ANY($1) AND status <> 'revoked'",
        user_ids
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// What [`enqueue_pings`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Queued {
    /// Jobs queued.
    pub queued: usize,
    /// Files already waiting (the same ping delivered again).
    pub duplicates: usize,
    /// Files of users not connected to this instance.
    pub unknown: usize,
}

/// Queue a `garmin_ping` job per file of connected athletes (one per summary
/// id while waiting). Run it in the webhook's transaction.
///
/// # Errors
/// Database errors.
pub async fn enqueue_pings(
    conn: &mut PgConnection,
    files: &[FileNotice],
) -> Result<Queued, sqlx::Error> {
    let mut out = Queued::default();
    for file in files {
        let connection = tokens::by_external(&mut *conn, Provider::Garmin, &file.user_id).await?;
        let Some(connection) = connection.filter(|c| c.status != "revoked") else {
            out.unknown += 1;
            continue;
        };
        let payload = json!({
            // As every sync job's: what a disconnect cancels by (`connections::cancel_queued_sync`).
            "provider": Provider::Garmin.as_str(),
            "userId": file.user_id,
            "summaryId": file.summary_id,
            "callbackURL": file.callback_url,
            "fileType": file.file_type,
        });
        let key = format!("garmin:{}", file.summary_id);
        match jobs::enqueue(
            &mut *conn,
            jobs::GARMIN_PING,
            Some(connection.user_id),
            &payload,
            Some(&key),
        )
        .await?
        {
            Some(_) => out.queued += 1,
            None => out.duplicates += 1,
        }
    }
    Ok(out)
}

/// Whether `callback` lies under `api_base` (same scheme, host and port, and
/// below its path): the only place the athlete's token may be sent.
#[must_use]
pub fn trusted_callback(api_base: &str, callback: &str) -> bool {
    let (Ok(base), Ok(url)) = (url::Url::parse(api_base), url::Url::parse(callback)) else {
        return false;
    };
    let base_path = base.path().trim_end_matches('/');
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.username().is_empty()
        && (url.path() == base_path || url.path().starts_with(&format!("{base_path}/")))
}

/// How one pull ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pulled {
    Imported(Uuid),
    /// Already stored (this summary id, the same file, or the same activity from
    /// another source).
    AlreadyThere,
    /// Not importable; recorded among the provider errors, not retried.
    Skipped(String),
}

fn text<'a>(job: &'a Job, key: &str) -> Option<&'a str> {
    job.payload.get(key).and_then(Value::as_str)
}

async fn record_error(pool: &PgPool, user: Option<Uuid>, status: Option<i32>, message: &str) {
    if let Ok(mut conn) = pool.acquire().await {
        let _ =
            crate::db::provider_errors::insert(&mut conn, "garmin", user, "sync", status, message)
                .await;
    }
}

/// The `garmin_ping` job: pull, parse and store one activity file.
///
/// # Errors
/// Failures worth retrying (the provider unreachable, 429 or 5xx, the
/// database); permanent ones end in [`Pulled::Skipped`].
pub async fn run_ping(pool: &PgPool, ctx: &ProviderCtx, job: &Job) -> anyhow::Result<Pulled> {
    let user = job.user_id.context("garmin_ping job without an athlete")?;
    let summary = text(job, "summaryId").context("garmin_ping job without a summaryId")?;
    let callback = text(job, "callbackURL").context("garmin_ping job without a callbackURL")?;
    let file_type = text(job, "fileType").unwrap_or("FIT");
    let skip = |message: String, status: Option<i32>| async move {
        tracing::warn!(job = job.id, %message, "Garmin file skipped");
        record_error(pool, Some(user), status, &message).await;
        Ok(Pulled::Skipped(message))
    };
    if !file_type.eq_ignore_ascii_case("fit") {
        return skip(
            format!("Garmin activity {summary}: {file_type} files are not imported, only FIT."),
            None,
        )
        .await;
    }
    let mut conn = pool.acquire().await?;
    let existing = sqlx::query_scalar!(
        "SELECT id FROM activities WHERE source = 'garmin' AND external_id = $1",
        summary
    )
    .fetch_optional(&mut *conn)
    .await?;
    if existing.is_some() {
        return Ok(Pulled::AlreadyThere);
    }
    let app = oauth_apps::get(&mut conn, Provider::Garmin.as_str())
        .await?
        .context("the Garmin app is not configured")?;
    drop(conn);
    if !trusted_callback(&app.api_base_url, callback) {
        return skip(
            format!(
                "A Garmin ping for activity {summary} pointed outside the Garmin API base URL ({}); ignored.",
                app.api_base_url
            ),
            None,
        )
        .await;
    }
    let token = match tokens::access_token(ctx, pool, user, Provider::Garmin).await {
        Ok(token) => token,
        Err(TokenError::NotConnected) => {
            return skip(
                format!("Garmin activity {summary}: the athlete is no longer connected."),
                None,
            )
            .await;
        }
        Err(TokenError::NeedsReauth) => {
            return skip(
                format!("Garmin activity {summary}: the athlete must connect Garmin again."),
                None,
            )
            .await;
        }
        Err(err) => return Err(err.into()),
    };
    let bytes = pull(ctx, callback, &token).await?;
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err((status, message)) => {
            return skip(
                format!("Garmin activity {summary}: {message}"),
                Some(status),
            )
            .await;
        }
    };
    let parsed = tokio::task::spawn_blocking({
        let bytes = bytes.clone();
        move || crate::import::fit::parse(&bytes)
    })
    .await?;
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(err) => {
            return skip(
                format!("Garmin activity {summary}: the FIT file could not be read: {err}"),
                None,
            )
            .await;
        }
    };
    store(pool, user, summary, &parsed, &bytes).await
}

/// GET the file with the athlete's token. `Ok(Err((status, why)))` for answers
/// that retrying will not change.
async fn pull(
    ctx: &ProviderCtx,
    callback: &str,
    token: &secrecy::SecretString,
) -> anyhow::Result<Result<Vec<u8>, (i32, String)>> {
    use secrecy::ExposeSecret as _;
    let sent = ctx
        .http
        .get(callback)
        .bearer_auth(token.expose_secret())
        .send()
        .await;
    let res = match sent {
        Ok(res) => res,
        Err(err) => {
            let label = if err.is_timeout() { "timeout" } else { "error" };
            ctx.metrics.call("garmin", "activity_file", label);
            // No URL in the message: its query holds the pull token.
            anyhow::bail!("could not reach Garmin to pull a file ({label})");
        }
    };
    let status = res.status().as_u16();
    ctx.metrics
        .call("garmin", "activity_file", &status.to_string());
    match status {
        200 => {}
        401 | 403 => {
            return Ok(Err((
                i32::from(status),
                "Garmin refused the athlete's token; they must connect Garmin again.".to_owned(),
            )));
        }
        404 | 410 => {
            return Ok(Err((
                i32::from(status),
                "Garmin no longer has this file.".to_owned(),
            )));
        }
        _ => anyhow::bail!("Garmin answered {status} to a file pull"),
    }
    let limit = ctx.settings.upload.max_file_bytes.min(MAX_FIT_BYTES);
    if res.content_length().is_some_and(|n| n > limit) {
        return Ok(Err((
            200,
            format!("the file is larger than {limit} bytes."),
        )));
    }
    let bytes = res.bytes().await.context("reading a Garmin file")?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Ok(Err((
            200,
            format!("the file is larger than {limit} bytes."),
        )));
    }
    Ok(Ok(bytes.to_vec()))
}

fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes)?;
    encoder.finish()
}

async fn store(
    pool: &PgPool,
    user: Uuid,
    summary: &str,
    parsed: &crate::domain::ParsedActivity,
    bytes: &[u8],
) -> anyhow::Result<Pulled> {
    let mut conn = pool.acquire().await?;
    let history = crate::db::thresholds::history(&mut conn, user).await?;
    drop(conn);
    let metrics = crate::training::metrics_for(parsed, &history);
    let name: String = parsed
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| {
            format!(
                "{} (Garmin)",
                crate::web::format::sport_label(parsed.sport.as_str())
            )
        })
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let sha = sha2::Sha256::digest(bytes).to_vec();
    let gz = gzip(bytes)?;
    let file_name = format!("garmin-{summary}.fit");
    let size = i64::try_from(bytes.len()).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let stored = activities::insert(
        &mut tx,
        &NewActivity {
            user_id: user,
            source: Source::Garmin,
            external_id: Some(summary),
            name: &name,
            parsed,
            file_sha256: Some(&sha),
            original: Some((&file_name, &gz, size)),
            metrics: Some(&metrics),
        },
    )
    .await;
    let stored = match stored {
        Ok(stored) => stored,
        // Another worker stored the same summary id meanwhile.
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => {
            return Ok(Pulled::AlreadyThere);
        }
        Err(err) => return Err(err.into()),
    };
    sqlx::query!(
        "UPDATE provider_connections SET last_sync_at = now() WHERE user_id = $1 AND provider = 'garmin'",
        user
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(match stored {
        Stored::Imported(id) => Pulled::Imported(id),
        Stored::SameFile(_) | Stored::ProbableDuplicate(_) => Pulled::AlreadyThere,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_callbacks_under_the_api_base_are_trusted() {
        let base = "https://apis.garmin.com/wellness-api";
        assert!(trusted_callback(
            base,
            "https://apis.garmin.com/wellness-api/rest/activityFile?id=1&token=x"
        ));
        assert!(trusted_callback(
            "http://127.0.0.1:8082/garmin/wellness-api/",
            "http://127.0.0.1:8082/garmin/wellness-api/rest/activityFile?id=1"
        ));
        for bad in [
            "https://evil.example/wellness-api/rest/activityFile",
            "http://apis.garmin.com/wellness-api/rest/activityFile",
            "https://apis.garmin.com:8443/wellness-api/rest/activityFile",
            "https://apis.garmin.com/wellness-apix/rest",
            "https://apis.garmin.com/other",
            "https://user@apis.garmin.com/wellness-api/rest",
            "not a url",
        ] {
            assert!(!trusted_callback(base, bad), "{bad}");
        }
    }

    #[test]
    fn pings_list_their_files_and_skip_what_is_not_one() {
        let body = br#"{"activityFiles": [
            {"userId": "u1", "summaryId": "77", "callbackURL": "https://x/y?id=77", "fileType": "FIT", "manual": false},
            {"userId": "u1"},
            {"userId": "", "summaryId": "1", "callbackURL": "z"}
        ]}"#;
        let files = notices(body).unwrap().files;
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].summary_id, "77");
        assert_eq!(notices(b"{}").unwrap(), Notification::default());
        let gone = notices(br#"{"deregistrations": [{"userId": "u9"}, {"x": 1}]}"#).unwrap();
        assert_eq!(gone.deregistered, ["u9"]);
        assert!(notices(b"nope").is_err());
    }
}
