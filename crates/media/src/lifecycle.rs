//! When an alert's clip stops: it starts with the pre-roll, goes on while the
//! alert is active and [`ClipPolicy::post_roll`] after its end, and never runs
//! longer than [`ClipPolicy::max_length`] in all (pre-roll included).
//!
//! All times are frame timestamps (µs, the stream's own clock, as in
//! `AccessUnit::timestamp_us`): the caller marks the alert's end with the
//! timestamp of the newest frame at that moment, so a stalled camera does not
//! eat the post-roll. Pure: the caller asks [`ClipSchedule::decide`] for each
//! frame before writing it.

use std::time::Duration;

/// The clip's time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipPolicy {
    /// Recording goes on this long after the alert's end.
    pub post_roll: Duration,
    /// A clip lasts at most this long, from its first frame.
    pub max_length: Duration,
}

/// Default post-roll: 5 s.
pub const DEFAULT_POST_ROLL: Duration = Duration::from_secs(5);
/// Default maximum clip length: 60 s.
pub const DEFAULT_MAX_LENGTH: Duration = Duration::from_secs(60);

impl Default for ClipPolicy {
    fn default() -> Self {
        ClipPolicy {
            post_roll: DEFAULT_POST_ROLL,
            max_length: DEFAULT_MAX_LENGTH,
        }
    }
}

/// What to do with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClipDecision {
    /// Write it.
    Record,
    /// Do not write it; finish the clip.
    Stop(StopReason),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The alert ended and the post-roll is over.
    PostRollDone,
    /// The clip reached its maximum length.
    MaxLength,
}

/// The lifecycle of one clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipSchedule {
    policy: ClipPolicy,
    start_us: i64,
    ended_us: Option<i64>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl ClipSchedule {
    /// A clip whose first frame (the pre-roll's keyframe) has `first_frame_us`.
    pub fn new(policy: ClipPolicy, first_frame_us: i64) -> Self {
        ClipSchedule {
            policy,
            start_us: first_frame_us,
            ended_us: None,
        }
    }

    /// The alert ended; `at_us` is the newest frame's timestamp then.
    pub fn alert_ended(&mut self, at_us: i64) {
        self.ended_us = Some(at_us);
    }

    /// The alert became active again before the clip stopped (e.g. motion came
    /// back within the post-roll): recording goes on until it ends anew.
    pub fn alert_resumed(&mut self) {
        self.ended_us = None;
    }

    /// Whether the frame with `frame_us` belongs in the clip.
    pub fn decide(&self, frame_us: i64) -> ClipDecision {
        if frame_us.saturating_sub(self.start_us) >= micros(self.policy.max_length) {
            return ClipDecision::Stop(StopReason::MaxLength);
        }
        match self.ended_us {
            Some(end) if frame_us > end.saturating_add(micros(self.policy.post_roll)) => {
                ClipDecision::Stop(StopReason::PostRollDone)
            }
            _ => ClipDecision::Record,
        }
    }

    /// The latest frame timestamp that can still be recorded, if known: the end
    /// of the post-roll or the length limit, whichever comes first (for a caller
    /// that wants a timer when the camera goes quiet).
    pub fn deadline_us(&self) -> i64 {
        let limit = self
            .start_us
            .saturating_add(micros(self.policy.max_length))
            .saturating_sub(1);
        match self.ended_us {
            Some(end) => limit.min(end.saturating_add(micros(self.policy.post_roll))),
            None => limit,
        }
    }

    pub fn policy(&self) -> ClipPolicy {
        self.policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    #[test]
    fn records_while_active_then_the_post_roll() {
        // Pre-roll from 0, alert at 3 s, ends at 10 s.
        let mut clip = ClipSchedule::new(ClipPolicy::default(), 0);
        assert_eq!(clip.decide(3 * S), ClipDecision::Record);
        assert_eq!(clip.decide(10 * S), ClipDecision::Record);
        clip.alert_ended(10 * S);
        assert_eq!(clip.decide(15 * S), ClipDecision::Record);
        assert_eq!(
            clip.decide(15 * S + 1),
            ClipDecision::Stop(StopReason::PostRollDone)
        );
        assert_eq!(clip.deadline_us(), 15 * S);
    }

    #[test]
    fn stops_at_sixty_seconds_in_all() {
        let clip = ClipSchedule::new(ClipPolicy::default(), 5 * S);
        assert_eq!(clip.decide(65 * S - 1), ClipDecision::Record);
        assert_eq!(
            clip.decide(65 * S),
            ClipDecision::Stop(StopReason::MaxLength)
        );
        assert_eq!(clip.deadline_us(), 65 * S - 1);
    }

    #[test]
    fn the_length_limit_wins_over_the_post_roll() {
        let mut clip = ClipSchedule::new(ClipPolicy::default(), 0);
        clip.alert_ended(58 * S);
        assert_eq!(
            clip.decide(60 * S),
            ClipDecision::Stop(StopReason::MaxLength)
        );
    }

    #[test]
    fn an_alert_resumed_in_the_post_roll_keeps_recording() {
        let mut clip = ClipSchedule::new(ClipPolicy::default(), 0);
        clip.alert_ended(10 * S);
        clip.alert_resumed();
        assert_eq!(clip.decide(20 * S), ClipDecision::Record);
    }

    #[test]
    fn configurable() {
        let policy = ClipPolicy {
            post_roll: Duration::from_secs(1),
            max_length: Duration::from_secs(10),
        };
        let mut clip = ClipSchedule::new(policy, 0);
        clip.alert_ended(2 * S);
        assert_eq!(clip.decide(3 * S), ClipDecision::Record);
        assert_eq!(
            clip.decide(3 * S + 1),
            ClipDecision::Stop(StopReason::PostRollDone)
        );
        assert_eq!(
            clip.decide(i64::MAX),
            ClipDecision::Stop(StopReason::MaxLength)
        );
        assert_eq!(clip.decide(i64::MIN), ClipDecision::Record, "no overflow");
    }
}
