//! The live-playback rule both decoders follow (pure, host-tested): decoding
//! starts at a keyframe; after a discontinuity, or when the decoder's queue
//! grows past a limit (it falls behind), the rest of the GOP is skipped so the
//! picture never drifts seconds behind.
//!
//! Fast start is the exception: the relay sends the GOP since the last keyframe
//! in one burst, and every frame of it is needed to reach the present, so after
//! a keyframe the (much larger) catch-up limit applies until the decoder has
//! drained its queue, or until the next keyframe: the burst holds one GOP, so a
//! second keyframe is live video, and a decoder whose queue has not shrunk
//! from its peak by then is slower than the stream (a big picture on a slow
//! device) and gets the normal limit. Without that second condition such
//! a decoder stayed in catch-up and ran up to 150 frames (5 s) behind. A
//! decoder still working its queue down is catching up, and one that has not
//! produced a picture yet is still starting (the fallback's worker compiling
//! its Wasm): both keep the allowance, or they would skip live video just as
//! they reach it.

/// Frames waiting in a decoder beyond which the player skips to the next
/// keyframe (half a second at 30 fps: network jitter alone never gets there).
pub const MAX_QUEUE: u32 = 15;
/// The limit during a fast-start burst: a decoder that never drains its queue
/// must not grow it without bound either. As many as the relay caches (its
/// `MAX_GOP_FRAMES`, 20 s at 30 fps): at 150, joining a camera with a 10 s GOP
/// past its middle skipped the rest of the burst and waited for the next
/// keyframe, seconds later.
pub const MAX_CATCH_UP_QUEUE: u32 = 600;

/// What to do with one access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Drop it: waiting for a keyframe.
    Skip,
    /// Decode it; `restart` when decoding starts (again) at this keyframe.
    Decode { restart: bool },
}

/// The rule's state for one decoder.
#[derive(Debug, Clone)]
pub struct LiveGate {
    need_keyframe: bool,
    catching_up: bool,
    /// Waiting for a keyframe because the decoder fell behind (not because of a
    /// restart): the keyframe that ends the wait is live, not a burst.
    behind: bool,
    /// The deepest the decoder's queue has been during this catch-up.
    peak: u32,
}

impl Default for LiveGate {
    fn default() -> Self {
        LiveGate {
            need_keyframe: true,
            catching_up: true,
            behind: false,
            peak: 0,
        }
    }
}

impl LiveGate {
    /// A new stream configuration: start again at its next keyframe.
    pub fn restart(&mut self) {
        self.need_keyframe = true;
        self.behind = false;
    }

