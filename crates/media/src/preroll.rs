//! The per-camera pre-roll: the recent frames an alert's clip starts with.
//!
//! The ring keeps whole GOPs, from the newest keyframe that lies at least
//! [`PrerollConfig::pre_roll`] before the newest frame (so a snapshot spans
//! ≥ `pre_roll` once the camera has been up that long, and at most `pre_roll`
//! plus one GOP). Frames are `Bytes`: pushing the hub's frame shares its buffer,
//! and a snapshot clones pointers, never payloads.
//!
//! Memory is bounded by [`PrerollConfig::max_bytes`]: over it, the oldest GOPs go
//! first. When the newest GOP alone outgrows the budget, the ring keeps it from its
//! keyframe and refuses its later frames until the next keyframe
//! ([`Preroll::truncated`] says so: a clip continuing from such a snapshot must
//! wait for a keyframe, see `ClipWriter::resync`); a keyframe larger than the
//! whole budget empties the ring.
//!
//! Frames before the first keyframe are dropped (nothing could decode them). A
//! timestamp going back by more than [`MAX_BACKWARDS_US`] (a camera restart)
//! empties the ring: its time arithmetic would no longer hold. When the stream's
//! parameters change, call [`Preroll::clear`]: the old frames do not decode with
//! the new ones.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

/// A timestamp going back by more than this empties the ring.
pub const MAX_BACKWARDS_US: i64 = 1_000_000;

/// One frame in the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrerollFrame {
    /// The payload (or the whole wire message: the ring does not look inside).
    pub data: Bytes,
    pub timestamp_us: i64,
    pub keyframe: bool,
}

/// Sizes of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrerollConfig {
    /// How far back a snapshot reaches at least (when the budget allows).
    pub pre_roll: Duration,
    /// Bytes of frames kept at most.
    pub max_bytes: usize,
}

