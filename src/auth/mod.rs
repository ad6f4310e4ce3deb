//! Who is asking, and may they: passwords, sessions, CSRF, throttling, roles.

pub mod csrf;
pub mod password;
pub mod session_store;

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use actix_session::{Session, SessionExt as _};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use uuid::Uuid;

use crate::config::Settings;
use crate::error::AppError;
use crate::state::AppState;
use session_store::{SessionUser, UNAVAILABLE_KEY, USER_KEY};

/// The roles a user may hold (several at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Athlete,
    Coach,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Athlete, Self::Coach, Self::Admin];

    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Athlete => "athlete",
            Self::Coach => "coach",
            Self::Admin => "admin",
        }
    }

    /// Parse a role name.
    ///
    /// # Errors
    /// A message listing the valid roles.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == name.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("unknown role {name:?}: expected athlete, coach or admin"))
    }
}

/// The signed-in user. As an extractor it refuses anonymous requests with a
/// redirect to the sign-in page (which comes back here afterwards).
#[derive(Clone)]
pub struct CurrentUser {
    pub user: SessionUser,
    pub session: Session,
}

impl std::fmt::Debug for CurrentUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurrentUser")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl CurrentUser {
    #[must_use]
    pub const fn id(&self) -> Uuid {
        self.user.id
    }

    #[must_use]
    pub fn has_role(&self, role: Role) -> bool {
        self.user.roles.iter().any(|r| r == role.as_str())
    }

    /// This user if they hold `role`, else 403.
    ///
    /// # Errors
    /// [`AppError::Forbidden`] without the role.
    pub fn require(self, role: Role) -> Result<Self, AppError> {
        if self.has_role(role) {
            Ok(self)
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// The signed-in user, if any, without refusing anonymous requests.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

fn lookup(req: &HttpRequest) -> Result<Option<CurrentUser>, AppError> {
    let session = req.get_session();
    if session
        .get::<String>(UNAVAILABLE_KEY)
        .ok()
        .flatten()
        .is_some()
        || session
            .get::<bool>(UNAVAILABLE_KEY)
            .ok()
            .flatten()
            .is_some()
    {
        return Err(AppError::Unavailable);
    }
    let user = session.get::<SessionUser>(USER_KEY).ok().flatten();
    Ok(user.map(|user| CurrentUser { user, session }))
}

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = lookup(req).and_then(|user| {
            user.ok_or_else(|| AppError::SignInRequired {
                next: next_target(req),
            })
        });
        Box::pin(async move { result })
    }
}

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let result = lookup(req).map(MaybeUser);
        Box::pin(async move { result })
    }
}

/// A signed-in admin. Anyone else: sign in first, or 403.
#[derive(Debug, Clone)]
pub struct RequireAdmin(pub CurrentUser);

impl FromRequest for RequireAdmin {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move { user.await?.require(Role::Admin).map(Self) })
    }
}

/// A signed-in user with the coach role; anyone else gets 403 (or the sign-in redirect).
#[derive(Debug)]
pub struct RequireCoach(pub CurrentUser);

impl FromRequest for RequireCoach {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let user = CurrentUser::from_request(req, payload);
        Box::pin(async move { user.await?.require(Role::Coach).map(Self) })
    }
}

/// Where to come back to after signing in: this request's path, for GETs.
fn next_target(req: &HttpRequest) -> Option<String> {
    (req.method() == actix_web::http::Method::GET).then(|| {
        req.uri()
            .path_and_query()
            .map_or_else(|| req.path().to_owned(), ToString::to_string)
    })
}

/// Accept a post-sign-in redirect target only if it is a path on this site.
#[must_use]
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.contains(['\\', '\r', '\n', '\0'])
        && next.len() <= 2048
        && !next.starts_with("/logout");
    ok.then(|| next.to_owned())
}

/// The client's IP: the peer, or — when the peer is a trusted proxy — the
/// right-most address in `X-Forwarded-For` that is not itself a trusted proxy.
#[must_use]
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip())?;
    let trusted = |ip: &IpAddr| settings.trusted_proxies.iter().any(|net| net.contains(ip));
    if !trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .unwrap_or(peer),
    )
}

/// [`client_ip`] as text for the audit log and the sessions list ("" if unknown).
#[must_use]
pub fn client_ip_text(req: &HttpRequest, settings: &Settings) -> String {
    client_ip(req, settings)
        .map(|ip| ip.to_string())
        .unwrap_or_default()
}

/// A short, safe user-agent string for the sessions list and the audit log.
#[must_use]
pub fn user_agent(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(512)
        .collect()
}

/// "Firefox on Linux"-style description of a user agent.
#[must_use]
pub fn describe_device(user_agent: &str) -> String {
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .into_iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map_or("Unknown browser", |(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .into_iter()
    .find(|(needle, _)| user_agent.contains(needle))
    .map(|(_, name)| name);
    os.map_or_else(|| browser.to_owned(), |os| format!("{browser} on {os}"))
}

/// Shared access to settings from handlers that only have the request.
#[must_use]
pub fn settings(req: &HttpRequest) -> Option<std::sync::Arc<Settings>> {
    req.app_data::<web::Data<AppState>>()
        .map(|state| std::sync::Arc::clone(&state.settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_same_site_paths_are_accepted_as_redirect_targets() {
        assert_eq!(
            safe_next(Some("/dashboard?range=90d")).as_deref(),
            Some("/dashboard?range=90d")
        );
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "",
            "dashboard",
            "/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(safe_next(None), None);
    }

    #[test]
    fn devices_are_described_from_user_agents() {
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox on Linux"
        );
        assert_eq!(
            describe_device(
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"
            ),
            "Safari on iPhone"
        );
        assert_eq!(describe_device(""), "Unknown browser");
    }

    #[test]
    fn roles_parse_case_insensitively() {
        assert_eq!(Role::parse("Admin").unwrap(), Role::Admin);
        assert!(
            Role::parse("root")
                .unwrap_err()
                .contains("athlete, coach or admin")
        );
    }
}
