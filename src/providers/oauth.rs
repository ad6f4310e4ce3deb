//! Pierre as an OAuth 2.0 client of Strava and Garmin (SECURITY.md "OAuth").
//!
//! Built on the `oauth2` crate: the authorization URL with an unguessable
//! `state` (128 random bits), PKCE S256 where the provider supports it
//! ([`uses_pkce`], the one place that decides), the exact redirect URI per
//! provider ([`redirect_uri`]), the code exchange, the refresh, and the
//! deauthorization.
//!
//! Token endpoint answers are classified by HTTP status (the HTTP client is
//! wrapped to record it, since Strava's error bodies are not RFC 6749 shaped):
//! 400/401/403 mean the provider refused the grant ([`OAuthError::Rejected`]:
//! only a new authorization helps), everything else that fails — 429, 5xx,
//! timeouts, unreachable host, a garbled body — is [`OAuthError::Transient`].
//! Error texts never contain tokens or secrets.

use std::sync::atomic::{AtomicU16, Ordering};

use chrono::{DateTime, TimeDelta, Utc};
use oauth2::basic::{
    BasicRevocationErrorResponse, BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, HttpClientError, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RefreshToken, RequestTokenError, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use url::Url;

use super::ProviderCtx;
use super::tokens::TokenSet;
use crate::config::Settings;
use crate::crypto::{Aad, DataKeys, Sealed};
use crate::db::oauth_apps::{self, column};
use crate::domain::Provider;

/// Strava's access tokens live six hours; used when an answer says nothing.
const DEFAULT_LIFETIME: TimeDelta = TimeDelta::hours(6);

/// Whether the provider takes PKCE (RFC 7636, S256). Strava ignores it, Garmin
/// requires it.
#[must_use]
pub const fn uses_pkce(provider: Provider) -> bool {
    match provider {
        Provider::Strava => false,
        Provider::Garmin => true,
    }
}

/// The exact redirect URI registered at the provider:
/// `{PIERRE_PUBLIC_URL}/oauth/{provider}/callback`.
#[must_use]
pub fn redirect_uri(settings: &Settings, provider: Provider) -> String {
    format!(
        "{}/oauth/{}/callback",
        settings.public_url.as_str().trim_end_matches('/'),
        provider.as_str()
    )
}

/// The S256 code challenge of a PKCE verifier.
#[must_use]
pub fn pkce_challenge(verifier: &str) -> String {
    PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.to_owned()))
        .as_str()
        .to_owned()
}

/// The scopes the sync cannot work without, as alternatives.
///
/// At least one of them must be granted. Strava: `activity:read_all` (what Pierre asks for:
/// private activities too) or `activity:read` (public and followers-only
/// activities). Garmin has no scopes in its callback.
#[must_use]
pub const fn required_scopes(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Strava => &["activity:read_all", "activity:read"],
        Provider::Garmin => &[],
    }
}

/// The granted scopes (comma- or space-separated) lack every required
/// alternative: the permission to name in the message.
#[must_use]
pub fn missing_scope(provider: Provider, granted: &str) -> Option<&'static str> {
    let required = required_scopes(provider);
    let granted: Vec<&str> = granted
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .collect();
    if required.is_empty() || required.iter().any(|r| granted.contains(r)) {
        None
    } else {
        required.first().copied()
    }
}

/// An OAuth app an athlete can connect through (enabled, with id and secret).
#[derive(Debug, Clone)]
pub struct App {
    pub provider: Provider,
    pub display_name: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub authorize_url: String,
    pub token_url: String,
    pub api_base_url: String,
    /// Comma-separated, as stored.
    pub scopes: String,
}

/// Why a provider cannot be connected now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// No app, disabled, or without client id / secret.
    NotConfigured,
    /// The stored secret cannot be opened (data key missing).
    SecretUnreadable,
}

impl App {
    /// The provider's app when it is usable.
    ///
    /// # Errors
    /// Database errors.
    pub async fn load(
        conn: &mut PgConnection,
        keys: &DataKeys,
        provider: Provider,
    ) -> Result<Result<Self, Unavailable>, sqlx::Error> {
        let Some(row) = oauth_apps::get(conn, provider.as_str()).await? else {
            return Ok(Err(Unavailable::NotConfigured));
        };
        let Some(secret) = row.client_secret.as_deref() else {
            return Ok(Err(Unavailable::NotConfigured));
        };
        if !row.enabled || row.client_id.trim().is_empty() {
            return Ok(Err(Unavailable::NotConfigured));
        }
        let opened = Sealed::from_bytes(secret).and_then(|sealed| {
            keys.open(&sealed, &Aad::app(provider.as_str(), column::CLIENT_SECRET))
        });
        let Ok(client_secret) = opened else {
            return Ok(Err(Unavailable::SecretUnreadable));
        };
        Ok(Ok(Self {
            provider,
            display_name: row.display_name,
            client_id: row.client_id,
            client_secret,
            authorize_url: row.authorize_url,
            token_url: row.token_url,
            api_base_url: row.api_base_url,
            scopes: row.scopes,
        }))
    }

