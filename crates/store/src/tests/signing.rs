use super::*;

#[test]
fn the_current_key_is_made_once() {
    let store = store();
    assert!(store.signing_keys().expect("none yet").is_empty());
    let key = store.signing_key(NOW).expect("key");
    assert_eq!(store.signing_key(NOW + 10).expect("same"), key);
    assert_eq!(
        store.signing_key_by_id(&key.kid).expect("by id"),
        Some(key.clone())
    );
    assert_eq!(store.signing_key_by_id("nope").expect("by id"), None);
    assert_ne!(key.secret, [0; 32]);
    assert_eq!(store.signing_keys().expect("list").len(), 1);
}

#[test]
fn rotation_keeps_the_old_key_verifiable_until_pruned() {
    let store = store();
    let old = store.signing_key(NOW).expect("key");
    let new = store.rotate_signing_key(NOW + 100).expect("rotate");
    assert_ne!(new.kid, old.kid);
    assert_ne!(new.secret, old.secret);
    assert_eq!(store.signing_key(NOW + 101).expect("current"), new);
    assert_eq!(
        store.signing_key_by_id(&old.kid).expect("old"),
        Some(old.clone())
    );

    let infos = store.signing_keys().expect("list");
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].kid, new.kid);
    assert_eq!(infos[1].retired_at, Some(NOW + 100));

    // Not yet past the retirement time: kept.
    assert_eq!(store.prune_signing_keys(NOW + 100).expect("prune"), 0);
    assert_eq!(store.prune_signing_keys(NOW + 101).expect("prune"), 1);
    assert_eq!(store.signing_key_by_id(&old.kid).expect("old"), None);
    assert_eq!(store.signing_key_by_id(&new.kid).expect("new"), Some(new));
}

#[test]
fn revocation_stops_a_key_at_once() {
    let store = store();
    let first = store.signing_key(NOW).expect("key");
    let revision = store.revision().expect("revision");
    assert!(store
        .revoke_signing_key(&first.kid, NOW + 1)
        .expect("revoke"));
    assert!(!store
        .revoke_signing_key(&first.kid, NOW + 2)
        .expect("again"));
    assert!(store.revision().expect("revision") > revision);
    assert_eq!(store.signing_key_by_id(&first.kid).expect("gone"), None);
    // The current key was revoked: a new one takes its place.
    let second = store.signing_key(NOW + 3).expect("key");
    assert_ne!(second.kid, first.kid);
}

#[test]
fn a_signing_key_does_not_print_its_secret() {
    let store = store();
    let key = store.signing_key(NOW).expect("key");
    let debug = format!("{key:?}");
    assert!(debug.contains(&key.kid), "{debug}");
    assert!(!debug.contains(&format!("{:?}", key.secret)), "{debug}");
    assert!(debug.contains('…'), "{debug}");
}
