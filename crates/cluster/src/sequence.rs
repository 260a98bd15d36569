//! Gaps in a camera's frames across the cluster (pure, host-tested).
//!
//! The owner numbers each access unit it publishes (per camera stream),
//! and names its run of numbers with an epoch (a new one each time a node
//! starts publishing: a new owner, a restart). NATS core delivery is at
//! most once: a slow edge node's subscription overflows and drops, a
//! reconnect loses what was in flight. A decoder fed across a missing frame
//! paints garbage until the next keyframe, so an edge node that sees a
//! number skipped, or a new epoch, drops everything up to the next keyframe
//! and flags that frame a discontinuity, exactly as the relay treats a
//! viewer that fell behind.

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
    /// The epoch and number of the last frame seen.
    last: Option<(u64, u64)>,
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

    /// Frame `seq` of `epoch` arrived; `keyframe`: whether it can start decoding.
    pub fn arrived(&mut self, epoch: u64, seq: u64, keyframe: bool) -> Verdict {
        match self.last {
            // Another run of numbers: a new owner, or the owner started again.
            Some((e, _)) if e != epoch => {
                self.gaps += 1;
                self.broken = true;
            }
            Some((_, last)) if seq <= last => return Verdict::Drop,
            Some((_, last)) if last.checked_add(1) != Some(seq) => {
                self.gaps += 1;
                self.broken = true;
            }
            _ => {}
        }
        self.last = Some((epoch, seq));
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
        assert_eq!(s.arrived(9, 5, false), Verdict::Drop);
        assert_eq!(s.arrived(9, 6, true), Verdict::Forward);
        assert_eq!(s.arrived(9, 7, false), Verdict::Forward);
        assert_eq!(s.gaps(), 0);
    }

    #[test]
    fn a_gap_drops_to_the_next_keyframe_flagged() {
        let mut s = Sequence::new();
        s.arrived(9, 1, true);
        assert_eq!(s.arrived(9, 2, false), Verdict::Forward);
        assert_eq!(s.arrived(9, 4, false), Verdict::Drop);
        assert_eq!(s.arrived(9, 5, false), Verdict::Drop);
        assert_eq!(s.arrived(9, 6, true), Verdict::ForwardAfterGap);
        assert_eq!(s.arrived(9, 7, false), Verdict::Forward);
        assert_eq!(s.gaps(), 1);
    }

    #[test]
    fn repeats_are_dropped_and_a_new_epoch_restarts_the_count() {
        let mut s = Sequence::new();
        s.arrived(9, 10, true);
        s.arrived(9, 11, false);
        assert_eq!(s.arrived(9, 11, false), Verdict::Drop);
        // Another node took the camera over; its numbers start anywhere
        // (its first ones went out in a GOP answer).
        assert_eq!(s.arrived(4, 7, false), Verdict::Drop);
        assert_eq!(s.arrived(4, 8, true), Verdict::ForwardAfterGap);
        assert_eq!(s.arrived(4, 9, false), Verdict::Forward);
        assert_eq!(s.gaps(), 1);
    }

    #[test]
    fn a_forged_number_cannot_overflow_or_stall_the_next_owner() {
        let mut s = Sequence::new();
        s.arrived(9, u64::MAX, true);
        assert_eq!(s.arrived(9, 1, false), Verdict::Drop);
        assert_eq!(s.arrived(3, 1, true), Verdict::ForwardAfterGap);
    }
}
