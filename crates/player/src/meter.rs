//! The player's live figures (pure, host-tested): frames painted per second,
//! bitrate, and latency, measured over one-second windows. The window in which
//! playback (re)starts is not reported: it holds the fast-start burst (the
//! relay's cached GOP, decoded faster than real time, received by the relay up
//! to seconds before), which says nothing of live playback.
//!
//! Latency pairs each painted picture with its access unit by timestamp:
//! arrival at the player → painted (what the player adds), and the relay's
//! receive time → painted (what the viewer sees behind the camera, meaningful
//! when the two machines' clocks agree, as NTP keeps them). Arrival → painted
//! is also kept per picture for the last [`RECENT`] pictures, for its
//! percentiles: a mean hides the stalls a viewer notices.

use std::collections::VecDeque;

/// How long one measuring window lasts.
pub const WINDOW_MS: f64 = 1000.0;
/// Access units awaiting their picture, at most: a decoder that swallows
/// frames (or a stream restart) must not grow this.
const MAX_WAITING: usize = 128;
/// Pictures whose arrival → painted times give the percentiles (10 s at 30 fps).
pub const RECENT: usize = 300;

/// Figures of the last complete window.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Figures {
    pub fps: f64,
    pub bitrate_bps: f64,
    /// Mean arrival → painted over the window, ms.
    pub arrival_to_paint_ms: Option<f64>,
    /// Mean relay receive → painted over the window, ms (wall clocks).
    pub relay_to_paint_ms: Option<f64>,
    /// Mean out of the decoder → painted over the window, ms: the painting's
    /// share of arrival → painted (the rest is decoding, and queueing for it).
    pub output_to_paint_ms: Option<f64>,
}

#[derive(Debug)]
pub struct Meter {
    /// (timestamp µs, arrival ms on the page's clock, relay receive µs since the epoch).
    waiting: VecDeque<(i64, f64, u64)>,
    window_start: Option<f64>,
    painted: u32,
    bytes: u64,
    arrival_sum: f64,
    relay_sum: f64,
    /// Out of the decoder → painted, summed, and the pictures it counts.
    paint_sum: f64,
    paint_count: u32,
    /// Pictures paired with their access unit, and those of them that had a relay time.
    matched: u32,
    relay_matched: u32,
    /// The current window is the one playback started in: do not report it.
    first_window: bool,
    last: Figures,
    /// Arrival → painted, ms, of the last [`RECENT`] pictures after the first window.
    recent: VecDeque<f64>,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            waiting: VecDeque::new(),
            window_start: None,
            painted: 0,
            bytes: 0,
            arrival_sum: 0.0,
            relay_sum: 0.0,
            paint_sum: 0.0,
            paint_count: 0,
            matched: 0,
            relay_matched: 0,
            first_window: true,
            last: Figures::default(),
            recent: VecDeque::new(),
        }
    }
}

impl Meter {
    /// An access unit arrived (`now_ms`: the page's monotonic clock).
    pub fn arrived(&mut self, timestamp_us: i64, bytes: usize, relay_us: u64, now_ms: f64) {
        self.roll(now_ms);
        self.bytes += bytes as u64;
        if self.waiting.len() == MAX_WAITING {
            self.waiting.pop_front();
        }
        self.waiting.push_back((timestamp_us, now_ms, relay_us));
    }

    /// A picture was painted. `wall_us`: the wall clock, µs since the epoch.
    /// Returns its latency, the relay's receive time → painted (ms), when known.
    pub fn painted(&mut self, timestamp_us: Option<i64>, now_ms: f64, wall_us: f64) -> Option<f64> {
        self.roll(now_ms);
        self.painted += 1;
        let ts = timestamp_us?;
        // Pictures come out in presentation order, not always arrival order
        // (B-frames): find this one, and forget access units older than it
        // by arrival that produced no picture.
        if let Some(at) = self.waiting.iter().position(|&(t, _, _)| t == ts) {
            let (_, arrival, relay_us) = self.waiting[at];
            self.waiting.remove(at);
            self.arrival_sum += now_ms - arrival;
            if !self.first_window {
                if self.recent.len() == RECENT {
                    self.recent.pop_front();
                }
                self.recent.push_back(now_ms - arrival);
            }
            self.matched += 1;
            if relay_us > 0 {
                let latency = (wall_us - relay_us as f64) / 1000.0;
                self.relay_sum += latency;
                self.relay_matched += 1;
                return Some(latency);
            }
        }
        None
    }

    /// The picture just painted had left the decoder `ms` before. Call after
    /// [`Meter::painted`].
    pub fn paint_took(&mut self, ms: f64) {
        self.paint_sum += ms;
        self.paint_count += 1;
    }

    /// Playback stopped (paused, or the decoder was replaced): start over; the
    /// next window, with its fast-start burst, is not reported either.
    pub fn restart(&mut self) {
        *self = Meter::default();
    }

    /// The figures of the last complete window.
    pub fn figures(&self) -> Figures {
        self.last
    }

    /// Arrival → painted over the last [`RECENT`] pictures: (median, 99th
    /// percentile) in ms, by the nearest-rank method; `None` before any.
    pub fn arrival_to_paint_percentiles(&self) -> Option<(f64, f64)> {
        let mut v: Vec<f64> = self.recent.iter().copied().collect();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        (!v.is_empty()).then(|| (rank(0.50), rank(0.99)))
    }

