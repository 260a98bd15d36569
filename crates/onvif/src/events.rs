//! Which motion/alarm states are active, from a camera's notifications.
//!
//! ONVIF events are property changes: a topic (`tns1:RuleEngine/CellMotionDetector/Motion`),
//! a source (video source, rule) and data whose boolean says on or off. The key
//! varies by topic and vendor: `IsMotion` (cell motion), `State` (motion alarm,
//! tamper, most others), `LogicalState` (digital inputs), `Value`. A camera may
//! also never send the "off" (a dropped message, a firmware bug, a subscription
//! lost mid-event), so an "on" not confirmed for `max_active` ends by itself.
//! Time comes from the caller (its clock, not the camera's, which may be off).

use std::collections::HashMap;
use std::time::Duration;

use crate::{Notification, PropertyOperation, Timestamp};

/// The data keys read as a boolean state, in order of preference.
/// (`active` is what Axis's VMD application profiles send.)
pub const STATE_KEYS: &[&str] = &["IsMotion", "State", "LogicalState", "Value", "active"];

/// The boolean state a notification reports, if any.
pub fn state_of(notification: &Notification) -> Option<bool> {
    STATE_KEYS.iter().find_map(|key| {
        let value = notification.data_value(key)?;
        match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "active" | "on" => Some(true),
            "false" | "0" | "inactive" | "off" => Some(false),
            _ => None,
        }
    })
}

/// What tells one state from another within a topic: its source items, as
/// `name=value` joined by `;` (e.g. `VideoSourceConfigurationToken=vsc1;Rule=Motion`).
pub fn source_key(notification: &Notification) -> String {
    notification
        .source
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// A state that started or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateChange {
    Started {
        topic: String,
        source: String,
        at: Timestamp,
    },
    Ended {
        topic: String,
        source: String,
        at: Timestamp,
        /// Ended by the debounce rule, not by the camera.
        timed_out: bool,
    },
}

#[derive(Debug, Clone, Copy)]
struct Active {
    last_confirmed: Timestamp,
}

/// The active states per (topic, source).
#[derive(Debug, Clone)]
pub struct EventState {
    max_active: Duration,
    active: HashMap<(String, String), Active>,
}

impl Default for EventState {
    /// `max_active` of 60 s.
    fn default() -> EventState {
        EventState::new(Duration::from_secs(60))
    }
}

impl EventState {
    /// An "on" not repeated or ended within `max_active` is ended.
    pub fn new(max_active: Duration) -> EventState {
        EventState {
            max_active,
            active: HashMap::new(),
        }
    }

    pub fn is_active(&self, topic: &str, source: &str) -> bool {
        self.active
            .contains_key(&(topic.to_owned(), source.to_owned()))
    }

    /// The active (topic, source) pairs, in no particular order.
    pub fn active(&self) -> impl Iterator<Item = (&str, &str)> {
        self.active.keys().map(|(t, s)| (t.as_str(), s.as_str()))
    }

    /// Takes one notification received at `now` (the caller's clock). A repeated
    /// "on" (e.g. `Initialized` after a resubscribe) refreshes the timer and
    /// starts nothing new; `Deleted` ends the state.
    pub fn apply(&mut self, notification: &Notification, now: Timestamp) -> Option<StateChange> {
        let key = (notification.topic.clone(), source_key(notification));
        let on = if notification.operation == Some(PropertyOperation::Deleted) {
            false
        } else {
            state_of(notification)?
        };
        match (on, self.active.get_mut(&key)) {
            (true, Some(active)) => {
                active.last_confirmed = now;
                None
            }
            (true, None) => {
                self.active.insert(
                    key.clone(),
                    Active {
                        last_confirmed: now,
                    },
                );
                Some(StateChange::Started {
                    topic: key.0,
                    source: key.1,
                    at: now,
                })
            }
            (false, Some(_)) => {
                self.active.remove(&key);
                Some(StateChange::Ended {
                    topic: key.0,
                    source: key.1,
                    at: now,
                    timed_out: false,
                })
            }
            (false, None) => None,
        }
    }