    /// Where deauthorization is asked for. Strava: `POST …/oauth/deauthorize`
    /// next to the token endpoint. Garmin: `DELETE {api}/rest/user/registration`
    /// (the API base is Garmin's `…/wellness-api`).
    #[must_use]
    pub fn deauthorize_url(&self) -> String {
        match self.provider {
            Provider::Strava => self.token_url.rsplit_once('/').map_or_else(
                || format!("{}/deauthorize", self.token_url),
                |(base, _)| format!("{base}/deauthorize"),
            ),
            Provider::Garmin => format!(
                "{}/rest/user/registration",
                self.api_base_url.trim_end_matches('/')
            ),
        }
    }
}

/// What went wrong talking to the provider's OAuth endpoints.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The provider refused (HTTP 400/401/403): bad or used code, refresh
    /// token revoked or rotated away, wrong client credentials.
    #[error("{provider} refused the request (HTTP {status}{detail})")]
    Rejected {
        provider: &'static str,
        status: u16,
        /// ": message" from the provider's error body, or empty.
        detail: String,
    },
    /// Try again later: 429, 5xx, timeout, unreachable, a body that is not the
    /// expected JSON.
    #[error("{0}")]
    Transient(String),
    /// The app's configuration is unusable (a URL that does not parse).
    #[error("{0}")]
    Config(String),
}

impl OAuthError {
    /// The HTTP status of a refusal, for `provider_errors.status`.
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        match self {
            Self::Rejected { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A started authorization: send the browser to `url`, keep `state` and the
/// PKCE verifier in the session.
#[derive(Debug)]
pub struct Authorization {
    pub url: Url,
    pub state: String,
    pub pkce_verifier: Option<String>,
}

/// Strava's (and others') error body, read loosely: any JSON object.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProviderErrorBody {
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub error_description: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

impl std::fmt::Display for ProviderErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self
            .error
            .as_deref()
            .or(self.message.as_deref())
            .unwrap_or("error");
        f.write_str(text)
    }
}

impl oauth2::ErrorResponse for ProviderErrorBody {}

/// The athlete in Strava's token answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TokenAthlete {
    #[serde(default)]
    pub id: Option<serde_json::Value>,
    #[serde(default)]
    pub firstname: Option<String>,
    #[serde(default)]
    pub lastname: Option<String>,
}

/// Strava's extra token fields: `expires_at` (epoch seconds) and, on the code
/// exchange, the athlete.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExtraFields {
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub athlete: Option<TokenAthlete>,
}

impl ExtraTokenFields for ExtraFields {}

type TokenAnswer = StandardTokenResponse<ExtraFields, BasicTokenType>;

type Client<HasAuth, HasToken> = oauth2::Client<
    ProviderErrorBody,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    HasAuth,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    HasToken,
>;

fn base_client(
    app: &App,
) -> oauth2::Client<
    ProviderErrorBody,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
> {
    oauth2::Client::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(
            app.client_secret.expose_secret().to_owned(),
        ))
        // Strava wants client_id and client_secret as form fields.
        .set_auth_type(AuthType::RequestBody)
}

fn token_client(app: &App) -> Result<Client<EndpointNotSet, EndpointSet>, OAuthError> {
    let token_url = TokenUrl::new(app.token_url.clone())
        .map_err(|_| OAuthError::Config("the token URL of the app is not valid".to_owned()))?;
    Ok(base_client(app).set_token_uri(token_url))
}

