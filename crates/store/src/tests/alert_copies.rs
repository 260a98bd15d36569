//! Copies of other relays' alerts (`alert_copies.rs`).

use super::*;
use crate::{CopiedAlert, NewAlert, Severity, StoreError};

const NOW_MS: i64 = NOW * 1000;

fn copy(node: &str, id: i64) -> CopiedAlert {
    CopiedAlert {
        node: node.into(),
        instance: "00aa".into(),
        id,
        alert: NewAlert {
            camera: "gate".into(),
            kind: "motion".into(),
            severity: Severity::Warning,
            started_at_ms: NOW_MS,
            zones: vec!["door".into()],
            score: 0.5,
            area: 0.1,
            label: None,
            message: None,
        },
        ended_at_ms: None,
        acked_by: None,
        acked_at: None,
        snapshot: false,
        clip: false,
    }
}

#[test]
fn a_copy_has_an_id_of_its_own_and_follows_its_relay() {
    let store = store();
    let own = store
        .insert_alert(&copy("x", 0).alert)
        .expect("a local alert");
    // Relay "a"'s alert 1 and relay "b"'s alert 1 are two alerts here.
    let (from_a, changed) = store
        .copy_alert(&copy("a", 1), ("alerts", 10))
        .expect("copy");
    assert!(changed);
    let (from_b, _) = store
        .copy_alert(&copy("b", 1), ("alerts", 11))
        .expect("copy");
    assert!(from_a.id != from_b.id && from_a.id != own.id);
    let origin = store.alert(from_a.id).expect("read").and_then(|a| a.origin);
    assert_eq!(
        origin.map(|o| (o.node, o.instance, o.id)),
        Some(("a".into(), "00aa".into(), 1))
    );
    assert!(store
        .alert(own.id)
        .expect("read")
        .expect("own")
        .origin
        .is_none());
    assert_eq!(store.cursor("alerts").expect("cursor"), Some(11));
    // Relay a's alert 1 of another database (its ids started again) is
    // another alert.
    let mut again = copy("a", 1);
    again.instance = "00bb".into();
    let (other, _) = store.copy_alert(&again, ("alerts", 11)).expect("copy");
    assert_ne!(other.id, from_a.id);
    assert_ne!(store.instance().expect("instance"), "");
    // The same again changes nothing (but the cursor moves).
    let (_, changed) = store
        .copy_alert(&copy("a", 1), ("alerts", 12))
        .expect("again");
    assert!(!changed);
    assert_eq!(store.cursor("alerts").expect("cursor"), Some(12));
    // Crash leftovers are this relay's own alerts only; copies wait for
    // their relay.
    assert_eq!(store.open_alerts().expect("open").len(), 1);
    assert_eq!(store.open_copied_alerts().expect("open").len(), 3);

    // An update, an acknowledgement made on another copy, then the end.
    let mut update = copy("a", 1);
    update.alert.zones.push("yard".into());
    update.alert.score = 0.9;
    let (now, changed) = store.copy_alert(&update, ("alerts", 13)).expect("update");
    assert!(changed);
    assert_eq!(now.zones, ["door", "yard"]);
    let mut acked = update.clone();
    acked.acked_by = Some("alice".into());
    acked.acked_at = Some(NOW_MS + 5);
    store.copy_alert(&acked, ("alerts", 14)).expect("ack");
    // The relay's own later word, without the ack: the first ack stays.
    let mut ended = update.clone();
    ended.ended_at_ms = Some(NOW_MS + 9);
    let (now, _) = store.copy_alert(&ended, ("alerts", 15)).expect("end");
    assert_eq!(now.acked_by.as_deref(), Some("alice"));
    assert_eq!(now.ended_at_ms, Some(NOW_MS + 9));
    // A second end (or a second ack) does not move the first.
    let mut later = ended.clone();
    later.ended_at_ms = Some(NOW_MS + 99);
    later.acked_by = Some("bob".into());
    later.acked_at = Some(NOW_MS + 99);
    let (now, changed) = store.copy_alert(&later, ("alerts", 16)).expect("later");
    assert!(!changed);
    assert_eq!(now.ended_at_ms, Some(NOW_MS + 9));
    assert_eq!(now.acked_by.as_deref(), Some("alice"));
    assert_eq!(store.open_copied_alerts().expect("open").len(), 2);
    // Its relay recorded a snapshot, then a clip; a stale word keeps both.
    let mut media = later.clone();
    media.snapshot = true;
    let (now, changed) = store.copy_alert(&media, ("alerts", 17)).expect("snapshot");
    assert!(changed);
    media.snapshot = false;
    media.clip = true;
    let (now2, _) = store.copy_alert(&media, ("alerts", 18)).expect("clip");
    let origin = now2.origin.expect("a copy");
    assert!(origin.snapshot && origin.clip, "{origin:?}");
    assert_eq!((origin.node.as_str(), origin.id), ("a", 1));
    assert!(now.origin.is_some_and(|o| o.snapshot && !o.clip));
    assert!(store
        .alert(own.id)
        .expect("read")
        .expect("own")
        .origin
        .is_none());
}

#[test]
fn a_bad_copy_changes_nothing_and_keeps_the_cursor() {
    let store = store();
    store
        .copy_alert(&copy("a", 1), ("alerts", 1))
        .expect("copy");
    let mut bad = vec![copy("a b", 2), copy("a", 3), copy("a", 4), copy("a", 5)];
    bad[1].alert.camera = String::new();
    bad[2].acked_by = Some("alice".into());
    bad[3].instance = "not hex".into();
    // The copy of relay a's alert 1 stays of its camera, whoever says.
    let mut moved = copy("a", 1);
    moved.alert.camera = "elsewhere".into();
    bad.push(moved);
    for c in bad {
        let err = store.copy_alert(&c, ("alerts", 9)).expect_err("refused");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    assert_eq!(store.cursor("alerts").expect("cursor"), Some(1));
    assert_eq!(store.open_copied_alerts().expect("open").len(), 1);
}