    /// Decides for one access unit. `queued`: frames inside the decoder;
    /// `drained`: the decoder has emptied its queue since the last restart;
    /// `started`: it has put out a picture since the last restart;
    /// `burst_arriving`: frames of the relay's announced fast-start burst
    /// are still on their way.
    ///
    /// An empty queue while the burst is still arriving does not end the
    /// catch-up: a decoder as fast as the socket (a small picture) drains
    /// between two messages, and the next sixteen messages handled in one go
    /// then looked like falling behind. In CI that skipped the rest of a 10 s
    /// GOP's burst after 77 pictures and waited 5.9 s for the next keyframe.
    pub fn admit(
        &mut self,
        keyframe: bool,
        discontinuity: bool,
        queued: u32,
        drained: bool,
        started: bool,
        burst_arriving: bool,
    ) -> Admit {
        if discontinuity && !keyframe {
            self.need_keyframe = true;
        }
        self.peak = self.peak.max(queued);
        let slow = started && queued >= self.peak;
        if (drained && !burst_arriving) || (keyframe && !self.need_keyframe && slow) {
            self.catching_up = false;
        }
        let limit = if self.catching_up {
            MAX_CATCH_UP_QUEUE
        } else {
            MAX_QUEUE
        };
        if !keyframe && queued > limit {
            self.behind |= !self.need_keyframe;
            self.need_keyframe = true;
        }
        if self.need_keyframe && !keyframe {
            return Admit::Skip;
        }
        let restart = std::mem::take(&mut self.need_keyframe);
        if restart {
            self.catching_up = !std::mem::take(&mut self.behind);
            self.peak = queued;
        }
        Admit::Decode { restart }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DELTA: bool = false;
    const KEY: bool = true;

    #[test]
    fn waits_for_a_keyframe_then_decodes_everything() {
        let mut gate = LiveGate::default();
        assert_eq!(gate.admit(DELTA, false, 0, false, true, false), Admit::Skip);
        assert_eq!(
            gate.admit(KEY, false, 0, false, true, false),
            Admit::Decode { restart: true }
        );
        assert_eq!(
            gate.admit(DELTA, false, 1, false, true, false),
            Admit::Decode { restart: false }
        );
    }

    #[test]
    fn a_fast_start_burst_is_not_skipped_but_is_bounded() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, true, false);
        for queued in 1..=MAX_CATCH_UP_QUEUE {
            assert_eq!(
                gate.admit(DELTA, false, queued, false, true, false),
                Admit::Decode { restart: false }
            );
        }
        assert_eq!(
            gate.admit(DELTA, false, MAX_CATCH_UP_QUEUE + 1, false, true, false),
            Admit::Skip
        );
    }

    /// A decoder as fast as the socket empties its queue between two of the
    /// burst's messages, then is handed a run of them at once.
    #[test]
    fn a_queue_drained_while_the_burst_arrives_keeps_the_allowance() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, false, true);
        assert_eq!(
            gate.admit(DELTA, false, 0, true, true, true),
            Admit::Decode { restart: false }
        );
        for queued in 1..=40 {
            assert_eq!(
                gate.admit(DELTA, false, queued, false, true, true),
                Admit::Decode { restart: false },
                "the burst is caught up whole"
            );
        }
        // The burst is in: the next drain ends the catch-up.
        gate.admit(DELTA, false, 0, true, true, false);
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false, true, false),
            Admit::Skip
        );
    }

    #[test]
    fn once_drained_falling_behind_skips_to_the_next_keyframe() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, true, false);
        assert_eq!(
            gate.admit(DELTA, false, 0, true, true, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false, true, false),
            Admit::Skip
        );
        assert_eq!(
            gate.admit(DELTA, false, 0, false, true, false),
            Admit::Skip,
            "still waiting"
        );
        assert_eq!(
            gate.admit(KEY, false, 0, false, true, false),
            Admit::Decode { restart: true }
        );
    }

    #[test]
    fn a_decoder_slower_than_the_stream_leaves_catch_up_at_the_next_keyframe() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, true, false);
        // The burst and the live frames after it pile up: never drained.
        for queued in 1..60 {
            assert_eq!(
                gate.admit(DELTA, false, queued, false, true, false),
                Admit::Decode { restart: false }
            );
        }
        // The next GOP's keyframe is live: from here the normal limit holds.
        assert_eq!(
            gate.admit(KEY, false, 60, false, true, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, 61, false, true, false),
            Admit::Skip
        );
        // Resuming after falling behind is live too: no catch-up allowance.
        assert_eq!(
            gate.admit(KEY, false, 5, false, true, false),
            Admit::Decode { restart: true }
        );
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE, false, true, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false, true, false),
            Admit::Skip
        );
        // A restart (new stream parameters) may burst again.
        gate.restart();
        gate.admit(KEY, false, 0, false, true, false);
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false, true, false),
            Admit::Decode { restart: false }
        );
    }

    #[test]
    fn a_decoder_still_starting_keeps_the_allowance_past_the_next_keyframe() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, false, false);
        // The worker is still compiling: the burst and live frames pile up.
        for queued in 1..60 {
            gate.admit(DELTA, false, queued, false, false, false);
        }
        // A live keyframe before the first picture: still catching up.
        assert_eq!(
            gate.admit(KEY, false, 60, false, false, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, 61, false, false, false),
            Admit::Decode { restart: false }
        );
        // Started now, and its queue still growing at the keyframe after: slow.
        assert_eq!(
            gate.admit(KEY, false, 70, false, true, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, 71, false, true, false),
            Admit::Skip
        );
    }

    #[test]
    fn a_decoder_working_its_queue_down_keeps_the_allowance() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, false, false);
        for queued in 1..=50 {
            gate.admit(DELTA, false, queued, false, true, false);
        }
        // At the live keyframe it has worked the burst down to 40 of 50:
        // faster than the stream, on its way. No skip.
        assert_eq!(
            gate.admit(KEY, false, 40, false, true, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(
            gate.admit(DELTA, false, 39, false, true, false),
            Admit::Decode { restart: false }
        );
        // Drained: from here the normal limit.
        gate.admit(DELTA, false, 0, true, true, false);
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false, true, false),
            Admit::Skip
        );
    }

    #[test]
    fn a_discontinuity_waits_for_a_keyframe_and_restart_too() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false, true, false);
        assert_eq!(gate.admit(DELTA, true, 0, true, true, false), Admit::Skip);
        assert_eq!(
            gate.admit(KEY, true, 0, true, true, false),
            Admit::Decode { restart: true }
        );
        gate.restart();
        assert_eq!(gate.admit(DELTA, false, 0, true, true, false), Admit::Skip);
    }
}
