//! Reconnect delays: exponential with jitter, capped, reset on success.

/// First retry delay.
pub const INITIAL_MS: f64 = 250.0;
/// Longest delay between attempts: a player keeps trying forever, this often.
pub const MAX_MS: f64 = 10_000.0;

/// Counts failed attempts and says how long to wait before the next one.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The delay before the next attempt; `random` in `[0, 1)` spreads players
    /// so a restarted relay is not hit by every page at the same instant.
    pub fn next_delay_ms(&mut self, random: f64) -> f64 {
        let base = (INITIAL_MS * 2f64.powi(self.failures.min(16) as i32)).min(MAX_MS);
        self.failures = self.failures.saturating_add(1);
        base * (0.75 + 0.5 * random.clamp(0.0, 1.0))
    }

    /// A connection worked: start again from the shortest delay.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_resets() {
        let mut b = Backoff::default();
        let delays: Vec<f64> = (0..10).map(|_| b.next_delay_ms(0.5)).collect();
        assert_eq!(delays[0], INITIAL_MS);
        assert_eq!(delays[1], INITIAL_MS * 2.0);
        assert!(delays.windows(2).all(|w| w[1] >= w[0]));
        assert_eq!(delays[9], MAX_MS);
        b.reset();
        assert_eq!(b.next_delay_ms(0.5), INITIAL_MS);
    }

    #[test]
    fn jitter_stays_within_a_quarter() {
        let mut lo = Backoff::default();
        let mut hi = Backoff::default();
        assert_eq!(lo.next_delay_ms(0.0), INITIAL_MS * 0.75);
        assert_eq!(hi.next_delay_ms(1.0), INITIAL_MS * 1.25);
    }
}
