//! The alerts a page knows to be active, keyed by alert id (pure, host-tested).
//!
//! The relay pushes `alert` messages over the page's socket for every camera
//! the page may see, whether or not it watches that camera's video: `active`
//! (already going when the socket opened, sent right after `welcome`),
//! `start`, `update` (more zones, a higher peak, the snapshot or clip is
//! ready), `end` and `ack`. The same id comes several times, and not always
//! while it is active: the clip is written after the end, so its `update`
//! comes *after* `end`. So the alert itself is the truth, not the event: an
//! alert is active exactly while its `ended_at_ms` is absent, and an id once
//! seen ended never comes back (a late message must not light a tile again).
//!
//! Only `start` of an id not known yet *rings* (sound, notification, the
//! outline's pulse): `active` is an alert the page merely learns of, and an
//! `update` of an id whose start was missed is news, not an event.
//!
//! Each connection keeps one [`AlertBook`]; every `<cam-player>` of a camera
//! draws its outline from [`AlertBook::active`] for that camera, so two
//! players of one camera agree, and a player added later shows what is
//! already going on.

use std::collections::{BTreeMap, HashSet, VecDeque};

use sightline_wire::{AlertEvent, AlertInfo, AlertSeverity};

/// How many ended ids a book remembers (to ignore their late updates): more
/// than any burst of alerts a page could be shown at once, and bounded.
pub const ENDED_MEMORY: usize = 512;

/// What one message did to the book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    /// The camera's set of active alerts (or one of them) changed: redraw.
    pub changed: bool,
    /// The alert is active after this message.
    pub active: bool,
    /// A new alert started just now: ring (sound, notification, pulse).
    pub ring: bool,
}

/// The active alerts of every camera a connection hears of.
#[derive(Debug, Default)]
pub struct AlertBook {
    active: BTreeMap<i64, AlertInfo>,
    ended: HashSet<i64>,
    /// `ended` in the order they were added, to forget the oldest.
    ended_order: VecDeque<i64>,
}

impl AlertBook {
    pub fn new() -> AlertBook {
        AlertBook::default()
    }

    /// Takes one `alert` message into account.
    pub fn apply(&mut self, event: AlertEvent, alert: &AlertInfo) -> Applied {
        let id = alert.id;
        if alert.ended_at_ms.is_some() || event == AlertEvent::End {
            let changed = self.active.remove(&id).is_some();
            self.remember_ended(id);
            return Applied {
                changed,
                active: false,
                ring: false,
            };
        }
        if self.ended.contains(&id) {
            return Applied {
                changed: false,
                active: false,
                ring: false,
            };
        }
        let before = self.active.insert(id, alert.clone());
        let changed = before.as_ref() != Some(alert);
        Applied {
            changed,
            active: true,
            ring: event == AlertEvent::Start && before.is_none(),
        }
    }

    /// The socket was opened again: the relay is about to send every active
    /// alert anew (`active`), and whatever ended meanwhile will not be said.
    /// Forgets the active set (not the ended ids). Returns the cameras that
    /// had alerts, to redraw.
    pub fn reset(&mut self) -> Vec<String> {
        let mut cameras: Vec<String> = self.active.values().map(|a| a.camera.clone()).collect();
        cameras.sort();
        cameras.dedup();
        self.active.clear();
        cameras
    }

    /// The active alerts of `camera`: the most severe first, then the newest.
    pub fn active(&self, camera: &str) -> Vec<&AlertInfo> {
        let mut alerts: Vec<&AlertInfo> = self
            .active
            .values()
            .filter(|a| a.camera == camera)
            .collect();
        alerts.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.started_at_ms.cmp(&a.started_at_ms))
                .then(b.id.cmp(&a.id))
        });
        alerts
    }

    fn remember_ended(&mut self, id: i64) {
        if !self.ended.insert(id) {
            return;
        }
        self.ended_order.push_back(id);
        if self.ended_order.len() > ENDED_MEMORY {
            if let Some(old) = self.ended_order.pop_front() {
                self.ended.remove(&old);
            }
        }
    }
}

