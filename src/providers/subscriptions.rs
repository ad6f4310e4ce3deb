//! The admin page's calls to Strava about the app itself: its push
//! subscription (create, list, delete) and a credentials check.
//!
//! `GET {api}/push_subscriptions?client_id&client_secret` answers 200 only
//! for a client id and secret that belong together, which makes it the
//! "test credentials" call too (it costs no athlete token and no rate budget).
//! Errors become sentences an admin can act on, naming which part was refused;
//! the secret never appears in them.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::ProviderCtx;

/// Strava validates the callback within 2 s; allow for that and the network.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(15);

/// The app's side of the calls.
pub struct App<'a> {
    /// `https://www.strava.com/api/v3` (or the simulator's).
    pub api_base: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
}

impl std::fmt::Debug for App<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("api_base", &self.api_base)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// One push subscription as Strava lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    pub id: u64,
    #[serde(default)]
    pub callback_url: String,
}

/// Why a call did not succeed, as a sentence for the admin page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    /// HTTP status, when the provider answered.
    pub status: Option<u16>,
    pub message: String,
    /// Strava said the subscription already exists.
    pub already_exists: bool,
}

/// Strava's error body: `{"message": "...", "errors": [{"resource", "field", "code"}]}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    resource: String,
    #[serde(default)]
    field: String,
    #[serde(default)]
    code: String,
}

fn base(app: &App<'_>) -> String {
    app.api_base.trim_end_matches('/').to_owned()
}

fn unreachable(ctx: &ProviderCtx, endpoint: &str, err: &reqwest::Error) -> Refused {
    let status = if err.is_timeout() { "timeout" } else { "error" };
    ctx.metrics.call("strava", endpoint, status);
    let what = if err.is_timeout() {
        "did not answer in time"
    } else if err.is_connect() {
        "could not be reached"
    } else {
        "failed"
    };
    // Without the URL's query: it would hold the secret.
    let host = err
        .url()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default();
    Refused {
        status: None,
        message: format!("The call to Strava's API at {host} {what}. Check the API base URL."),
        already_exists: false,
    }
}

/// Turn a non-success answer into a sentence.
fn refusal(status: u16, body: &str, doing: &str) -> Refused {
    let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
    let fields: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| {
            format!("{} {} {}", e.resource, e.field, e.code)
                .trim()
                .to_owned()
        })
        .collect();
    let field_is = |name: &str| parsed.errors.iter().any(|e| e.field == name);
    let already_exists = parsed
        .errors
        .iter()
        .any(|e| e.code.contains("already exists"));
    let message = match status {
        401 | 403 | 400 if field_is("client_secret") => {
            "Strava refused the client secret: it does not belong to this client id. Replace the secret with the one shown on Strava's API settings page.".to_owned()
        }
        401 | 403 | 400 if field_is("client_id") => {
            "Strava does not know this client id (or the secret does not match it). Check the client id, then the secret.".to_owned()
        }
        401 | 403 => "Strava refused the app's credentials (client id or secret).".to_owned(),
        _ if already_exists => {
            "Strava already has a push subscription for this app. Delete it first (or use Test credentials to see it).".to_owned()
        }
        _ if parsed.errors.iter().any(|e| e.field.contains("callback")) => format!(
            "Strava could not validate the callback URL: {}. It must be reachable from Strava and answer the hub.challenge (is PIERRE_PUBLIC_URL public?).",
            fields.join("; ")
        ),
        404 => format!("Strava answered 404 Not Found while {doing}: check the API base URL."),
        429 => "Strava's rate limit is exhausted for now (429); try again after the 15-minute window.".to_owned(),
        500..=599 => format!("Strava had a server error ({status}) while {doing}; try again later."),
        _ => {
            let detail = if fields.is_empty() {
                parsed.message
            } else {
                format!("{}: {}", parsed.message, fields.join("; "))
            };
            format!("Strava answered {status} while {doing}: {detail}")
        }
    };
    Refused {
        status: Some(status),
        message,
        already_exists,
    }
}

