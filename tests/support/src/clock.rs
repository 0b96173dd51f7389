//! A clock that stands still until a test moves it, so time-based rules are checked without
//! sleeping and without depending on when a second ticks over.

use std::sync::atomic::{AtomicU64, Ordering};

use token_endpoint::domain::clock::{Clock, SystemClock, UnixSeconds};

pub struct ManualClock(AtomicU64);

impl Default for ManualClock {
    /// Now.
    fn default() -> Self {
        Self::at(SystemClock.now())
    }
}

impl ManualClock {
    pub fn at(seconds: UnixSeconds) -> Self {
        Self(AtomicU64::new(seconds))
    }

    pub fn advance(&self, seconds: u64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}
