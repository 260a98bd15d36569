//! Gaps in a camera's frames across the cluster (pure, host-tested).
//!
//! The owner numbers each access unit it publishes (per camera and stream,
//! from 1 at every start of publishing). NATS core delivery is at most once:
//! a slow edge node's subscription overflows and drops, a reconnect loses
//! what was in flight. A decoder fed across a missing frame paints garbage
//! until the next keyframe, so an edge node that sees a number skipped
//! drops everything up to the next keyframe and flags that frame a
//! discontinuity, exactly as the relay treats a viewer that fell behind.

/// What to do with a frame that arrived with its sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Forward it.
    Forward,
    /// Forward it, flagged as a discontinuity (the first keyframe after a gap).
    ForwardAfterGap,
    /// Drop it (waiting for a keyframe after a gap, or a repeat).
    Drop,
}

/// One stream's sequence as an edge node receives it.
#[derive(Debug, Clone)]
pub struct Sequence {
    last: Option<u64>,
    /// A gap was seen and no keyframe has come since.
    broken: bool,
    /// A frame was forwarded since the subscription started.
    forwarded: bool,
    gaps: u64,
}

impl Default for Sequence {
    fn default() -> Sequence {
        Sequence::new()
    }
}

impl Sequence {
    /// A new subscription: the next frame starts the count (a keyframe is
    /// needed first: the decoder has nothing yet).
    pub fn new() -> Sequence {
        Sequence {
            last: None,
            broken: true,
            forwarded: false,
            gaps: 0,
        }
    }

    /// Frame `seq` arrived; `keyframe`: whether it can start decoding.
    pub fn arrived(&mut self, seq: u64, keyframe: bool) -> Verdict {
        let expected = self.last.map(|l| l + 1);
        match expected {
            // The owner started publishing afresh (a new owner, a restart).
            Some(_) if seq == 1 => {
                self.gaps += 1;
                self.broken = true;
            }
            Some(e) if seq < e => return Verdict::Drop,
            Some(e) if seq > e => {
                self.gaps += 1;
                self.broken = true;
            }
            _ => {}
        }
        self.last = Some(seq);
        if !self.broken {
            return Verdict::Forward;
        }
        if !keyframe {
            return Verdict::Drop;
        }
        self.broken = false;
        if std::mem::replace(&mut self.forwarded, true) {
            Verdict::ForwardAfterGap
        } else {
            Verdict::Forward
        }
    }

    /// Gaps seen so far (for metrics).
    pub fn gaps(&self) -> u64 {
        self.gaps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_frames_pass_from_the_first_keyframe() {
        let mut s = Sequence::new();
        assert_eq!(s.arrived(5, false), Verdict::Drop);
        assert_eq!(s.arrived(6, true), Verdict::Forward);
        assert_eq!(s.arrived(7, false), Verdict::Forward);
        assert_eq!(s.gaps(), 0);
    }

    #[test]
    fn a_gap_drops_to_the_next_keyframe_flagged() {
        let mut s = Sequence::new();
        s.arrived(1, true);
        assert_eq!(s.arrived(2, false), Verdict::Forward);
        assert_eq!(s.arrived(4, false), Verdict::Drop);
        assert_eq!(s.arrived(5, false), Verdict::Drop);
        assert_eq!(s.arrived(6, true), Verdict::ForwardAfterGap);
        assert_eq!(s.arrived(7, false), Verdict::Forward);
        assert_eq!(s.gaps(), 1);
    }

    #[test]
    fn repeats_are_dropped_and_a_new_owner_restarts_the_count() {
        let mut s = Sequence::new();
        s.arrived(10, true);
        s.arrived(11, false);
        assert_eq!(s.arrived(11, false), Verdict::Drop);
        // Another node took the camera over: its count starts at 1.
        assert_eq!(s.arrived(1, false), Verdict::Drop);
        assert_eq!(s.arrived(2, true), Verdict::ForwardAfterGap);
        assert_eq!(s.gaps(), 1);
    }
}
