//! One integration-test binary: a real server on a bound port, a fresh
//! PostgreSQL database per test, real HTTP.

// Test helpers outside #[test] functions fail loudly by design.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::case_sensitive_file_extension_comparisons,
    reason = "test code: a failed assertion is the report; tests name their own files"
)]

mod accounts;
mod activities;
mod admin;
mod admin_cli;
mod admin_jobs;
mod calendar_records;
mod cli;
mod coach_views;
mod comments;
mod connections;
mod dashboard;
mod database;
mod errors;
mod garmin;
mod headers;
mod health;
mod metrics;
mod nginx;
mod oauth_app_ops;
mod oauth_apps;
mod pg_count;
mod provider_sim;
mod roster;
mod security;
mod sharing;
mod sim_setup;
mod static_assets;
mod support;
mod sync;
mod thresholds;
mod worker;
