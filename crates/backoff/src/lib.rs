//! Retry delays: exponential with jitter, capped, reset on success. Shared by the
//! relay (reconnecting to cameras) and the player (reconnecting to the relay).
//!
//! Written by hand: the crates that do this bring timers and runtimes, while both
//! users here need only the arithmetic (the player has no tokio, and takes its
//! randomness from `Math.random`).

use std::time::Duration;

/// Counts failed attempts and says how long to wait before the next one.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Delays start at `initial` and double up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max,
            failures: 0,
        }
    }

    /// The delay before the next attempt; `random` in `[0, 1)` spreads it by ±25 %
    /// so that many clients of one restarted server do not retry in lockstep.
    pub fn next_delay(&mut self, random: f64) -> Duration {
        let base = self
            .initial
            .saturating_mul(1 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(0.75 + 0.5 * random.clamp(0.0, 1.0))
    }

    /// Failed attempts since the last [`Backoff::reset`].
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// An attempt worked: start again from the shortest delay.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INITIAL: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(10);

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::new(INITIAL, MAX);
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay(0.5)).collect();
        assert_eq!(delays[0], INITIAL);
        assert_eq!(delays[1], INITIAL * 2);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(delays[9], MAX);
        assert_eq!(b.failures(), 10);
        b.reset();
        assert_eq!(b.next_delay(0.5), INITIAL);
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut lo = Backoff::new(INITIAL, MAX);
        let mut hi = Backoff::new(INITIAL, MAX);
        assert_eq!(lo.next_delay(0.0), INITIAL.mul_f64(0.75));
        assert_eq!(hi.next_delay(1.0), INITIAL.mul_f64(1.25));
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut b = Backoff::new(INITIAL, MAX);
        for _ in 0..1000 {
            assert!(b.next_delay(1.0) <= MAX.mul_f64(1.25));
        }
    }
}
