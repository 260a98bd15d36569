//! The live-playback rule both decoders follow (pure, host-tested): decoding
//! starts at a keyframe; after a discontinuity, or when the decoder's queue
//! grows past a limit (it falls behind), the rest of the GOP is skipped so the
//! picture never drifts seconds behind.
//!
//! Fast start is the exception: the relay sends the GOP since the last keyframe
//! in one burst, and every frame of it is needed to reach the present, so after
//! a keyframe the (much larger) catch-up limit applies until the decoder has
//! drained its queue, or until the next keyframe: the burst holds one GOP, so a
//! second keyframe is live video, and a decoder that has not drained by then is
//! slower than the stream (a big picture on a slow device) and gets the normal
//! limit. Without that second condition such a decoder stayed in catch-up and
//! ran up to 150 frames (5 s) behind.

/// Frames waiting in a decoder beyond which the player skips to the next
/// keyframe (half a second at 30 fps: network jitter alone never gets there).
pub const MAX_QUEUE: u32 = 15;
/// The limit during a fast-start burst: a decoder that never drains its queue
/// must not grow it without bound either.
pub const MAX_CATCH_UP_QUEUE: u32 = 150;

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
}

impl Default for LiveGate {
    fn default() -> Self {
        LiveGate {
            need_keyframe: true,
            catching_up: true,
            behind: false,
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
    /// `drained`: the decoder has emptied its queue since the last restart
    /// (the fast-start burst is over).
    pub fn admit(
        &mut self,
        keyframe: bool,
        discontinuity: bool,
        queued: u32,
        drained: bool,
    ) -> Admit {
        if discontinuity && !keyframe {
            self.need_keyframe = true;
        }
        if drained || (keyframe && !self.need_keyframe) {
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
        assert_eq!(gate.admit(DELTA, false, 0, false), Admit::Skip);
        assert_eq!(
            gate.admit(KEY, false, 0, false),
            Admit::Decode { restart: true }
        );
        assert_eq!(
            gate.admit(DELTA, false, 1, false),
            Admit::Decode { restart: false }
        );
    }

    #[test]
    fn a_fast_start_burst_is_not_skipped_but_is_bounded() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false);
        for queued in 1..=MAX_CATCH_UP_QUEUE {
            assert_eq!(
                gate.admit(DELTA, false, queued, false),
                Admit::Decode { restart: false }
            );
        }
        assert_eq!(
            gate.admit(DELTA, false, MAX_CATCH_UP_QUEUE + 1, false),
            Admit::Skip
        );
    }

    #[test]
    fn once_drained_falling_behind_skips_to_the_next_keyframe() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false);
        assert_eq!(
            gate.admit(DELTA, false, 0, true),
            Admit::Decode { restart: false }
        );
        assert_eq!(gate.admit(DELTA, false, MAX_QUEUE + 1, false), Admit::Skip);
        assert_eq!(
            gate.admit(DELTA, false, 0, false),
            Admit::Skip,
            "still waiting"
        );
        assert_eq!(
            gate.admit(KEY, false, 0, false),
            Admit::Decode { restart: true }
        );
    }

    #[test]
    fn a_decoder_slower_than_the_stream_leaves_catch_up_at_the_next_keyframe() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false);
        // The burst and the live frames after it pile up: never drained.
        for queued in 1..60 {
            assert_eq!(
                gate.admit(DELTA, false, queued, false),
                Admit::Decode { restart: false }
            );
        }
        // The next GOP's keyframe is live: from here the normal limit holds.
        assert_eq!(
            gate.admit(KEY, false, 60, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(gate.admit(DELTA, false, 61, false), Admit::Skip);
        // Resuming after falling behind is live too: no catch-up allowance.
        assert_eq!(
            gate.admit(KEY, false, 5, false),
            Admit::Decode { restart: true }
        );
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE, false),
            Admit::Decode { restart: false }
        );
        assert_eq!(gate.admit(DELTA, false, MAX_QUEUE + 1, false), Admit::Skip);
        // A restart (new stream parameters) may burst again.
        gate.restart();
        gate.admit(KEY, false, 0, false);
        assert_eq!(
            gate.admit(DELTA, false, MAX_QUEUE + 1, false),
            Admit::Decode { restart: false }
        );
    }

    #[test]
    fn a_discontinuity_waits_for_a_keyframe_and_restart_too() {
        let mut gate = LiveGate::default();
        gate.admit(KEY, false, 0, false);
        assert_eq!(gate.admit(DELTA, true, 0, true), Admit::Skip);
        assert_eq!(
            gate.admit(KEY, true, 0, true),
            Admit::Decode { restart: true }
        );
        gate.restart();
        assert_eq!(gate.admit(DELTA, false, 0, true), Admit::Skip);
    }
}
