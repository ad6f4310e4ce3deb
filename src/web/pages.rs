//! Public pages: the landing page, the design-system reference, the theme switch.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, cookie, web};
use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use actix_web::FromRequest as _;

use crate::auth::RequireAdmin;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::layout::{PageContext, THEME_COOKIE, Theme};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/").route(web::get().to(landing)))
        .service(web::resource("/design").route(web::get().to(design)))
        .service(web::resource("/theme").route(web::post().to(set_theme)));
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/landing.html")]
struct Landing {
    ctx: PageContext,
}

/// `GET /`: what Pierre does, for visitors.
async fn landing(ctx: PageContext) -> Landing {
    Landing { ctx }
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/design.html")]
struct Design {
    ctx: PageContext,
}

/// `GET /design`: every component in every state. Open in development; in
/// production only admins see it (others get the sign-in page or 403).
async fn design(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
) -> Result<Design, AppError> {
    if state.settings.environment.is_production() {
        let mut payload = actix_web::dev::Payload::None;
        RequireAdmin::from_request(&req, &mut payload).await?;
    }
    Ok(Design { ctx })
}

#[derive(Debug, Deserialize)]
struct ThemeForm {
    theme: String,
}

/// `POST /theme`: remember the colour theme in a cookie, then go back.
/// The theme button does the same in the browser without a request; this is
/// the no-JavaScript path.
async fn set_theme(req: HttpRequest, form: web::Form<ThemeForm>) -> Result<HttpResponse, AppError> {
    let theme = match form.theme.as_str() {
        "light" => Theme::Light,
        "dark" => Theme::Dark,
        "system" => Theme::System,
        _ => {
            return Err(AppError::Unprocessable(
                "Choose a theme: light, dark or system.".to_owned(),
            ));
        }
    };
    let cookie = cookie::Cookie::build(THEME_COOKIE, theme.attr())
        .path("/")
        .same_site(cookie::SameSite::Lax)
        .max_age(cookie::time::Duration::days(365))
        .finish();
    Ok(HttpResponse::SeeOther()
        .insert_header((header::LOCATION, back_to(&req)))
        .cookie(cookie)
        .finish())
}

/// The same-origin path the request came from (via `Referer`), or `/`.
fn back_to(req: &HttpRequest) -> String {
    let host = req.connection_info().host().to_owned();
    req.headers()
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| url::Url::parse(value).ok())
        .filter(|url| {
            url.host_str()
                .is_some_and(|h| host.split(':').next() == Some(h))
        })
        .map_or_else(
            || "/".to_owned(),
            |url| {
                let mut path = url.path().to_owned();
                if let Some(query) = url.query() {
                    path.push('?');
                    path.push_str(query);
                }
                path
            },
        )
}