/// Start an authorization: the provider's URL with `state`, scopes, the
/// redirect URI, and PKCE when the provider takes it.
///
/// # Errors
/// [`OAuthError::Config`] when the app's authorize URL or the redirect URI do not parse.
pub fn authorize(app: &App, redirect_uri: &str) -> Result<Authorization, OAuthError> {
    let auth_url = AuthUrl::new(app.authorize_url.clone())
        .map_err(|_| OAuthError::Config("the authorize URL of the app is not valid".to_owned()))?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| OAuthError::Config("the public URL of Pierre is not valid".to_owned()))?;
    let client = base_client(app)
        .set_auth_uri(auth_url)
        .set_redirect_uri(redirect);
    let mut request = client.authorize_url(CsrfToken::new_random);
    // Strava separates scopes with commas; the crate would join them with spaces.
    if !app.scopes.trim().is_empty() {
        request = request.add_extra_param("scope", app.scopes.clone());
    }
    if app.provider == Provider::Strava {
        request = request.add_extra_param("approval_prompt", "auto");
    }
    let pkce_verifier = if uses_pkce(app.provider) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        request = request.set_pkce_challenge(challenge);
        Some(verifier.into_secret())
    } else {
        None
    };
    let (url, state) = request.url();
    Ok(Authorization {
        url,
        state: state.into_secret(),
        pkce_verifier,
    })
}

/// What a successful code exchange gives.
#[derive(Debug)]
pub struct Granted {
    pub tokens: TokenSet,
    /// The provider's athlete id (Strava: from the token answer).
    pub athlete_id: Option<String>,
    /// "First Last", or empty.
    pub athlete_name: String,
}

/// Run one token request through `ctx.http`, recording the HTTP status for
/// classification and metrics.
async fn token_call<F, Fut>(
    ctx: &ProviderCtx,
    provider: Provider,
    endpoint: &'static str,
    send: F,
) -> Result<TokenAnswer, OAuthError>
where
    F: FnOnce(RecordingClient) -> Fut,
    Fut: Future<
        Output = (
            RecordingClient,
            Result<
                TokenAnswer,
                RequestTokenError<HttpClientError<reqwest::Error>, ProviderErrorBody>,
            >,
        ),
    >,
{
    let recorder = RecordingClient {
        http: ctx.http.clone(),
        status: std::sync::Arc::new(AtomicU16::new(0)),
    };
    let (recorder, result) = send(recorder).await;
    let status = recorder.status.load(Ordering::Relaxed);
    let label = if status == 0 {
        "error".to_owned()
    } else {
        status.to_string()
    };
    ctx.metrics.call(provider.as_str(), endpoint, &label);
    let name = provider_name(provider);
    result.map_err(|err| match err {
        RequestTokenError::Request(e) => {
            let what = request_failure(&e);
            OAuthError::Transient(format!("{name} could not be reached ({what})"))
        }
        RequestTokenError::ServerResponse(body) if matches!(status, 400 | 401 | 403) => {
            OAuthError::Rejected {
                provider: name,
                status,
                detail: body
                    .message
                    .or(body.error)
                    .map(|m| format!(": {}", sanitize(&m)))
                    .unwrap_or_default(),
            }
        }
        RequestTokenError::Parse(..) | RequestTokenError::Other(_)
            if matches!(status, 400 | 401 | 403) =>
        {
            OAuthError::Rejected {
                provider: name,
                status,
                detail: String::new(),
            }
        }
        _ if status == 200 => {
            OAuthError::Transient(format!("{name} answered with an unreadable token response"))
        }
        _ => OAuthError::Transient(format!("{name} answered HTTP {status}")),
    })
}

/// A provider's message, shortened and stripped of anything but printable text.
fn sanitize(raw: &str) -> String {
    raw.chars().filter(|c| !c.is_control()).take(200).collect()
}

fn request_failure(err: &HttpClientError<reqwest::Error>) -> &'static str {
    match err {
        HttpClientError::Reqwest(e) if e.is_timeout() => "timed out",
        HttpClientError::Reqwest(e) if e.is_connect() => "connection failed",
        _ => "request failed",
    }
}

/// The provider's name for messages.
#[must_use]
pub const fn provider_name(provider: Provider) -> &'static str {
    match provider {
        Provider::Strava => "Strava",
        Provider::Garmin => "Garmin",
    }
}

/// `ctx.http` with the last answer's status kept.
#[derive(Debug, Clone)]
pub struct RecordingClient {
    http: reqwest::Client,
    status: std::sync::Arc<AtomicU16>,
}

impl<'c> oauth2::AsyncHttpClient<'c> for RecordingClient {
    type Error = HttpClientError<reqwest::Error>;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, Self::Error>> + Send + Sync + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            self.status
                .store(response.status().as_u16(), Ordering::Relaxed);
            Ok(response)
        })
    }
}