async fn answer(
    ctx: &ProviderCtx,
    endpoint: &str,
    doing: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<(u16, String), Refused> {
    let res = sent.map_err(|err| unreachable(ctx, endpoint, &err))?;
    let status = res.status().as_u16();
    ctx.metrics.call("strava", endpoint, &status.to_string());
    let body = res
        .text()
        .await
        .map_err(|err| unreachable(ctx, endpoint, &err))?;
    if (200..300).contains(&status) {
        Ok((status, body))
    } else {
        Err(refusal(status, &body, doing))
    }
}

/// The app's push subscriptions; `Ok` means the id/secret pair is accepted.
///
/// # Errors
/// [`Refused`] with what went wrong.
pub async fn list(ctx: &ProviderCtx, app: &App<'_>) -> Result<Vec<Subscription>, Refused> {
    let sent = ctx
        .http
        .get(format!("{}/push_subscriptions", base(app)))
        .query(&[
            ("client_id", app.client_id),
            ("client_secret", app.client_secret.expose_secret()),
        ])
        .send()
        .await;
    let (_, body) = answer(ctx, "push_subscriptions", "checking the credentials", sent).await?;
    serde_json::from_str(&body).map_err(|_| Refused {
        status: Some(200),
        message: "Strava accepted the credentials but its answer was not a subscription list; check the API base URL.".to_owned(),
        already_exists: false,
    })
}

#[derive(Deserialize)]
struct Created {
    id: u64,
}

/// Create the push subscription (Strava validates `callback_url` first);
/// its id.
///
/// # Errors
/// [`Refused`] with what went wrong.
pub async fn create(
    ctx: &ProviderCtx,
    app: &App<'_>,
    callback_url: &str,
    verify_token: &SecretString,
) -> Result<u64, Refused> {
    let sent = ctx
        .http
        .post(format!("{}/push_subscriptions", base(app)))
        .timeout(SUBSCRIBE_TIMEOUT)
        .form(&[
            ("client_id", app.client_id),
            ("client_secret", app.client_secret.expose_secret()),
            ("callback_url", callback_url),
            ("verify_token", verify_token.expose_secret()),
        ])
        .send()
        .await;
    let (_, body) = answer(ctx, "push_subscriptions", "creating the subscription", sent).await?;
    serde_json::from_str::<Created>(&body)
        .map(|c| c.id)
        .map_err(|_| Refused {
            status: Some(200),
            message: "Strava answered without a subscription id; check the API base URL."
                .to_owned(),
            already_exists: false,
        })
}

/// Delete subscription `id`. `Ok(false)` when Strava had no such subscription.
///
/// # Errors
/// [`Refused`] with what went wrong.
pub async fn delete(ctx: &ProviderCtx, app: &App<'_>, id: &str) -> Result<bool, Refused> {
    let sent = ctx
        .http
        .delete(format!(
            "{}/push_subscriptions/{}",
            base(app),
            urlencoding_path(id)
        ))
        .query(&[
            ("client_id", app.client_id),
            ("client_secret", app.client_secret.expose_secret()),
        ])
        .send()
        .await;
    match answer(ctx, "push_subscriptions", "deleting the subscription", sent).await {
        Ok(_) => Ok(true),
        Err(refused) if refused.status == Some(404) => Ok(false),
        Err(refused) => Err(refused),
    }
}

/// Keep only digits (Strava's ids are numbers; nothing else reaches the path).
fn urlencoding_path(id: &str) -> String {
    id.chars().filter(char::is_ascii_digit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_part_that_failed() {
        let secret = refusal(
            401,
            r#"{"message":"Authorization Error","errors":[{"resource":"Application","field":"client_secret","code":"invalid"}]}"#,
            "x",
        );
        assert!(
            secret.message.contains("client secret"),
            "{}",
            secret.message
        );
        let id = refusal(
            401,
            r#"{"message":"Authorization Error","errors":[{"resource":"Application","field":"client_id","code":"invalid"}]}"#,
            "x",
        );
        assert!(id.message.contains("client id"), "{}", id.message);
        let exists = refusal(
            400,
            r#"{"message":"Bad Request","errors":[{"resource":"PushSubscription","field":"","code":"already exists"}]}"#,
            "x",
        );
        assert!(exists.already_exists);
        let callback = refusal(
            400,
            r#"{"message":"Bad Request","errors":[{"resource":"PushSubscription","field":"callback url","code":"GET to callback URL does not return 200"}]}"#,
            "x",
        );
        assert!(
            callback.message.contains("callback URL"),
            "{}",
            callback.message
        );
        assert!(refusal(503, "<html>", "x").message.contains("server error"));
        assert!(refusal(418, "not json", "doing y").message.contains("418"));
        assert_eq!(urlencoding_path("12/../x3"), "123");
    }
}
