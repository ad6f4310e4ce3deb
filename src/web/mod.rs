//! HTTP only: extract → call domain/db → render. One module per feature,
//! each with a `configure` function; [`configure`] mounts them all.
//!
//! Routes are registered as `web::resource(path).route(web::get()...)`, never
//! `cfg.route(path, ...)`: the latter puts the method guard on the resource, so
//! a wrong method would answer 404 instead of 405.

pub mod account;
pub mod account_export;
pub mod activities;
pub mod activity_analysis;
pub mod admin;
pub mod admin_jobs;
pub mod admin_oauth;
pub mod admin_sharing;
pub mod assets;
pub mod auth;
pub mod calendar;
pub mod comments;
pub mod compress;
pub mod connections;
pub mod cors;
pub mod dashboard;
pub mod export;
pub mod format;
pub mod forms;
pub mod garmin_webhook;
pub mod headers;
pub mod health;
pub mod layout;
pub mod pages;
pub mod records;
pub mod roster;
pub mod sharing;
pub mod subject;
pub mod thresholds;
pub mod upload;
pub mod webhooks;

use actix_web::web;

/// Every public route of the application.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/static/{hash}/{path:.+}")
            .route(web::get().to(assets::serve))
            .route(web::head().to(assets::serve)),
    );
    health::configure(cfg);
    pages::configure(cfg);
    auth::configure(cfg);
    account_export::configure(cfg);
    account::configure(cfg);
    dashboard::configure(cfg);
    thresholds::configure(cfg);
    upload::configure(cfg);
    activities::configure(cfg);
    comments::configure(cfg);
    calendar::configure(cfg);
    records::configure(cfg);
    sharing::configure(cfg);
    roster::configure(cfg);
    admin::configure(cfg);
    admin_oauth::configure(cfg);
    admin_sharing::configure(cfg);
    connections::configure(cfg);
    admin_jobs::configure(cfg);
    garmin_webhook::configure(cfg);
    webhooks::configure(cfg);
}
