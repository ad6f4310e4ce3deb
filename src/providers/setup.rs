//! Pointing the OAuth apps at the provider simulator (`pierre oauth-apps
//! configure-sim URL`, run by `./run`) and making sure the Strava push
//! subscription exists (`pierre oauth-apps subscribe`).
//!
//! Both are idempotent: values already in place are left alone (and not
//! audited again); changes are audited like the admin page's
//! (`oauth_app_created` / `oauth_app_changed` / `oauth_subscription_created`,
//! with `via: "cli"`), never with a secret.

use base64::Engine as _;
use rand::RngCore as _;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::PgPool;

use super::ProviderCtx;
use super::subscriptions;
use crate::crypto::{Aad, CryptoError, Sealed};
use crate::db::audit::{self, NewEvent, event};
use crate::db::oauth_apps::{self, AppRow, AppUpdate, column};
use crate::domain::Provider;
use crate::provider_sim::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};

/// Why the setup did not complete.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("the simulator URL must be http(s)://host:port (got {0:?})")]
    BadUrl(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("a stored secret cannot be used: {0}")]
    Crypto(#[from] CryptoError),
    #[error("{0}")]
    Refused(String),
}

/// What one app's configuration did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppOutcome {
    pub provider: &'static str,
    /// Names of the fields that changed (empty: already configured).
    pub changed: Vec<&'static str>,
    pub created: bool,
}

/// The endpoints of the simulator for one provider: authorize, token, API base, scopes.
fn endpoints(provider: Provider, base: &str) -> (String, String, String, &'static str) {
    match provider {
        Provider::Strava => (
            format!("{base}/oauth/authorize"),
            format!("{base}/oauth/token"),
            format!("{base}/api/v3"),
            "read,activity:read_all",
        ),
        Provider::Garmin => (
            format!("{base}/garmin/oauth2Confirm"),
            format!("{base}/garmin/di-oauth2-service/oauth/token"),
            format!("{base}/garmin/wellness-api"),
            "",
        ),
    }
}

fn opens_to(
    keys: &crate::crypto::DataKeys,
    provider: Provider,
    col: &str,
    stored: Option<&[u8]>,
    expected: Option<&str>,
) -> bool {
    stored
        .and_then(|bytes| Sealed::from_bytes(bytes).ok())
        .and_then(|sealed| keys.open(&sealed, &Aad::app(provider.as_str(), col)).ok())
        .is_some_and(|value| expected.is_none_or(|e| value.expose_secret() == e))
}

/// Configure the Strava and Garmin apps for the simulator at `sim_url`.
///
/// Demo client id and secret, the simulator's endpoints, enabled, a verify
/// token for Strava's webhooks; then tell the simulator where Garmin pings
/// go (`{public URL}/webhooks/garmin`; skipped with a note when the simulator
/// does not answer).
///
/// # Errors
/// A malformed URL, database or sealing errors.
pub async fn configure_sim(
    pool: &PgPool,
    ctx: &ProviderCtx,
    sim_url: &str,
) -> Result<(Vec<AppOutcome>, Option<String>), SetupError> {
    let parsed = url::Url::parse(sim_url).map_err(|_| SetupError::BadUrl(sim_url.to_owned()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(SetupError::BadUrl(sim_url.to_owned()));
    }
    let base = sim_url.trim_end_matches('/');
    let mut outcomes = Vec::new();
    for provider in Provider::ALL {
        outcomes.push(configure_app(pool, ctx, provider, base).await?);
    }
    let ping_url = format!(
        "{}/webhooks/garmin",
        ctx.settings.public_url.as_str().trim_end_matches('/')
    );
    let told = ctx
        .http
        .post(format!("{base}/__sim/garmin/ping-url"))
        .json(&serde_json::json!({ "url": ping_url }))
        .send()
        .await
        .ok()
        .filter(|res| res.status().is_success())
        .map(|_| ping_url);
    Ok((outcomes, told))
}

/// One provider's app for the simulator at `base`, in its own transaction.
async fn configure_app(
    pool: &PgPool,
    ctx: &ProviderCtx,
    provider: Provider,
    base: &str,
) -> Result<AppOutcome, SetupError> {
    let keys = &ctx.settings.data_keys;
    {
        let mut tx = pool.begin().await?;
        let stored: Option<AppRow> = oauth_apps::get(&mut tx, provider.as_str()).await?;
        let (authorize_url, token_url, api_base_url, scopes) = endpoints(provider, base);
        let client_id = DEMO_CLIENT_ID.to_string();
        let defaults = provider.defaults();
        let secret_ok = opens_to(
            keys,
            provider,
            column::CLIENT_SECRET,
            stored.as_ref().and_then(|a| a.client_secret.as_deref()),
            Some(DEMO_CLIENT_SECRET),
        );
        let needs_verify = provider == Provider::Strava
            && !opens_to(
                keys,
                provider,
                column::WEBHOOK_VERIFY_TOKEN,
                stored
                    .as_ref()
                    .and_then(|a| a.webhook_verify_token.as_deref()),
                None,
            );
        let seal = |value: &str, col: &str| -> Result<Vec<u8>, CryptoError> {
            Ok(keys
                .seal(
                    &SecretString::from(value.to_owned()),
                    &Aad::app(provider.as_str(), col),
                )?
                .to_bytes())
        };
        let verify = if needs_verify {
            let mut bytes = [0u8; 18];
            rand::rng().fill_bytes(&mut bytes);
            let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            Some(seal(&token, column::WEBHOOK_VERIFY_TOKEN)?)
        } else {
            None
        };
        let update = AppUpdate {
            provider: provider.as_str(),
            display_name: stored
                .as_ref()
                .map_or(defaults.display_name, |a| a.display_name.as_str()),
            client_id: &client_id,
            client_secret: if secret_ok {
                None
            } else {
                Some(seal(DEMO_CLIENT_SECRET, column::CLIENT_SECRET)?)
            },
            authorize_url: &authorize_url,
            token_url: &token_url,
            api_base_url: &api_base_url,
            scopes,
            webhook_verify_token: verify,
            enabled: true,
            limit_short: stored
                .as_ref()
                .map_or(defaults.limit_short, |a| a.limit_short),
            limit_daily: stored
                .as_ref()
                .map_or(defaults.limit_daily, |a| a.limit_daily),
            read_limit_short: stored
                .as_ref()
                .map_or(defaults.read_limit_short, |a| a.read_limit_short),
            read_limit_daily: stored
                .as_ref()
                .map_or(defaults.read_limit_daily, |a| a.read_limit_daily),
        };
        let mut changed = Vec::new();
        let old = stored.as_ref();
        let mut check = |name: &'static str, differs: bool| {
            if differs {
                changed.push(name);
            }
        };
        check("client_id", old.is_none_or(|o| o.client_id != client_id));
        check("client_secret", update.client_secret.is_some());
        check(
            "authorize_url",
            old.is_none_or(|o| o.authorize_url != authorize_url),
        );
        check("token_url", old.is_none_or(|o| o.token_url != token_url));
        check(
            "api_base_url",
            old.is_none_or(|o| o.api_base_url != api_base_url),
        );
        check("scopes", old.is_none_or(|o| o.scopes != scopes));
        check(
            "webhook_verify_token",
            update.webhook_verify_token.is_some(),
        );
        check("enabled", old.is_none_or(|o| !o.enabled));
        if changed.is_empty() {
            return Ok(AppOutcome {
                provider: provider.as_str(),
                changed,
                created: false,
            });
        }
        let created = oauth_apps::save(&mut tx, &update, ctx.clock.now()).await?;
        if provider == Provider::Strava && old.is_some_and(|o| o.api_base_url != api_base_url) {
            // A subscription at another API is not one at this simulator.
            oauth_apps::set_subscription(&mut tx, provider.as_str(), None).await?;
        }
        audit::record(
            &mut tx,
            NewEvent {
                event_type: if created {
                    event::OAUTH_APP_CREATED
                } else {
                    event::OAUTH_APP_CHANGED
                },
                success: true,
                details: serde_json::json!({
                    "provider": provider.as_str(),
                    "changed": changed,
                    "enabled": true,
                    "via": "cli",
                    "simulator": base,
                }),
                ..NewEvent::default()
            },
        )
        .await?;
        tx.commit().await?;
        Ok(AppOutcome {
            provider: provider.as_str(),
            changed,
            created,
        })
    }
}

