//! What every page's layout needs, and the error page.
//!
//! [`PageContext`] is built from the request by every handler that renders a
//! page (it is an actix extractor) and by the error-page middleware, and is
//! passed to templates as `ctx`. Templates extend `base.html`, which reads
//! only `ctx`.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage as _, HttpRequest};
use askama::Template;

use actix_session::SessionExt as _;

use crate::auth::csrf::CsrfToken;
use crate::auth::session_store::{SessionUser, USER_KEY};
use crate::telemetry::RequestId;
use crate::web::assets;

/// Name of the cookie remembering the chosen colour theme.
pub const THEME_COOKIE: &str = "theme";

/// The colour theme: an explicit choice, or follow the operating system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    /// Parse the cookie value; anything unknown means "system".
    #[must_use]
    pub fn from_cookie(value: &str) -> Self {
        match value {
            "light" => Self::Light,
            "dark" => Self::Dark,
            _ => Self::System,
        }
    }

    /// The value for `<html data-theme>`; empty for "system".
    #[must_use]
    pub const fn attr(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::Light => "light",
            Self::Dark => "dark",
        }
    }
}

/// How a flash message looks and how urgently it is announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashLevel {
    Success,
    Info,
    Warning,
    Error,
}

impl FlashLevel {
    /// The component modifier (`alert-success`, …) and toast kind.
    #[must_use]
    pub const fn kind(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }

    /// A short word read before the message by screen readers and shown as its title.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Success => "Done",
            Self::Info => "Note",
            Self::Warning => "Warning",
            Self::Error => "Error",
        }
    }
}

/// A one-time message shown at the top of the next page (after a redirect).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub level: FlashLevel,
    pub message: String,
}

/// Layout data for one request.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub theme: Theme,
    pub request_id: String,
    /// The request path, for marking the current navigation entry.
    pub path: String,
    /// The session's anti-forgery token. When present, `base.html` renders
    /// `<meta name="csrf-token">` (htmx sends it as `X-CSRF-Token` on every
    /// request) and forms built from the components add it as a hidden
    /// `csrf_token` field. `None` until sessions exist.
    pub csrf_token: Option<String>,
    /// Flash messages to show in the layout's message area.
    pub flashes: Vec<Flash>,
    /// The signed-in user, for the navigation.
    pub user: Option<NavUser>,
}

/// What the navigation shows about the signed-in user.
#[derive(Debug, Clone)]
pub struct NavUser {
    pub display_name: String,
    pub is_admin: bool,
    pub is_coach: bool,
}

impl PageContext {
    /// Build from any request.
    #[must_use]
    pub fn from_request(req: &HttpRequest) -> Self {
        let theme = req
            .cookie(THEME_COOKIE)
            .map(|cookie| Theme::from_cookie(cookie.value()))
            .unwrap_or_default();
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let csrf_token = req
            .extensions()
            .get::<CsrfToken>()
            .map(|token| token.0.clone());
        let user = req
            .get_session()
            .get::<SessionUser>(USER_KEY)
            .ok()
            .flatten()
            .map(|user| NavUser {
                is_admin: user.roles.iter().any(|r| r == "admin"),
                is_coach: user.roles.iter().any(|r| r == "coach"),
                display_name: user.display_name,
            });
        Self {
            theme,
            request_id,
            path: req.path().to_owned(),
            csrf_token,
            flashes: Vec::new(),
            user,
        }
    }

    /// The versioned URL of a static asset (`css/app.css` → `/static/<hash>/css/app.css`).
    #[must_use]
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    /// Whether `prefix` is the current section (for `aria-current`).
    #[must_use]
    pub fn is_current(&self, prefix: &str) -> bool {
        if prefix == "/" {
            self.path == "/"
        } else {
            self.path == prefix || self.path.starts_with(&format!("{prefix}/"))
        }
    }
}

impl FromRequest for PageContext {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        ready(Ok(Self::from_request(req)))
    }
}

/// The error page, full or as an htmx fragment (the `content` block).
#[derive(Debug, Template)]
#[template(path = "errors/error.html")]
pub struct ErrorPage {
    pub ctx: PageContext,
    pub status: u16,
    pub title: &'static str,
    pub message: String,
    pub request_id: String,
}

/// The fragment variant of [`ErrorPage`]: same template, one block.
#[derive(Debug, Template)]
#[template(path = "errors/error.html", block = "content")]
struct ErrorFragment<'a> {
    status: u16,
    title: &'static str,
    message: &'a str,
    request_id: &'a str,
}

impl ErrorPage {
    /// Render only the page's content block, for htmx swaps and toasts.
    ///
    /// # Errors
    /// If the template fails to render.
    pub fn render_fragment(&self) -> askama::Result<String> {
        ErrorFragment {
            status: self.status,
            title: self.title,
            message: &self.message,
            request_id: &self.request_id,
        }
        .render()
    }
}

/// For templates: the element id to use — `id` when given, else `fallback`
/// (form components default a control's id to its field name).
#[must_use]
pub const fn id_or<'a>(id: &'a str, fallback: &'a str) -> &'a str {
    if id.is_empty() { fallback } else { id }
}