    /// Closes the window once it has lasted [`WINDOW_MS`].
    pub fn roll(&mut self, now_ms: f64) {
        let Some(start) = self.window_start else {
            self.window_start = Some(now_ms);
            return;
        };
        let elapsed = now_ms - start;
        if elapsed < WINDOW_MS {
            return;
        }
        let secs = elapsed / 1000.0;
        let mean = |sum: f64, n: u32| (n > 0).then(|| sum / n as f64);
        if !std::mem::take(&mut self.first_window) {
            self.last = Figures {
                fps: self.painted as f64 / secs,
                bitrate_bps: self.bytes as f64 * 8.0 / secs,
                arrival_to_paint_ms: mean(self.arrival_sum, self.matched),
                relay_to_paint_ms: mean(self.relay_sum, self.relay_matched),
                output_to_paint_ms: mean(self.paint_sum, self.paint_count),
            };
        }
        self.window_start = Some(now_ms);
        self.painted = 0;
        self.bytes = 0;
        self.arrival_sum = 0.0;
        self.relay_sum = 0.0;
        self.paint_sum = 0.0;
        self.paint_count = 0;
        self.matched = 0;
        self.relay_matched = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_steady_stream_reads_true() {
        let mut m = Meter::default();
        // 30 fps, 10 kB frames, each arriving 40 ms after the relay got it and
        // painted 5 ms after arriving.
        for n in 0..=60i64 {
            let t = n as f64 * 1000.0 / 30.0;
            let wall_us = 1.7e15 + t * 1000.0;
            m.arrived(n * 33_333, 10_000, (wall_us - 40_000.0) as u64, t);
            m.painted(Some(n * 33_333), t + 5.0, wall_us + 5_000.0);
            // Of those 5 ms, 2 were painting.
            m.paint_took(2.0);
        }
        let f = m.figures();
        assert!((f.output_to_paint_ms.unwrap() - 2.0).abs() < 1e-6, "{f:?}");
        assert!((f.fps - 30.0).abs() < 1.5, "{f:?}");
        assert!((f.bitrate_bps - 2_400_000.0).abs() < 120_000.0, "{f:?}");
        assert!((f.arrival_to_paint_ms.unwrap() - 5.0).abs() < 1e-6, "{f:?}");
        assert!((f.relay_to_paint_ms.unwrap() - 45.0).abs() < 1e-3, "{f:?}");
    }

    /// A meter whose first window (the one it would not report) is over at 0 ms.
    fn warmed_up() -> Meter {
        let mut m = Meter::default();
        m.roll(-1000.0);
        m.roll(0.0);
        m
    }

    #[test]
    fn the_window_playback_starts_in_is_not_reported() {
        let mut m = Meter::default();
        // A fast-start burst: 60 frames at once, received by the relay 2 s ago.
        for n in 0..60 {
            m.arrived(n, 10_000, 1, 0.0);
            m.painted(Some(n), 5.0, 2_000_000.0);
        }
        m.roll(1000.0);
        assert_eq!(m.figures(), Figures::default(), "nothing reported yet");
        m.arrived(60, 10_000, 1_999_000, 1010.0);
        m.painted(Some(60), 1015.0, 2_000_000.0);
        m.roll(2000.0);
        assert_eq!(m.figures().fps, 1.0);
        // Paused and resumed: the burst after the resume is not reported either.
        m.restart();
        m.arrived(0, 1, 1, 3000.0);
        m.roll(4000.0);
        assert_eq!(m.figures(), Figures::default());
    }

    #[test]
    fn percentiles_cover_the_recent_pictures_after_the_first_window() {
        let mut m = Meter::default();
        // The fast-start burst (first window) is slow and must not count.
        m.arrived(-1, 1, 0, 0.0);
        m.painted(Some(-1), 500.0, 0.0);
        assert_eq!(m.arrival_to_paint_percentiles(), None);
        m.roll(1000.0);
        // 100 pictures: 98 take 2 ms, one 40 ms, one 90 ms.
        for n in 0..100i64 {
            let t = 1000.0 + n as f64 * 33.0;
            let took = match n {
                10 => 40.0,
                70 => 90.0,
                _ => 2.0,
            };
            m.arrived(n, 1, 0, t);
            m.painted(Some(n), t + took, 0.0);
        }
        assert_eq!(m.arrival_to_paint_percentiles(), Some((2.0, 40.0)));
        // Only the last RECENT pictures count: the slow ones age out.
        for n in 100..100 + RECENT as i64 {
            let t = 5000.0 + n as f64 * 33.0;
            m.arrived(n, 1, 0, t);
            m.painted(Some(n), t + 3.0, 0.0);
        }
        assert_eq!(m.arrival_to_paint_percentiles(), Some((3.0, 3.0)));
        m.restart();
        assert_eq!(m.arrival_to_paint_percentiles(), None);
    }

    #[test]
    fn pictures_out_of_arrival_order_still_match() {
        let mut m = warmed_up();
        m.arrived(0, 1, 0, 0.0);
        m.arrived(2, 1, 0, 10.0);
        m.arrived(1, 1, 0, 20.0);
        m.painted(Some(0), 30.0, 0.0);
        m.painted(Some(1), 40.0, 0.0);
        m.painted(Some(2), 50.0, 0.0);
        m.roll(1000.0);
        // (30 - 0) + (40 - 20) + (50 - 10) = 90 over 3 pictures.
        assert_eq!(m.figures().arrival_to_paint_ms, Some(30.0));
        assert_eq!(m.figures().relay_to_paint_ms, None, "no relay time given");
    }

    #[test]
    fn waiting_units_are_bounded() {
        let mut m = Meter::default();
        for n in 0..1000 {
            m.arrived(n, 1, 0, 0.0);
        }
        assert_eq!(m.waiting.len(), MAX_WAITING);
    }

    #[test]
    fn nothing_painted_reads_zero() {
        let mut m = warmed_up();
        m.roll(2000.0);
        assert_eq!(m.figures().fps, 0.0);
        assert_eq!(m.figures().arrival_to_paint_ms, None);
    }
}
