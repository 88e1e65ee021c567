//! Logging a repeated failure once per interval instead of once per call, so that an outage
//! seen by thousands of requests a second costs a few log lines.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Decides which occurrences of one kind of failure get logged.
#[derive(Debug)]
pub struct LogThrottle {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    last_failure_logged: Option<Instant>,
    last_recovery_logged: Option<Instant>,
    /// Occurrences since the last logged one.
    suppressed: u64,
    /// Whether the failure is ongoing, so that the first success afterwards can be logged.
    failing: bool,
}

impl LogThrottle {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::new(State::default()),
        }
    }

    /// Records an occurrence. Returns `Some(suppressed)` when this one should be logged, with
    /// the number of occurrences left out since the last logged one.
    pub fn failure(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.failing = true;
        if !self.due(state.last_failure_logged, now) {
            state.suppressed += 1;
            return None;
        }
        state.last_failure_logged = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }

    /// Records a success. Returns `Some(suppressed)` for the first success after failures, so
    /// that the recovery is logged with the failures left out since the last logged one. A
    /// service that fails and recovers on every call still gets one recovery line per interval.
    pub fn success(&self) -> Option<u64> {
        let now = Instant::now();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.failing {
            return None;
        }
        state.failing = false;
        if !self.due(state.last_recovery_logged, now) {
            return None;
        }
        state.last_recovery_logged = Some(now);
        Some(std::mem::take(&mut state.suppressed))
    }

    fn due(&self, last: Option<Instant>, now: Instant) -> bool {
        last.is_none_or(|last| now.duration_since(last) >= self.interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_first_failure_then_suppresses() {
        let throttle = LogThrottle::new(Duration::from_secs(3600));
        assert_eq!(throttle.failure(), Some(0));
        assert_eq!(throttle.failure(), None);
        assert_eq!(throttle.failure(), None);
        assert_eq!(throttle.success(), Some(2));
        assert_eq!(throttle.success(), None);
    }

    #[test]
    fn flapping_logs_once_per_interval() {
        let throttle = LogThrottle::new(Duration::from_secs(3600));
        assert_eq!(throttle.failure(), Some(0));
        assert_eq!(throttle.success(), Some(0));
        assert_eq!(throttle.failure(), None);
        assert_eq!(throttle.success(), None);
        assert_eq!(throttle.failure(), None);
    }

    #[test]
    fn logs_again_after_the_interval() {
        let throttle = LogThrottle::new(Duration::ZERO);
        assert_eq!(throttle.failure(), Some(0));
        assert_eq!(throttle.failure(), Some(0));
    }
}
