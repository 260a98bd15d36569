use super::*;
use crate::{AuditEntry, MAX_AUDIT_PAGE};

#[test]
fn audit_pages_go_back_in_time() {
    let store = store();
    assert!(store.audit_page(None, 10).expect("empty").is_empty());
    let mut ids = Vec::new();
    for i in 0..25 {
        ids.push(
            store
                .audit(&AuditEntry {
                    at: NOW + i,
                    actor: Some("admin".into()),
                    action: "user.add".into(),
                    target: Some(format!("user{i}")),
                    detail: (i % 2 == 0).then(|| "role=viewer".into()),
                    peer: Some("192.0.2.1".into()),
                })
                .expect("audit"),
        );
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let mut seen = Vec::new();
    let mut before = None;
    let mut sizes = Vec::new();
    loop {
        let page = store.audit_page(before, 10).expect("page");
        if page.is_empty() {
            break;
        }
        sizes.push(page.len());
        before = page.last().map(|r| r.id);
        seen.extend(page);
    }
    assert_eq!(sizes, [10, 10, 5]);
    let seen_ids: Vec<i64> = seen.iter().map(|r| r.id).collect();
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen_ids, newest_first);

    let newest = &seen[0];
    assert_eq!(newest.entry.at, NOW + 24);
    assert_eq!(newest.entry.actor.as_deref(), Some("admin"));
    assert_eq!(newest.entry.action, "user.add");
    assert_eq!(newest.entry.target.as_deref(), Some("user24"));
    assert_eq!(newest.entry.detail.as_deref(), Some("role=viewer"));
    assert_eq!(newest.entry.peer.as_deref(), Some("192.0.2.1"));
    assert_eq!(seen[1].entry.detail, None);

    assert!(store.audit_page(None, 0).expect("zero").is_empty());
    assert_eq!(
        store.audit_page(Some(ids[3]), 100).expect("oldest").len(),
        3
    );
    let json = serde_json::to_value(newest).expect("json");
    assert_eq!(json["id"], newest.id);
    assert_eq!(json["action"], "user.add");
}

#[test]
fn audit_pages_are_capped_and_pruned() {
    let store = store();
    for i in 0..(i64::from(MAX_AUDIT_PAGE) + 5) {
        store
            .audit(&AuditEntry {
                at: NOW + i,
                action: "x".into(),
                ..Default::default()
            })
            .expect("audit");
    }
    assert_eq!(
        store.audit_page(None, u32::MAX).expect("page").len(),
        MAX_AUDIT_PAGE as usize
    );
    assert_eq!(store.prune_audit(NOW + 5).expect("prune"), 5);
    assert_eq!(
        store.audit_page(None, u32::MAX).expect("page").len(),
        MAX_AUDIT_PAGE as usize
    );
    // Ids 1 to 5 are gone; 6 is the oldest left.
    assert_eq!(store.audit_page(Some(6), 10).expect("pruned").len(), 0);
    assert_eq!(store.audit_page(Some(7), 10).expect("oldest").len(), 1);
}
