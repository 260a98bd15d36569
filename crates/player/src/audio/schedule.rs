//! The jitter buffer (pure, host-tested): where on the sound card's clock
//! each decoded chunk of a camera's audio starts.
//!
//! Video is painted the moment it is decoded; audio cannot be: a sound card
//! plays a continuous signal, and packets arrive with jitter. So each chunk
//! is scheduled a little ahead of the sound card's clock (the *lead*, the
//! buffer), right after the previous one. A chunk that comes too late for
//! its place (a gap in the network, a busy page) starts a new run one lead
//! ahead, and the lead grows a step, up to a limit; after a quiet while it
//! shrinks back. A chunk that would start too far ahead (arrivals bunched up
//! after a stall, or a camera clock faster than the sound card's) is dropped
//! instead, so the sound never lags the picture by more than the limit.
//!
//! Clocks are in sample frames of the sound card.

/// The lead a run starts with, and the least it shrinks back to.
pub const START_LEAD_MS: u32 = 60;
/// The lead added at each late chunk.
pub const LEAD_STEP_MS: u32 = 20;
/// The most lead there will be: beyond this audio would visibly trail the video.
pub const MAX_LEAD_MS: u32 = 200;
/// A run this long without a late chunk shrinks the lead a step.
pub const QUIET_MS: u32 = 20_000;
/// A chunk whose place is this close to the clock counts as late: the
/// browser needs it a render quantum or two ahead.
pub const LATE_MS: u32 = 5;
/// Dropped when its place is more than this past the target lead.
pub const SLACK_MS: u32 = 80;

/// What to do with one chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// Start it at this frame of the sound card's clock.
    At(u64),
    /// Drop it: the buffer holds too much already.
    Drop,
}

/// One audible stream's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    rate: u64,
    lead: u64,
    /// Where the next chunk goes (the end of the last one scheduled).
    next: Option<u64>,
    /// The clock when the lead last changed or a chunk was late.
    calm_since: u64,
    /// Chunks that came too late for their place.
    pub late: u32,
    /// Chunks dropped for being too far ahead.
    pub dropped: u32,
}

impl Schedule {
    /// For a sound card running at `rate` Hz.
    pub fn new(rate: u32) -> Schedule {
        let rate = u64::from(rate.max(1));
        Schedule {
            rate,
            lead: ms(START_LEAD_MS, rate),
            next: None,
            calm_since: 0,
            late: 0,
            dropped: 0,
        }
    }

    /// The lead aimed at now, in ms.
    pub fn lead_ms(&self) -> f64 {
        self.lead as f64 * 1000.0 / self.rate as f64
    }

    /// Places a chunk of `len` frames arriving when the clock is at `now`.
    pub fn place(&mut self, now: u64, len: u64) -> Place {
        let rate = self.rate;
        let at = match self.next {
            Some(next) if next >= now + ms(LATE_MS, rate) => {
                if next > now + self.lead + ms(SLACK_MS, rate) {
                    self.dropped += 1;
                    return Place::Drop;
                }
                if now.saturating_sub(self.calm_since) >= ms(QUIET_MS, rate)
                    && self.lead > ms(START_LEAD_MS, rate)
                {
                    self.lead = (self.lead - ms(LEAD_STEP_MS, rate)).max(ms(START_LEAD_MS, rate));
                    self.calm_since = now;
                    // What is buffered shrinks too: this one chunk goes.
                    if next >= now + self.lead + len {
                        self.dropped += 1;
                        return Place::Drop;
                    }
                }
                next
            }
            Some(_) => {
                self.late += 1;
                self.lead = (self.lead + ms(LEAD_STEP_MS, rate)).min(ms(MAX_LEAD_MS, rate));
                self.calm_since = now;
                now + self.lead
            }
            None => {
                self.calm_since = now;
                now + self.lead
            }
        };
        self.next = Some(at + len);
        Place::At(at)
    }

    /// Sound stopped (muted, another camera, a new codec): the next chunk
    /// starts a new run, and is not late.
    pub fn stop(&mut self) {
        self.next = None;
    }
}

