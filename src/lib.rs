//! Pierre: self-hostable fitness intelligence.
//!
//! See `docs/ARCHITECTURE.md` for how the modules fit together.

pub mod analytics;
pub mod auth;
pub mod charts;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod import;
pub mod jobs;
pub mod metrics;
pub mod provider_sim;
pub mod providers;
pub mod seed;
pub mod seed_bulk;
pub mod seed_coach;
pub mod startup;
pub mod state;
pub mod sync;
pub mod synthetic;
pub mod telemetry;
pub mod training;
pub mod web;
