//! Fast start without fast-forward (pure, host-tested): which decoded
//! pictures of a fast-start burst are painted.
//!
//! On subscribing, the relay sends every frame since the camera's last
//! keyframe at once, and the decoder needs all of them to reach the present.
//! Painting each as it came out replayed the GOP on screen: with a camera
//! that sends a keyframe every 10 s ("smart codec" modes), up to 10 s of
//! video went by in fast-forward before the picture was live. Now, until the
//! first picture at the live edge, a picture is painted only if at most
//! [`EDGE_FRAMES`] newer access units have arrived (counted among the last
//! [`ARRIVALS_KEPT`]; with B-frames the decoder legitimately holds one or two) —
//! the rest are decoded and dropped. Arrivals, not only what the decoder was
//! fed: a decoder told to skip the rest of a GOP (`live.rs`) is not at the
//! edge with the last picture it decoded. And not before the whole burst has
//! arrived (the relay says how many frames it holds: `subscribed.burst`): a
//! decoder can put out its first pictures while the rest of a big burst is
//! still on its way, and they would look like the edge (measured: a 1080p
//! burst of 54 frames was painted whole). From then on every
//! picture is painted. A decoder slower than the stream never reaches the
//! edge within the GOP: it paints one picture every [`PROGRESS_MS`] meanwhile,
//! so the screen is not left blank (the live gate then skips it to the next
//! keyframe, `live.rs`).

use std::collections::VecDeque;

/// A picture with at most this many newer access units arrived is at the live edge.
pub const EDGE_FRAMES: usize = 4;
/// The timestamps of the latest arrivals kept (more than [`EDGE_FRAMES`]:
/// a picture older than all of them is not at the edge).
pub const ARRIVALS_KEPT: usize = 16;
/// While joining, a picture at least this often (a decoder slower than the stream).
pub const PROGRESS_MS: f64 = 1000.0;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Since `since_ms`, not painted at the edge yet; the last picture
    /// painted meanwhile (the progress rule) at `shown_ms`.
    Joining {
        since_ms: f64,
        shown_ms: Option<f64>,
    },
    Live,
}

/// The rule's state for one subscription.
#[derive(Debug, Clone)]
pub struct Join {
    arrivals: VecDeque<i64>,
    phase: Phase,
    /// Frames of the announced burst still to arrive.
    burst_left: u32,
}

impl Default for Join {
    fn default() -> Join {
        Join {
            arrivals: VecDeque::with_capacity(ARRIVALS_KEPT),
            phase: Phase::Joining {
                since_ms: 0.0,
                shown_ms: None,
            },
            burst_left: 0,
        }
    }
}

impl Join {
    /// A new subscription whose first `frames` frames come at once (the
    /// relay's `burst`): none of them is the live edge before all are in.
    pub fn subscribed(&mut self, frames: u32, now_ms: f64) {
        self.restart(now_ms);
        self.burst_left = frames;
    }

    /// A new decoder (or stream): the next frames may be a fast-start burst
    /// (an announced one is still awaited).
    pub fn restart(&mut self, now_ms: f64) {
        self.arrivals.clear();
        self.phase = Phase::Joining {
            since_ms: now_ms,
            shown_ms: None,
        };
    }

    /// An access unit arrived (decoded or not).
    pub fn arrived(&mut self, timestamp_us: i64) {
        if self.arrivals.len() == ARRIVALS_KEPT {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(timestamp_us);
        self.burst_left = self.burst_left.saturating_sub(1);
    }

    /// Whether to paint the picture of `timestamp_us` that just came out.
    pub fn paint(&mut self, timestamp_us: i64, now_ms: f64) -> bool {
        let Phase::Joining { since_ms, shown_ms } = self.phase else {
            return true;
        };
        let newer = self.arrivals.iter().filter(|&&t| t > timestamp_us).count();
        if newer <= EDGE_FRAMES && self.burst_left == 0 {
            self.phase = Phase::Live;
            return true;
        }
        if now_ms - shown_ms.unwrap_or(since_ms) >= PROGRESS_MS {
            self.phase = Phase::Joining {
                since_ms,
                shown_ms: Some(now_ms),
            };
            return true;
        }
        false
    }

    /// Frames of the announced burst are still on their way.
    pub fn burst_arriving(&self) -> bool {
        self.burst_left > 0
    }

    /// The live edge was reached since the last restart.
    pub fn is_live(&self) -> bool {
        self.phase == Phase::Live
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: i64 = 33_333;

    /// A 10 s GOP sent at once, then decoded at 10 pictures per ms.
    #[test]
    fn a_burst_paints_only_its_live_end_then_everything() {
        let mut join = Join::default();
        join.restart(0.0);
        for n in 0..300 {
            join.arrived(n * FRAME);
        }
        let painted: Vec<i64> = (0..300)
            .filter(|&n| join.paint(n * FRAME, 5.0 + n as f64 / 10.0))
            .collect();
        assert_eq!(painted, vec![295, 296, 297, 298, 299]);
        assert!(join.is_live());
        // Live video: every picture, whatever is queued behind it.
        for n in 300..310 {
            join.arrived(n * FRAME);
        }
        assert!(join.paint(300 * FRAME, 50.0));
    }

    /// B-frames: the decoder outputs a picture after the reference that
    /// follows it was fed, so steady streams are painted from the start.
    #[test]
    fn b_frames_at_the_edge_are_painted() {
        let mut join = Join::default();
        join.restart(0.0);
        // Decode order I0 P3 B1 B2 P6 B4 B5: B1 comes out once P3 (and P6) are in.
        for n in [0, 3, 1, 2, 6] {
            join.arrived(n * FRAME);
        }
        assert!(join.paint(0, 10.0), "the keyframe is at the edge");
        assert!(join.paint(FRAME, 11.0));
    }

    /// A decoder slower than the stream: the screen shows progress once a second.
    #[test]
    fn a_slow_decoder_paints_a_picture_a_second_while_behind() {
        let mut join = Join::default();
        join.restart(1000.0);
        let mut painted = Vec::new();
        for n in 0..200 {
            // Ten new access units arrive for every picture decoded.
            for k in 0..10 {
                join.arrived(10_000 + (n * 10 + k) * FRAME);
            }
            let at = 1000.0 + n as f64 * 20.0;
            if join.paint(n * FRAME, at) {
                painted.push(at);
            }
        }
        assert_eq!(painted, vec![2000.0, 3000.0, 4000.0]);
        assert!(!join.is_live());
    }

    /// The decoder's first pictures come out while the burst still arrives:
    /// they are not the edge.
    #[test]
    fn nothing_is_the_edge_before_the_whole_burst_is_in() {
        let mut join = Join::default();
        join.subscribed(54, 0.0);
        let mut painted = Vec::new();
        for n in 0..60 {
            join.arrived(n * FRAME);
            // The decoder is a frame behind the arrivals.
            if n > 0 && join.paint((n - 1) * FRAME, n as f64) {
                painted.push(n - 1);
            }
        }
        // Frame 53 completes the burst; the decoder is at 52 then.
        assert_eq!(painted.first(), Some(&52), "{painted:?}");
    }

    #[test]
    fn a_restart_joins_again() {
        let mut join = Join::default();
        join.restart(0.0);
        join.arrived(0);
        assert!(join.paint(0, 1.0));
        join.restart(100.0);
        for n in 0..20 {
            join.arrived(n * FRAME);
        }
        assert!(!join.paint(0, 101.0), "a new burst is not painted");
        assert!(join.paint(19 * FRAME, 102.0));
    }
}
