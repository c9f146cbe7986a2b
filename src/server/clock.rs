//! Where the server's time comes from: the system clock, or the system clock moved to a
//! time that is set (the demo's morning runs on the story's own time, so that its stamps
//! and its story agree, and goes on ticking from there while the supervisor works).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::model::UtcMillis;

/// The server's clock. Cloned handles share one setting.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that shows `start` now and runs on from there.
    pub fn set_to(start: UtcMillis) -> Self {
        let clock = Self(Some(Arc::new(AtomicI64::new(0))));
        clock.set(start);
        clock
    }

    /// Moves a settable clock to `at`; the system clock ignores it.
    pub fn set(&self, at: UtcMillis) {
        if let Some(offset) = &self.0 {
            let ahead = at.as_millis() - UtcMillis::now().as_millis();
            offset.store(ahead, Ordering::SeqCst);
        }
    }

    pub fn now(&self) -> UtcMillis {
        let now = UtcMillis::now();
        match &self.0 {
            None => now,
            Some(offset) => {
                let ms = now.as_millis() + offset.load(Ordering::SeqCst);
                UtcMillis::from_millis(ms).unwrap_or(now)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Clock;

    fn apart(a: crate::model::UtcMillis, b: crate::model::UtcMillis) -> i64 {
        (a.as_millis() - b.as_millis()).abs()
    }

    #[test]
    fn a_set_clock_shows_its_time_to_every_handle_and_runs_on() {
        let at = "2026-11-20T08:10:00Z".parse().unwrap();
        let clock = Clock::set_to(at);
        let handle = clock.clone();
        assert!(apart(handle.now(), at) < 1_000);
        let later = "2026-11-20T09:30:00Z".parse().unwrap();
        clock.set(later);
        assert!(apart(handle.now(), later) < 1_000);
        Clock::system().set(later);
        assert!(
            apart(Clock::system().now(), later) > 1_000,
            "the system clock is not set"
        );
    }
}