/// What [`ensure_subscription`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribed {
    /// The stored subscription is known to the provider.
    Already(String),
    /// A new one was created (or the provider's one to this URL adopted).
    Created(String),
}

/// Make sure Strava has a push subscription to this instance's webhook URL and
/// its id is stored. Needs Pierre to be serving: the provider validates the
/// callback URL at once.
///
/// # Errors
/// Not configured, the provider refusing (with its reason), database errors.
pub async fn ensure_subscription(
    pool: &PgPool,
    ctx: &ProviderCtx,
) -> Result<Subscribed, SetupError> {
    let provider = Provider::Strava;
    let mut conn = pool.acquire().await?;
    let app = oauth_apps::get(&mut conn, provider.as_str())
        .await?
        .ok_or_else(|| SetupError::Refused("the Strava app is not configured".to_owned()))?;
    drop(conn);
    let keys = &ctx.settings.data_keys;
    let open = |stored: Option<&Vec<u8>>, col: &str, what: &str| {
        let stored =
            stored.ok_or_else(|| SetupError::Refused(format!("the Strava app has no {what}")))?;
        Ok::<_, SetupError>(keys.open(
            &Sealed::from_bytes(stored)?,
            &Aad::app(provider.as_str(), col),
        )?)
    };
    let secret = open(
        app.client_secret.as_ref(),
        column::CLIENT_SECRET,
        "client secret",
    )?;
    let verify = open(
        app.webhook_verify_token.as_ref(),
        column::WEBHOOK_VERIFY_TOKEN,
        "webhook verify token",
    )?;
    let api = subscriptions::App {
        api_base: &app.api_base_url,
        client_id: &app.client_id,
        client_secret: &secret,
    };
    let callback = format!(
        "{}/webhooks/strava",
        ctx.settings.public_url.as_str().trim_end_matches('/')
    );
    let existing = subscriptions::list(ctx, &api)
        .await
        .map_err(|r| SetupError::Refused(r.message))?;
    if let Some(found) = existing.iter().find(|s| s.callback_url == callback) {
        let id = found.id.to_string();
        if app.subscription_id.as_deref() == Some(id.as_str()) {
            return Ok(Subscribed::Already(id));
        }
        store_subscription(pool, &id, true).await?;
        return Ok(Subscribed::Created(id));
    }
    let id = subscriptions::create(ctx, &api, &callback, &verify)
        .await
        .map_err(|r| SetupError::Refused(r.message))?
        .to_string();
    store_subscription(pool, &id, false).await?;
    Ok(Subscribed::Created(id))
}

async fn store_subscription(pool: &PgPool, id: &str, adopted: bool) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    oauth_apps::set_subscription(&mut tx, "strava", Some(id)).await?;
    audit::record(
        &mut tx,
        NewEvent {
            event_type: event::OAUTH_SUBSCRIPTION_CREATED,
            success: true,
            details: serde_json::json!({
                "provider": "strava",
                "subscription_id": id,
                "adopted": adopted,
                "via": "cli",
            }),
            ..NewEvent::default()
        },
    )
    .await?;
    tx.commit().await
}
