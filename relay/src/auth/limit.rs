//! Login attempts per client address: a token bucket of [`BURST`] attempts
//! refilled one every [`REFILL`], so a person who mistypes a few times is not
//! slowed while a guesser gets at most ~10 tries a minute from one address
//! (an 8-character random password then takes centuries).
//!
//! Hand-written rather than `governor`: it needs IPv6 addresses grouped by
//! /64 (one subscriber gets a whole /64, so per-address limits would be
//! free to dodge), a hard cap on memory that a flood of spoofed-looking
//! addresses cannot push past, and a clock passed in so the rules are tested
//! without sleeping — thirty lines that no crate offers together.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Attempts allowed at once.
pub const BURST: f64 = 10.0;
/// One more attempt every …
pub const REFILL: Duration = Duration::from_secs(6);
/// Addresses remembered at most (about 40 bytes each).
pub const MAX_PEERS: usize = 100_000;

#[derive(Debug, Default)]
pub struct LoginLimiter {
    buckets: HashMap<IpAddr, (f64, Instant)>,
}

impl LoginLimiter {
    /// Takes one attempt for `peer` at `now`: `Err(wait)` if none is left.
    pub fn attempt(&mut self, peer: IpAddr, now: Instant) -> Result<(), Duration> {
        let key = group(peer);
        if self.buckets.len() >= MAX_PEERS && !self.buckets.contains_key(&key) {
            // Forget the addresses whose buckets have refilled; if every one
            // is still draining, the newcomer shares one bucket with them all.
            self.buckets
                .retain(|_, (tokens, at)| refill(*tokens, *at, now) < BURST);
            if self.buckets.len() >= MAX_PEERS {
                return self.take(IpAddr::from([0, 0, 0, 0]), now);
            }
        }
        self.take(key, now)
    }

    fn take(&mut self, key: IpAddr, now: Instant) -> Result<(), Duration> {
        let (tokens, at) = self.buckets.entry(key).or_insert((BURST, now));
        let available = refill(*tokens, *at, now);
        if available >= 1.0 {
            *tokens = available - 1.0;
            *at = now;
            Ok(())
        } else {
            Err(REFILL.mul_f64(1.0 - available))
        }
    }
}

fn refill(tokens: f64, at: Instant, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(at).as_secs_f64();
    (tokens + elapsed / REFILL.as_secs_f64()).min(BURST)
}

/// IPv4 addresses stand alone; IPv6 ones are grouped by their /64.
fn group(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::from([s[0], s[1], s[2], s[3], 0, 0, 0, 0])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_every_refill() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..10 {
            assert!(limiter.attempt(a, t0).is_ok());
        }
        let wait = limiter.attempt(a, t0).unwrap_err();
        assert!(wait <= REFILL && wait > REFILL / 2, "{wait:?}");
        // Another address is not affected.
        assert!(limiter.attempt("192.0.2.2".parse().unwrap(), t0).is_ok());
        // One attempt back after REFILL, not two.
        assert!(limiter.attempt(a, t0 + REFILL).is_ok());
        assert!(limiter.attempt(a, t0 + REFILL).is_err());
    }

    #[test]
    fn ipv6_neighbours_share_a_bucket() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..10u16 {
            let addr = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, i]);
            assert!(limiter.attempt(addr, t0).is_ok());
        }
        assert!(limiter
            .attempt("2001:db8:0:1::ffff".parse().unwrap(), t0)
            .is_err());
        assert!(limiter
            .attempt("2001:db8:0:2::1".parse().unwrap(), t0)
            .is_ok());
        // An IPv4-mapped address is its IPv4 address.
        let mut limiter = LoginLimiter::default();
        for _ in 0..10 {
            limiter
                .attempt("::ffff:192.0.2.9".parse().unwrap(), t0)
                .unwrap();
        }
        assert!(limiter.attempt("192.0.2.9".parse().unwrap(), t0).is_err());
    }

    #[test]
    fn memory_is_bounded() {
        let mut limiter = LoginLimiter::default();
        let t0 = Instant::now();
        for i in 0..(MAX_PEERS as u32 + 10) {
            let _ = limiter.attempt(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(limiter.buckets.len() <= MAX_PEERS + 1);
    }
}
