//! The current time, controllable in tests.
//!
//! Everything that compares against "now" for security decisions (session
//! idle and absolute expiry, throttling windows) asks a [`Clock`] instead of
//! the system, so tests can move time forward without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, TimeDelta, Utc};

/// System time plus an adjustable offset (always zero in production).
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The real clock.
    #[must_use]
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, according to this clock.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Move this clock (and every clone of it) forward. For tests.
    pub fn advance(&self, by: TimeDelta) {
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_a_clone_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = clock.now();
        other.advance(TimeDelta::hours(13));
        assert!(clock.now() - before >= TimeDelta::hours(13));
    }
}