/// What a tile's outline shows: the colour (by severity) and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outline {
    /// `info`, `warning` or `critical`: the most severe active alert's.
    pub severity: &'static str,
    /// That alert's label, and `+N` for the others.
    pub label: String,
}

/// The outline for a camera's active alerts (as [`AlertBook::active`] orders
/// them); `None` when there are none.
pub fn outline(active: &[&AlertInfo]) -> Option<Outline> {
    let top = active.first()?;
    let label = match active.len() {
        1 => top.label.clone(),
        n => format!("{} +{}", top.label, n - 1),
    };
    Some(Outline {
        severity: severity_name(top.severity),
        label,
    })
}

/// The wire's name of a severity.
pub fn severity_name(severity: AlertSeverity) -> &'static str {
    match severity {
        AlertSeverity::Info => "info",
        AlertSeverity::Warning => "warning",
        AlertSeverity::Critical => "critical",
    }
}

/// The wire's name of an event (`detail.event` of the element's `alert` event).
pub fn event_name(event: AlertEvent) -> &'static str {
    match event {
        AlertEvent::Active => "active",
        AlertEvent::Start => "start",
        AlertEvent::Update => "update",
        AlertEvent::End => "end",
        AlertEvent::Ack => "ack",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: i64, camera: &str, severity: AlertSeverity, started: i64) -> AlertInfo {
        AlertInfo {
            id,
            camera: camera.into(),
            kind: "motion".into(),
            severity,
            label: format!("Alert {id}"),
            message: None,
            started_at_ms: started,
            ended_at_ms: None,
            zones: vec![],
            score: 0.0,
            area: 0.0,
            acked_by: None,
            acked_at_ms: None,
            snapshot: false,
            clip: false,
        }
    }

    fn ended(mut a: AlertInfo) -> AlertInfo {
        a.ended_at_ms = Some(a.started_at_ms + 1000);
        a
    }

    #[test]
    fn a_start_rings_once_and_updates_replace_it_by_id() {
        let mut book = AlertBook::new();
        let a = alert(1, "door", AlertSeverity::Warning, 10);
        let first = book.apply(AlertEvent::Start, &a);
        assert_eq!(
            first,
            Applied {
                changed: true,
                active: true,
                ring: true
            }
        );
        // The same start again (a duplicate) neither rings nor changes anything.
        let again = book.apply(AlertEvent::Start, &a);
        assert!(!again.ring && !again.changed && again.active);
        let mut with_snapshot = a.clone();
        with_snapshot.snapshot = true;
        let update = book.apply(AlertEvent::Update, &with_snapshot);
        assert!(update.changed && !update.ring);
        assert_eq!(book.active("door").len(), 1, "keyed by id");
        assert!(book.active("door")[0].snapshot);
    }

    #[test]
    fn active_on_open_is_shown_without_ringing() {
        let mut book = AlertBook::new();
        let applied = book.apply(
            AlertEvent::Active,
            &alert(7, "door", AlertSeverity::Info, 1),
        );
        assert!(applied.active && applied.changed && !applied.ring);
        // An update of an alert whose start was missed is shown, silently.
        let applied = book.apply(
            AlertEvent::Update,
            &alert(8, "door", AlertSeverity::Info, 2),
        );
        assert!(applied.active && !applied.ring);
    }

    #[test]
    fn an_end_removes_it_and_a_late_update_does_not_bring_it_back() {
        let mut book = AlertBook::new();
        let a = alert(1, "door", AlertSeverity::Warning, 10);
        book.apply(AlertEvent::Start, &a);
        let end = book.apply(AlertEvent::End, &ended(a.clone()));
        assert_eq!(
            end,
            Applied {
                changed: true,
                active: false,
                ring: false
            }
        );
        assert!(book.active("door").is_empty());
        // The clip is ready after the end: that update carries `ended_at_ms`.
        let mut clip = ended(a.clone());
        clip.clip = true;
        assert!(!book.apply(AlertEvent::Update, &clip).active);
        // Even one that (wrongly) lacks it does not light the tile again.
        assert!(!book.apply(AlertEvent::Update, &a).active);
        assert!(!book.apply(AlertEvent::Start, &a).ring);
        assert!(book.active("door").is_empty());
    }

    #[test]
    fn an_ack_keeps_an_active_alert_active() {
        let mut book = AlertBook::new();
        let a = alert(1, "door", AlertSeverity::Warning, 10);
        book.apply(AlertEvent::Start, &a);
        let mut acked = a.clone();
        acked.acked_by = Some("alice".into());
        let applied = book.apply(AlertEvent::Ack, &acked);
        assert!(applied.active && applied.changed && !applied.ring);
        assert_eq!(book.active("door")[0].acked_by.as_deref(), Some("alice"));
    }

    #[test]
    fn cameras_are_apart_and_the_most_severe_then_newest_comes_first() {
        let mut book = AlertBook::new();
        book.apply(
            AlertEvent::Start,
            &alert(1, "door", AlertSeverity::Warning, 10),
        );
        book.apply(
            AlertEvent::Start,
            &alert(2, "door", AlertSeverity::Critical, 5),
        );
        book.apply(
            AlertEvent::Start,
            &alert(3, "door", AlertSeverity::Warning, 20),
        );
        book.apply(
            AlertEvent::Start,
            &alert(4, "yard", AlertSeverity::Info, 30),
        );
        let ids: Vec<i64> = book.active("door").iter().map(|a| a.id).collect();
        assert_eq!(ids, [2, 3, 1]);
        assert_eq!(book.active("yard").len(), 1);
        assert!(book.active("gate").is_empty());
        let shown = outline(&book.active("door")).unwrap();
        assert_eq!(shown.severity, "critical");
        assert_eq!(shown.label, "Alert 2 +2");
        assert_eq!(outline(&book.active("yard")).unwrap().label, "Alert 4");
        assert_eq!(outline(&book.active("gate")), None);
    }

    #[test]
    fn a_reconnect_forgets_the_active_set_for_the_relay_to_resend() {
        let mut book = AlertBook::new();
        book.apply(
            AlertEvent::Start,
            &alert(1, "door", AlertSeverity::Warning, 1),
        );
        book.apply(
            AlertEvent::Start,
            &alert(2, "yard", AlertSeverity::Warning, 1),
        );
        book.apply(
            AlertEvent::Start,
            &alert(3, "yard", AlertSeverity::Warning, 1),
        );
        book.apply(
            AlertEvent::End,
            &ended(alert(3, "yard", AlertSeverity::Warning, 1)),
        );
        assert_eq!(book.reset(), ["door", "yard"]);
        assert!(book.active("door").is_empty() && book.active("yard").is_empty());
        // Re-sent as `active`: shown again, silently; the ended one stays ended.
        let back = book.apply(
            AlertEvent::Active,
            &alert(1, "door", AlertSeverity::Warning, 1),
        );
        assert!(back.active && !back.ring);
        assert!(
            !book
                .apply(
                    AlertEvent::Active,
                    &alert(3, "yard", AlertSeverity::Warning, 1)
                )
                .active
        );
    }

    #[test]
    fn the_memory_of_ended_ids_is_bounded() {
        let mut book = AlertBook::new();
        for id in 0..(ENDED_MEMORY as i64 + 100) {
            book.apply(
                AlertEvent::End,
                &ended(alert(id, "door", AlertSeverity::Info, 1)),
            );
        }
        assert_eq!(book.ended.len(), ENDED_MEMORY);
        assert_eq!(book.ended_order.len(), ENDED_MEMORY);
        // The oldest were forgotten, the newest are remembered.
        assert!(!book.ended.contains(&0));
        assert!(book.ended.contains(&(ENDED_MEMORY as i64 + 99)));
    }

    #[test]
    fn names_are_the_wires() {
        for event in [
            AlertEvent::Active,
            AlertEvent::Start,
            AlertEvent::Update,
            AlertEvent::End,
            AlertEvent::Ack,
        ] {
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event_name(event)));
        }
        for severity in [
            AlertSeverity::Info,
            AlertSeverity::Warning,
            AlertSeverity::Critical,
        ] {
            let json = serde_json::to_string(&severity).unwrap();
            assert_eq!(json, format!("\"{}\"", severity_name(severity)));
        }
    }
}
