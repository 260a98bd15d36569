use super::*;
use crate::{secret, StoreError};

#[test]
fn a_session_finds_its_user_until_it_expires() {
    let store = store();
    let alice = add(&store, "alice", Role::Operator, "front");
    let new = store.create_session(alice.id, NOW, HOUR).expect("session");
    assert_eq!(new.expires_at, NOW + HOUR);
    assert_eq!(new.token.expose().len(), 43);
    assert_ne!(new.token.expose(), new.csrf.expose());

    let info = store
        .session(new.token.expose(), NOW + HOUR - 1)
        .expect("lookup")
        .expect("valid");
    assert_eq!(info.id, new.id);
    assert_eq!(info.user, alice);
    assert_eq!(info.expires_at, NOW + HOUR);
    assert!(secret::eq(
        info.csrf.expose().as_bytes(),
        new.csrf.expose().as_bytes()
    ));
    assert_eq!(format!("{:?}", new.token), "…");
    assert!(!format!("{info:?}").contains(new.csrf.expose()));

    assert!(store.session("not a token", NOW).expect("lookup").is_none());
    assert!(store
        .session(new.csrf.expose(), NOW)
        .expect("lookup")
        .is_none());

    // At expiry it is refused, and gone.
    assert!(store
        .session(new.token.expose(), NOW + HOUR)
        .expect("lookup")
        .is_none());
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 0);
    assert!(store
        .session(new.token.expose(), NOW)
        .expect("lookup")
        .is_none());
}

#[test]
fn sessions_are_deleted_one_or_all() {
    let store = store();
    let alice = add(&store, "alice", Role::Viewer, "*");
    let bob = add(&store, "bob", Role::Viewer, "*");
    let a1 = store.create_session(alice.id, NOW, HOUR).expect("session");
    let a2 = store.create_session(alice.id, NOW, HOUR).expect("session");
    let b1 = store.create_session(bob.id, NOW, HOUR).expect("session");

    assert!(store.delete_session(a1.token.expose()).expect("logout"));
    assert!(!store.delete_session(a1.token.expose()).expect("again"));
    assert!(store
        .session(a1.token.expose(), NOW)
        .expect("lookup")
        .is_none());
    assert!(store
        .session(a2.token.expose(), NOW)
        .expect("lookup")
        .is_some());

    assert_eq!(store.delete_user_sessions(alice.id).expect("all"), 1);
    assert_eq!(store.delete_user_sessions(alice.id).expect("none left"), 0);
    assert!(store
        .session(a2.token.expose(), NOW)
        .expect("lookup")
        .is_none());
    assert!(store
        .session(b1.token.expose(), NOW)
        .expect("lookup")
        .is_some());
}

#[test]
fn sessions_need_a_user_and_a_lifetime() {
    let store = store();
    assert!(matches!(
        store.create_session(42, NOW, HOUR),
        Err(StoreError::NotFound(_))
    ));
    let alice = add(&store, "alice", Role::Viewer, "*");
    assert!(matches!(
        store.create_session(alice.id, NOW, 0),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.create_signin_token(alice.id, NOW, -1),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.create_signin_token(42, NOW, HOUR),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn a_signin_token_works_once() {
    let store = store();
    let boss = admin(&store);
    let token = store
        .create_signin_token(boss.id, NOW, HOUR)
        .expect("token");
    assert!(store
        .redeem_signin_token("wrong", NOW)
        .expect("redeem")
        .is_none());
    assert_eq!(
        store
            .redeem_signin_token(token.expose(), NOW + HOUR - 1)
            .expect("redeem"),
        Some(boss)
    );
    assert!(store
        .redeem_signin_token(token.expose(), NOW)
        .expect("again")
        .is_none());
}

#[test]
fn an_expired_signin_token_is_refused_and_gone() {
    let store = store();
    let boss = admin(&store);
    let token = store
        .create_signin_token(boss.id, NOW, HOUR)
        .expect("token");
    assert!(store
        .redeem_signin_token(token.expose(), NOW + HOUR)
        .expect("redeem")
        .is_none());
    assert_eq!(count(&store, "SELECT count(*) FROM signin_tokens"), 0);
}

#[test]
fn purge_removes_only_expired_rows() {
    let store = store();
    let boss = admin(&store);
    store.create_session(boss.id, NOW, HOUR).expect("short");
    let long = store.create_session(boss.id, NOW, DAY).expect("long");
    store
        .create_signin_token(boss.id, NOW, HOUR)
        .expect("short");
    store.create_signin_token(boss.id, NOW, DAY).expect("long");
    assert_eq!(store.purge_expired(NOW + 2 * HOUR).expect("purge"), 2);
    assert_eq!(count(&store, "SELECT count(*) FROM sessions"), 1);
    assert_eq!(count(&store, "SELECT count(*) FROM signin_tokens"), 1);
    assert!(store
        .session(long.token.expose(), NOW + 2 * HOUR)
        .expect("lookup")
        .is_some());
}
