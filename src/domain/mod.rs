//! Pure domain types: no I/O, no web framework, no database.
//!
//! - [`sport`]: [`Sport`] and [`SubSport`], with storage forms and file-label parsing.
//! - [`activity`]: [`ParsedActivity`] (what an activity file holds), [`Totals`], [`Lap`],
//!   [`FileFormat`], and helpers that derive totals from samples.
//! - [`provider`]: [`Provider`] (Strava, Garmin) and the defaults of their OAuth apps.
//! - [`streams`]: [`Streams`] (per-sample channels) and recording [`Segment`]s, with the
//!   compact binary form stored as one `bytea` per activity.
//!
//! Conventions (units, time base, gaps, pauses) are written in [`streams`].

pub mod activity;
pub mod provider;
pub mod sport;
pub mod streams;

pub use activity::{FileFormat, Lap, ParsedActivity, Totals};
pub use provider::Provider;
pub use sport::{Sport, SubSport};
pub use streams::{Sample, Segment, Streams};