fn ms(ms: u32, rate: u64) -> u64 {
    u64::from(ms) * rate / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u64 = 48_000;
    /// 20 ms, a G.711 packet.
    const CHUNK: u64 = 960;

    #[test]
    fn steady_packets_play_back_to_back_one_lead_behind() {
        let mut s = Schedule::new(48_000);
        let mut now = 0;
        let mut expected = ms(START_LEAD_MS, RATE);
        for _ in 0..500 {
            assert_eq!(s.place(now, CHUNK), Place::At(expected));
            expected += CHUNK;
            now += CHUNK;
        }
        assert_eq!((s.late, s.dropped), (0, 0));
        assert_eq!(s.lead_ms(), 60.0);
    }

    /// Jitter within the lead changes nothing: each chunk still follows the last.
    #[test]
    fn jitter_within_the_lead_is_absorbed() {
        let mut s = Schedule::new(48_000);
        let first = s.place(0, CHUNK);
        assert_eq!(first, Place::At(2880));
        // Two packets 40 ms late, then three at once.
        assert_eq!(s.place(CHUNK + 1920, CHUNK), Place::At(2880 + CHUNK));
        assert_eq!(s.place(3 * CHUNK, CHUNK), Place::At(2880 + 2 * CHUNK));
        assert_eq!(s.place(3 * CHUNK, CHUNK), Place::At(2880 + 3 * CHUNK));
        assert_eq!(s.late, 0);
    }

    #[test]
    fn a_gap_starts_a_new_run_with_more_lead_up_to_the_limit() {
        let mut s = Schedule::new(48_000);
        s.place(0, CHUNK);
        // Nothing for a second: the next chunk is late for its place.
        let now = RATE;
        assert_eq!(s.place(now, CHUNK), Place::At(now + ms(80, RATE)));
        assert_eq!(s.late, 1);
        assert_eq!(s.lead_ms(), 80.0);
        let mut now = now;
        for _ in 0..20 {
            now += RATE;
            s.place(now, CHUNK);
        }
        assert_eq!(s.lead_ms(), f64::from(MAX_LEAD_MS));
    }

    #[test]
    fn a_bunch_after_a_stall_is_trimmed_to_the_slack() {
        let mut s = Schedule::new(48_000);
        let mut placed = 0;
        // A second of packets arrives at once.
        for _ in 0..50 {
            if let Place::At(_) = s.place(0, CHUNK) {
                placed += 1;
            }
        }
        // 60 ms lead + 80 ms slack: the chunks starting 60, 80, 100, 120
        // and 140 ms ahead are kept.
        assert_eq!(placed, 5);
        assert_eq!(s.dropped, 45);
        // As the clock moves on, packets are placed again.
        assert!(matches!(s.place(4 * CHUNK, CHUNK), Place::At(_)));
    }

    #[test]
    fn a_quiet_while_shrinks_the_lead_back() {
        let mut s = Schedule::new(48_000);
        s.place(0, CHUNK);
        s.place(RATE, CHUNK); // late: 80 ms
        let mut now = RATE;
        let mut at = None;
        while now < 30 * RATE {
            now += CHUNK;
            at = Some(s.place(now, CHUNK));
        }
        assert!(matches!(at, Some(Place::At(_))));
        assert_eq!(s.lead_ms(), 60.0);
        assert_eq!(s.late, 1);
        // The 20 ms too many that were buffered went with one chunk.
        assert_eq!(s.dropped, 1);
        match s.place(now + CHUNK, CHUNK) {
            Place::At(at) => assert_eq!(at - (now + CHUNK), ms(60, RATE)),
            Place::Drop => panic!("dropped"),
        }
    }

    #[test]
    fn stopping_starts_afresh_without_counting_late() {
        let mut s = Schedule::new(44_100);
        s.place(0, 441);
        s.stop();
        assert_eq!(s.place(441_000, 441), Place::At(441_000 + 2646));
        assert_eq!(s.late, 0);
    }
}