fn token_set(
    answer: &TokenAnswer,
    now: DateTime<Utc>,
    previous_refresh: Option<&SecretString>,
) -> Result<TokenSet, OAuthError> {
    let expires_at = answer
        .extra_fields()
        .expires_at
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .or_else(|| {
            answer
                .expires_in()
                .and_then(|d| TimeDelta::from_std(d).ok())
                .map(|d| now + d)
        })
        .unwrap_or(now + DEFAULT_LIFETIME);
    let refresh = match (answer.refresh_token(), previous_refresh) {
        (Some(r), _) => SecretString::from(r.secret().clone()),
        (None, Some(prev)) => prev.clone(),
        (None, None) => {
            return Err(OAuthError::Transient(
                "the token answer has no refresh token".to_owned(),
            ));
        }
    };
    Ok(TokenSet {
        access: SecretString::from(answer.access_token().secret().clone()),
        refresh,
        expires_at,
    })
}

/// Exchange an authorization code for tokens (and, for Strava, the athlete).
///
/// # Errors
/// [`OAuthError`].
pub async fn exchange_code(
    ctx: &ProviderCtx,
    app: &App,
    redirect_uri: &str,
    code: &str,
    pkce_verifier: Option<&str>,
) -> Result<Granted, OAuthError> {
    let client = token_client(app)?;
    let redirect = RedirectUrl::new(redirect_uri.to_owned())
        .map_err(|_| OAuthError::Config("the public URL of Pierre is not valid".to_owned()))?;
    let client = client.set_redirect_uri(redirect);
    let mut request = client.exchange_code(AuthorizationCode::new(code.to_owned()));
    if let Some(verifier) = pkce_verifier {
        request = request.set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
    }
    let answer = token_call(ctx, app.provider, "token", |recorder| async move {
        let result = request.request_async(&recorder).await;
        (recorder, result)
    })
    .await?;
    let tokens = token_set(&answer, ctx.clock.now(), None)?;
    let athlete = answer.extra_fields().athlete.clone().unwrap_or_default();
    let athlete_id = athlete.id.as_ref().and_then(|id| match id {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    });
    let athlete_name = [athlete.firstname, athlete.lastname]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Granted {
        tokens,
        athlete_id,
        athlete_name,
    })
}

/// Refresh: a new access token, and the refresh token to keep from now on
/// (Strava may rotate it; the old one then stops working).
///
/// # Errors
/// [`OAuthError`]; `Rejected` means the refresh token is no longer accepted.
pub async fn refresh(
    ctx: &ProviderCtx,
    app: &App,
    refresh_token: &SecretString,
) -> Result<TokenSet, OAuthError> {
    let client = token_client(app)?;
    let presented = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let answer = token_call(ctx, app.provider, "refresh", |recorder| async move {
        let result = client
            .exchange_refresh_token(&presented)
            .request_async(&recorder)
            .await;
        (recorder, result)
    })
    .await?;
    token_set(&answer, ctx.clock.now(), Some(refresh_token))
}

/// Garmin: the user id of the tokens' owner (`GET {api}/rest/user/id`, the API base being `…/wellness-api`).
///
/// # Errors
/// [`OAuthError`].
pub async fn garmin_user_id(
    ctx: &ProviderCtx,
    app: &App,
    access: &SecretString,
) -> Result<String, OAuthError> {
    #[derive(Deserialize)]
    struct UserId {
        #[serde(rename = "userId")]
        user_id: serde_json::Value,
    }
    let url = format!("{}/rest/user/id", app.api_base_url.trim_end_matches('/'));
    let answer = ctx
        .http
        .get(url)
        .bearer_auth(access.expose_secret())
        .send()
        .await
        .map_err(|e| OAuthError::Transient(format!("Garmin could not be reached ({e})")))?;
    let status = answer.status().as_u16();
    ctx.metrics
        .call(app.provider.as_str(), "user_id", &status.to_string());
    if !answer.status().is_success() {
        return Err(OAuthError::Transient(format!(
            "Garmin answered HTTP {status}"
        )));
    }
    let body: UserId = answer
        .json()
        .await
        .map_err(|_| OAuthError::Transient("Garmin sent an unreadable user id".to_owned()))?;
    match body.user_id {
        serde_json::Value::String(s) if !s.is_empty() => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(OAuthError::Transient(
            "Garmin sent an unreadable user id".to_owned(),
        )),
    }
}

