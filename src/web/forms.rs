//! Helpers shared by every form handler: field errors, bounded strings,
//! htmx-aware redirects and 422 re-renders.

use std::collections::BTreeMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use crate::error::{AppError, OwnBody};

/// Messages shown under fields, by field name.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    #[must_use]
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Validate a free-text field: trimmed, required or not, at most `max`
/// characters, no control characters. Returns the cleaned value.
pub fn text_field(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    value: &str,
    required: bool,
    max: usize,
) -> String {
    let cleaned = value.trim();
    if required && cleaned.is_empty() {
        errors.add(field, format!("{label} is required."));
    } else if cleaned.chars().count() > max {
        errors.add(field, format!("{label} must be at most {max} characters."));
    } else if cleaned.chars().any(char::is_control) {
        errors.add(field, format!("{label} cannot contain control characters."));
    }
    cleaned
        .chars()
        .take(max)
        .filter(|c| !c.is_control())
        .collect()
}

/// Validate an email address (shape only; deliverability is not checked).
pub fn email_field(errors: &mut FieldErrors, field: &'static str, value: &str) -> String {
    let email = text_field(errors, field, "Email", value, true, 254);
    if errors.get(field).is_none() {
        let valid = email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.contains(char::is_whitespace)
                && email.matches('@').count() == 1
        });
        if !valid {
            errors.add(field, "Enter an email address like name@example.org.");
        }
    }
    email
}

/// An id from a URL path; anything that is not a UUID names nothing here (404).
///
/// # Errors
/// [`AppError::NotFound`] when `raw` is not a UUID.
pub fn parse_id(raw: &str) -> Result<uuid::Uuid, AppError> {
    uuid::Uuid::parse_str(raw).map_err(|_| AppError::NotFound)
}

/// Whether the request was made by htmx.
#[must_use]
pub fn is_htmx(req: &HttpRequest) -> bool {
    req.headers().contains_key("hx-request")
}

/// An htmx request that swaps the element with this `id` (`HX-Target`): the
/// page answers with that region only.
#[must_use]
pub fn htmx_targets(req: &HttpRequest, id: &str) -> bool {
    is_htmx(req)
        && req
            .headers()
            .get("hx-target")
            .is_some_and(|t| t.as_bytes() == id.as_bytes())
}

/// Redirect after a successful form: 303 for browsers, `HX-Redirect` for htmx
/// (which would otherwise follow the redirect inside its swap target).
#[must_use]
pub fn redirect(req: &HttpRequest, location: &str) -> HttpResponse {
    if is_htmx(req) {
        HttpResponse::Ok()
            .insert_header(("HX-Redirect", location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish()
    }
}

/// Render a template with a status; marked so the error-page middleware
/// leaves the body alone (used for 422 form re-renders).
///
/// # Errors
/// If the template fails to render.
pub fn render_with_status(
    template: &impl Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let body = template.render()?;
    let mut res = HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body);
    res.extensions_mut().insert(OwnBody);
    Ok(res)
}
