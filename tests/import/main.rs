//! Activity-file import against real device files (`tests/fixtures/activities/`, with
//! their licences) and hostile input. No database.

// Test helpers outside #[test] functions fail loudly by design.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::float_cmp,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss,
    clippy::case_sensitive_file_extension_comparisons,
    reason = "test code: a failed assertion is the report; fixture names are lowercase"
)]

mod export;
mod hostile;
mod real_files;
mod support;