impl Default for PrerollConfig {
    /// 3 s; 12 MiB holds 3 s plus a 4 s GOP of an 8 Mbit/s camera with room to spare.
    fn default() -> Self {
        PrerollConfig {
            pre_roll: Duration::from_secs(3),
            max_bytes: 12 << 20,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Gop {
    frames: usize,
    bytes: usize,
}

/// The ring of one camera. Pure: no clock, no I/O.
#[derive(Debug, Clone)]
pub struct Preroll {
    config: PrerollConfig,
    frames: VecDeque<PrerollFrame>,
    /// The GOPs in `frames`, oldest first; every GOP starts with a keyframe.
    gops: VecDeque<Gop>,
    bytes: usize,
    truncated: bool,
}

impl Preroll {
    pub fn new(config: PrerollConfig) -> Self {
        Preroll {
            config,
            frames: VecDeque::new(),
            gops: VecDeque::new(),
            bytes: 0,
            truncated: false,
        }
    }

    /// Adds the newest frame and trims the ring (time, then budget).
    pub fn push(&mut self, frame: PrerollFrame) {
        if let Some(newest) = self.frames.back() {
            if frame.timestamp_us < newest.timestamp_us.saturating_sub(MAX_BACKWARDS_US) {
                self.clear();
            }
        }
        let size = frame.data.len();
        if frame.keyframe {
            self.truncated = false;
            self.gops.push_back(Gop {
                frames: 0,
                bytes: 0,
            });
        } else if self.gops.is_empty() || self.truncated {
            return;
        }
        let Some(gop) = self.gops.back_mut() else {
            return;
        };
        gop.frames += 1;
        gop.bytes += size;
        self.bytes += size;
        self.frames.push_back(frame);
        self.trim_time();
        self.trim_budget();
    }

    /// The frames from the pre-roll's keyframe on, oldest first (pointer clones).
    pub fn snapshot(&self) -> Vec<PrerollFrame> {
        self.frames.iter().cloned().collect()
    }

    /// Whether the newest GOP went over the budget and its later frames were
    /// refused: whatever continues a snapshot must wait for the next keyframe.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Forgets everything (parameters changed, camera restarted).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.gops.clear();
        self.bytes = 0;
        self.truncated = false;
    }

    pub fn len(&self) -> usize {
        self.frames.len()
    }

    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// From the oldest frame to the newest, in µs (0 when empty).
    pub fn span_us(&self) -> i64 {
        match (self.frames.front(), self.frames.back()) {
            (Some(a), Some(b)) => b.timestamp_us.saturating_sub(a.timestamp_us),
            _ => 0,
        }
    }

    pub fn config(&self) -> PrerollConfig {
        self.config
    }

    /// Drops the oldest GOP while the next one still starts `pre_roll` or more
    /// before the newest frame.
    fn trim_time(&mut self) {
        let Some(newest) = self.frames.back().map(|f| f.timestamp_us) else {
            return;
        };
        let pre_roll = i64::try_from(self.config.pre_roll.as_micros()).unwrap_or(i64::MAX);
        let cutoff = newest.saturating_sub(pre_roll);
        while self.gops.len() > 1 {
            let next_start = self.gops[0].frames;
            let starts_early = self
                .frames
                .get(next_start)
                .is_some_and(|f| f.timestamp_us <= cutoff);
            if !starts_early {
                break;
            }
            self.drop_oldest_gop();
        }
    }

    fn trim_budget(&mut self) {
        while self.bytes > self.config.max_bytes && self.gops.len() > 1 {
            self.drop_oldest_gop();
        }
        if self.bytes <= self.config.max_bytes {
            return;
        }
        // The newest GOP alone is over: refuse its newest frame, or all of it
        // if its keyframe alone is.
        let Some(gop) = self.gops.back_mut() else {
            return;
        };
        if gop.frames > 1 {
            if let Some(last) = self.frames.pop_back() {
                gop.frames -= 1;
                gop.bytes -= last.data.len();
                self.bytes -= last.data.len();
            }
            self.truncated = true;
        } else {
            self.clear();
        }
    }

    fn drop_oldest_gop(&mut self) {
        if let Some(gop) = self.gops.pop_front() {
            self.frames.drain(..gop.frames.min(self.frames.len()));
            self.bytes -= gop.bytes;
        }
    }
}

impl Default for Preroll {
    fn default() -> Self {
        Preroll::new(PrerollConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FRAME_US: i64 = 40_000; // 25 fps

    fn frame(n: i64, key: bool, size: usize) -> PrerollFrame {
        PrerollFrame {
            data: Bytes::from(vec![n as u8; size]),
            timestamp_us: n * FRAME_US,
            keyframe: key,
        }
    }

    fn config(max_bytes: usize) -> PrerollConfig {
        PrerollConfig {
            pre_roll: Duration::from_secs(3),
            max_bytes,
        }
    }

    #[test]
    fn frames_before_the_first_keyframe_are_dropped() {
        let mut ring = Preroll::default();
        ring.push(frame(0, false, 10));
        assert!(ring.is_empty());
        ring.push(frame(1, true, 10));
        ring.push(frame(2, false, 10));
        assert_eq!(ring.len(), 2);
    }

    #[test]
    fn keeps_at_least_the_pre_roll_from_a_keyframe() {
        // GOP of 50 frames (2 s) at 25 fps, 10 s of stream.
        let mut ring = Preroll::new(config(usize::MAX));
        for n in 0..250 {
            ring.push(frame(n, n % 50 == 0, 100));
        }
        let snap = ring.snapshot();
        assert!(snap[0].keyframe);
        let span = snap.last().map(|f| f.timestamp_us).unwrap_or(0) - snap[0].timestamp_us;
        assert!(span >= 3_000_000, "span {span}");
        // The newest frame is 249 (9.96 s); of the keyframes, 200 (8 s) is too
        // recent, 150 (6 s) is the newest at least 3 s back.
        assert_eq!(snap[0].timestamp_us, 150 * FRAME_US);
        assert_eq!(snap.len(), 100);
        assert_eq!(ring.bytes(), 100 * 100);
    }

    #[test]
    fn drops_oldest_gops_to_fit_the_budget() {
        let mut ring = Preroll::new(config(60 * 100));
        for n in 0..250 {
            ring.push(frame(n, n % 50 == 0, 100));
        }
        // 100 frames would be wanted; 60 fit; whole GOPs only → the newest GOP.
        let snap = ring.snapshot();
        assert_eq!(snap[0].timestamp_us, 200 * FRAME_US);
        assert!(snap[0].keyframe);
        assert_eq!(snap.len(), 50);
        assert!(!ring.truncated());
    }

    #[test]
    fn a_gop_over_the_budget_is_kept_from_its_keyframe_then_refused() {
        let mut ring = Preroll::new(config(1000));
        ring.push(frame(0, true, 400));
        for n in 1..10 {
            ring.push(frame(n, false, 200));
        }
        assert!(ring.truncated());
        assert!(ring.bytes() <= 1000);
        let snap = ring.snapshot();
        assert_eq!(snap.len(), 4, "keyframe + 3 deltas fit");
        assert!(snap[0].keyframe);
        // The next keyframe starts afresh.
        ring.push(frame(10, true, 400));
        assert!(!ring.truncated());
        assert_eq!(ring.snapshot()[0].timestamp_us, 10 * FRAME_US);
    }

    #[test]
    fn a_keyframe_over_the_budget_empties_the_ring() {
        let mut ring = Preroll::new(config(1000));
        ring.push(frame(0, true, 500));
        ring.push(frame(1, true, 2000));
        assert!(ring.is_empty());
        ring.push(frame(2, false, 10));
        assert!(ring.is_empty(), "waits for a keyframe");
    }

    #[test]
    fn a_camera_restart_empties_the_ring() {
        let mut ring = Preroll::default();
        for n in 100..110 {
            ring.push(frame(n, n == 100, 10));
        }
        ring.push(frame(0, false, 10));
        assert!(ring.is_empty());
    }

    #[test]
    fn snapshot_shares_the_buffers() {
        let mut ring = Preroll::default();
        let f = frame(0, true, 1000);
        let ptr = f.data.as_ptr();
        ring.push(f);
        assert_eq!(ring.snapshot()[0].data.as_ptr(), ptr);
    }

    proptest! {
        /// Any stream: within budget, starts at a keyframe, and spans ≥ pre-roll
        /// whenever the stream had a keyframe that far back whose GOPs fit.
        #[test]
        fn invariants(
            frames in proptest::collection::vec((any::<bool>(), 1usize..3000, 1i64..80_000), 1..400),
            budget in 1000usize..200_000,
        ) {
            let mut ring = Preroll::new(config(budget));
            let mut ts = 0;
            for (n, (key, size, step)) in frames.into_iter().enumerate() {
                ts += step;
                ring.push(PrerollFrame { data: Bytes::from(vec![0; size]), timestamp_us: ts, keyframe: key || n % 30 == 0 });
                prop_assert!(ring.bytes() <= budget);
                let snap = ring.snapshot();
                prop_assert_eq!(snap.iter().map(|f| f.data.len()).sum::<usize>(), ring.bytes());
                if let Some(first) = snap.first() {
                    prop_assert!(first.keyframe);
                }
            }
        }
    }

    #[test]
    fn spans_at_least_the_pre_roll_with_irregular_gops() {
        let mut ring = Preroll::new(config(usize::MAX));
        let mut n = 0;
        for gop in [7, 90, 13, 40, 66, 3, 120, 25] {
            for i in 0..gop {
                ring.push(frame(n, i == 0, 10));
                n += 1;
                let snap = ring.snapshot();
                let span = ring.span_us();
                // Either ≥ 3 s, or everything since the very first keyframe.
                assert!(
                    span >= 3_000_000 || snap[0].timestamp_us == 0,
                    "n={n} span={span}"
                );
                assert!(snap[0].keyframe);
            }
        }
    }
}