    /// Ends the states not confirmed for `max_active` by `now`; call it on every
    /// PullMessages answer, empty ones included.
    pub fn expire(&mut self, now: Timestamp) -> Vec<StateChange> {
        let max = i64::try_from(self.max_active.as_millis()).unwrap_or(i64::MAX);
        let mut ended: Vec<(String, String)> = self
            .active
            .iter()
            .filter(|(_, a)| now.0.saturating_sub(a.last_confirmed.0) >= max)
            .map(|(k, _)| k.clone())
            .collect();
        ended.sort();
        ended
            .into_iter()
            .map(|key| {
                self.active.remove(&key);
                StateChange::Ended {
                    topic: key.0,
                    source: key.1,
                    at: now,
                    timed_out: true,
                }
            })
            .collect()
    }

    /// Ends everything, e.g. when the subscription is lost for good.
    pub fn clear(&mut self, now: Timestamp) -> Vec<StateChange> {
        let mut keys: Vec<_> = self.active.drain().map(|(k, _)| k).collect();
        keys.sort();
        keys.into_iter()
            .map(|(topic, source)| StateChange::Ended {
                topic,
                source,
                at: now,
                timed_out: true,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(topic: &str, op: PropertyOperation, key: &str, value: &str) -> Notification {
        Notification {
            topic: topic.into(),
            topic_namespace: None,
            utc_time: None,
            operation: Some(op),
            source: vec![("VideoSourceConfigurationToken".into(), "vsc1".into())],
            key: vec![],
            data: vec![(key.into(), value.into())],
        }
    }

    const MOTION: &str = "tns1:RuleEngine/CellMotionDetector/Motion";

    #[test]
    fn on_then_off() {
        let mut state = EventState::default();
        let t = Timestamp::from_unix_seconds;
        let on = note(MOTION, PropertyOperation::Changed, "IsMotion", "true");
        let off = note(MOTION, PropertyOperation::Changed, "IsMotion", "false");
        assert!(matches!(
            state.apply(&on, t(10)),
            Some(StateChange::Started { .. })
        ));
        assert!(state.is_active(MOTION, "VideoSourceConfigurationToken=vsc1"));
        assert_eq!(state.apply(&on, t(11)), None);
        assert_eq!(
            state.apply(&off, t(12)),
            Some(StateChange::Ended {
                topic: MOTION.into(),
                source: "VideoSourceConfigurationToken=vsc1".into(),
                at: t(12),
                timed_out: false
            })
        );
        assert_eq!(state.apply(&off, t(13)), None);
    }

    #[test]
    fn an_end_never_sent_is_debounced() {
        let mut state = EventState::new(Duration::from_secs(60));
        let t = Timestamp::from_unix_seconds;
        let on = note(
            "tns1:VideoSource/MotionAlarm",
            PropertyOperation::Changed,
            "State",
            "1",
        );
        state.apply(&on, t(0));
        assert!(state.expire(t(59)).is_empty());
        state.apply(&on, t(50)); // confirmed again: the timer restarts
        assert!(state.expire(t(109)).is_empty());
        let ended = state.expire(t(110));
        assert!(matches!(
            &ended[..],
            [StateChange::Ended {
                timed_out: true,
                ..
            }]
        ));
        assert_eq!(state.active().count(), 0);
    }

    #[test]
    fn keys_and_deletion() {
        let mut state = EventState::default();
        let t = Timestamp(0);
        let input = note(
            "tns1:Device/Trigger/DigitalInput",
            PropertyOperation::Initialized,
            "LogicalState",
            "true",
        );
        assert!(state.apply(&input, t).is_some());
        let deleted = note(
            "tns1:Device/Trigger/DigitalInput",
            PropertyOperation::Deleted,
            "LogicalState",
            "true",
        );
        assert!(matches!(
            state.apply(&deleted, t),
            Some(StateChange::Ended { .. })
        ));
        let unknown = note(MOTION, PropertyOperation::Changed, "Level", "80");
        assert_eq!(state_of(&unknown), None);
        assert_eq!(state.apply(&unknown, t), None);
        assert_eq!(state.clear(t), vec![]);
    }
}
