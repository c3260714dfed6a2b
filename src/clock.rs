//! The clock, behind a trait: the real one in production, a virtual one that moves
//! only when slept on for the simulator, the demo and tests.

use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};

/// What a run asks of time: the instant now, and a pause.
#[allow(async_fn_in_trait)]
pub trait Clock {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Waits `d`.
    async fn sleep(&self, d: StdDuration);
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    async fn sleep(&self, d: StdDuration) {
        tokio::time::sleep(d).await;
    }
}

/// A clock that starts at a chosen instant and moves only when slept on or set.
/// Clones share one time, so a simulated fleet and the run that drives it agree.
#[derive(Debug, Clone)]
pub struct VirtualClock(Arc<Mutex<DateTime<Utc>>>);

impl VirtualClock {
    /// A clock at `at`.
    pub fn at(at: DateTime<Utc>) -> VirtualClock {
        VirtualClock(Arc::new(Mutex::new(at)))
    }

    /// Moves the clock to `at` (forwards or back).
    pub fn set(&self, at: DateTime<Utc>) {
        *self.lock() = at;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DateTime<Utc>> {
        // The guarded value is a plain instant: a panic elsewhere cannot leave it torn.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.lock()
    }
    async fn sleep(&self, d: StdDuration) {
        let mut now = self.lock();
        *now += chrono::Duration::from_std(d).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_moves_only_when_slept_on_and_clones_share_it() {
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = VirtualClock::at(t0);
        let other = clock.clone();
        futures::executor::block_on(clock.sleep(StdDuration::from_secs(90)));
        assert_eq!(other.now(), t0 + chrono::Duration::seconds(90));
        other.set(t0);
        assert_eq!(clock.now(), t0);
    }
}
