use super::*;
use crate::{StoreError, MAX_SHARE_SECS, SHARE_TOKEN_PREFIX};

#[test]
fn a_share_lasts_at_most_a_week() {
    let store = store();
    let boss = admin(&store);
    assert_eq!(MAX_SHARE_SECS, 7 * DAY);
    for bad in [NOW - 1, NOW, NOW + 7 * DAY + 1, NOW + 30 * DAY] {
        assert!(
            matches!(
                store.create_share("front", boss.id, NOW, bad),
                Err(StoreError::Invalid(_))
            ),
            "expiry {}",
            bad - NOW
        );
    }
    let (share, token) = store
        .create_share("front", boss.id, NOW, NOW + 7 * DAY)
        .expect("exactly a week");
    assert!(token.expose().starts_with(SHARE_TOKEN_PREFIX));
    assert_eq!(share.expires_at, NOW + 7 * DAY);
    assert!(matches!(
        store.create_share("", boss.id, NOW, NOW + HOUR),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.create_share("front", 999, NOW, NOW + HOUR),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_share_works_until_it_expires() {
    let store = store();
    let alice = add(&store, "alice", Role::Viewer, "front");
    let (share, token) = store
        .create_share("front", alice.id, NOW, NOW + DAY)
        .expect("share");
    assert_eq!(share.camera, "front");
    assert_eq!(share.created_by, alice.id);
    assert_eq!(share.created_by_name, "alice");
    assert_eq!(
        store
            .share_by_token(token.expose(), NOW + DAY - 1)
            .expect("lookup"),
        Some(share)
    );
    assert!(store
        .share_by_token(token.expose(), NOW + DAY)
        .expect("lookup")
        .is_none());
    assert!(store
        .share_by_token("sls_nope", NOW)
        .expect("lookup")
        .is_none());
}

#[test]
fn only_its_creator_or_an_admin_may_revoke_a_share() {
    let store = store();
    let boss = admin(&store);
    let alice = add(&store, "alice", Role::Operator, "*");
    let bob = add(&store, "bob", Role::Operator, "*");
    let (first, first_token) = store
        .create_share("front", alice.id, NOW, NOW + DAY)
        .expect("share");
    let (second, second_token) = store
        .create_share("back", alice.id, NOW, NOW + DAY)
        .expect("share");

    match store.revoke_share(first.id, bob.id, false, NOW) {
        Err(StoreError::Forbidden(_)) => {}
        other => panic!("expected Forbidden, got {other:?}"),
    }
    assert!(store
        .share_by_token(first_token.expose(), NOW)
        .expect("lookup")
        .is_some());

    assert!(store
        .revoke_share(first.id, alice.id, false, NOW + 1)
        .expect("creator"));
    assert!(!store
        .revoke_share(first.id, alice.id, false, NOW + 2)
        .expect("again"));
    assert!(store
        .revoke_share(second.id, boss.id, true, NOW + 3)
        .expect("admin"));
    assert!(!store
        .revoke_share(999, boss.id, true, NOW)
        .expect("unknown"));
    for token in [&first_token, &second_token] {
        assert!(store
            .share_by_token(token.expose(), NOW + 4)
            .expect("lookup")
            .is_none());
    }
    let listed = store.shares(Some(alice.id)).expect("list");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second.id, "newest first");
    assert_eq!(listed[0].revoked_at, Some(NOW + 3));
    assert_eq!(listed[1].revoked_at, Some(NOW + 1));
}

#[test]
fn shares_are_listed_per_creator_or_all() {
    let store = store();
    let boss = admin(&store);
    let alice = add(&store, "alice", Role::Viewer, "*");
    store
        .create_share("a", alice.id, NOW, NOW + HOUR)
        .expect("share");
    store
        .create_share("b", boss.id, NOW, NOW + HOUR)
        .expect("share");
    store
        .create_share("c", alice.id, NOW, NOW + HOUR)
        .expect("share");
    let cameras = |shares: Vec<crate::Share>| -> Vec<String> {
        shares.into_iter().map(|s| s.camera).collect()
    };
    assert_eq!(
        cameras(store.shares(Some(alice.id)).expect("alice")),
        ["c", "a"]
    );
    assert_eq!(cameras(store.shares(Some(boss.id)).expect("boss")), ["b"]);
    assert_eq!(cameras(store.shares(None).expect("all")), ["c", "b", "a"]);
    assert!(store.shares(Some(999)).expect("nobody").is_empty());
}

#[test]
fn a_share_dies_when_its_creator_loses_the_camera() {
    let store = store();
    admin(&store);
    let alice = add(&store, "alice", Role::Viewer, "front,back");
    let (_, token) = store
        .create_share("front", alice.id, NOW, NOW + DAY)
        .expect("share");
    store.set_cameras("alice", &grant("back")).expect("narrow");
    assert!(store
        .share_by_token(token.expose(), NOW)
        .expect("lookup")
        .is_none());
    store
        .set_cameras("alice", &CameraGrant::All)
        .expect("widen");
    assert!(store
        .share_by_token(token.expose(), NOW)
        .expect("lookup")
        .is_some());
}