/// Ask the provider to revoke Pierre's access (Strava:
/// `POST …/oauth/deauthorize` with the access token as a form field).
///
/// # Errors
/// [`OAuthError`].
pub async fn deauthorize(
    ctx: &ProviderCtx,
    app: &App,
    access: &SecretString,
) -> Result<(), OAuthError> {
    let url = app.deauthorize_url();
    let request = match app.provider {
        Provider::Strava => ctx
            .http
            .post(url)
            .form(&[("access_token", access.expose_secret())]),
        Provider::Garmin => ctx.http.delete(url).bearer_auth(access.expose_secret()),
    };
    let answer = request.send().await.map_err(|e| {
        let what = if e.is_timeout() {
            "timed out"
        } else {
            "request failed"
        };
        OAuthError::Transient(format!(
            "{} could not be reached ({what})",
            provider_name(app.provider)
        ))
    })?;
    let status = answer.status().as_u16();
    ctx.metrics
        .call(app.provider.as_str(), "deauthorize", &status.to_string());
    match status {
        200..=299 => Ok(()),
        400 | 401 | 403 => Err(OAuthError::Rejected {
            provider: provider_name(app.provider),
            status,
            detail: String::new(),
        }),
        _ => Err(OAuthError::Transient(format!(
            "{} answered HTTP {status}",
            provider_name(app.provider)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_matches_the_rfc_7636_vector() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    fn app(provider: Provider) -> App {
        App {
            provider,
            display_name: "X".to_owned(),
            client_id: "4242".to_owned(),
            client_secret: SecretString::from("s3cret"),
            authorize_url: "http://127.0.0.1:9/oauth/authorize".to_owned(),
            token_url: "http://127.0.0.1:9/oauth/token".to_owned(),
            api_base_url: "http://127.0.0.1:9/api/v3".to_owned(),
            scopes: "read,activity:read_all".to_owned(),
        }
    }

    fn query(url: &Url) -> Vec<(String, String)> {
        url.query_pairs().into_owned().collect()
    }

    fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn strava_authorize_url_has_state_scopes_and_approval_prompt_but_no_pkce() {
        let auth = authorize(
            &app(Provider::Strava),
            "http://localhost/oauth/strava/callback",
        )
        .unwrap();
        let q = query(&auth.url);
        assert_eq!(get(&q, "state"), Some(auth.state.as_str()));
        assert!(auth.state.len() >= 22, "128 bits of state");
        assert_eq!(get(&q, "scope"), Some("read,activity:read_all"));
        assert_eq!(get(&q, "approval_prompt"), Some("auto"));
        assert_eq!(get(&q, "response_type"), Some("code"));
        assert_eq!(get(&q, "client_id"), Some("4242"));
        assert_eq!(
            get(&q, "redirect_uri"),
            Some("http://localhost/oauth/strava/callback")
        );
        assert_eq!(get(&q, "code_challenge"), None);
        assert!(auth.pkce_verifier.is_none());
        assert!(!auth.url.as_str().contains("s3cret"));
        let again = authorize(&app(Provider::Strava), "http://localhost/cb").unwrap();
        assert_ne!(again.state, auth.state);
    }

    #[test]
    fn garmin_authorize_url_carries_an_s256_challenge_of_the_kept_verifier() {
        let auth = authorize(
            &app(Provider::Garmin),
            "http://localhost/oauth/garmin/callback",
        )
        .unwrap();
        let q = query(&auth.url);
        let verifier = auth.pkce_verifier.as_deref().unwrap();
        assert_eq!(get(&q, "code_challenge_method"), Some("S256"));
        assert_eq!(
            get(&q, "code_challenge"),
            Some(pkce_challenge(verifier).as_str())
        );
        assert_eq!(get(&q, "approval_prompt"), None);
    }

    #[test]
    fn a_missing_activity_scope_is_named() {
        assert_eq!(
            missing_scope(Provider::Strava, "read"),
            Some("activity:read_all")
        );
        assert_eq!(
            missing_scope(Provider::Strava, ""),
            Some("activity:read_all")
        );
        assert_eq!(missing_scope(Provider::Strava, "read,activity:read"), None);
        assert_eq!(
            missing_scope(Provider::Strava, "read,activity:read_all"),
            None
        );
        assert_eq!(missing_scope(Provider::Garmin, ""), None);
    }

    #[test]
    fn strava_deauthorize_lives_next_to_the_token_endpoint() {
        assert_eq!(
            app(Provider::Strava).deauthorize_url(),
            "http://127.0.0.1:9/oauth/deauthorize"
        );
    }
}
