//! Copying the accounts from one database to another (`replica.rs`), as the
//! relays of a cluster do.

use super::*;
use crate::{Accounts, StoreError};

/// A managing database with an admin, a viewer, a key, a device, a share
/// and a signing key; the tokens.
struct Primary {
    store: Store,
    key_token: String,
    device_token: String,
    share_token: String,
}

fn primary() -> Primary {
    let store = store();
    let boss = admin(&store);
    let alice = add(&store, "alice", Role::Viewer, "a,b");
    let (_, key) = store
        .create_api_key("backend", Role::Viewer, &grant("a"), boss.id, NOW)
        .expect("key");
    let (_, device) = store
        .create_device("lobby", &grant("b"), boss.id, NOW)
        .expect("device");
    let (_, share) = store
        .create_share("a", alice.id, NOW, NOW + HOUR)
        .expect("share");
    store.signing_key(NOW).expect("signing key");
    Primary {
        store,
        key_token: key.expose().to_owned(),
        device_token: device.expose().to_owned(),
        share_token: share.expose().to_owned(),
    }
}

#[test]
fn a_copy_signs_in_verifies_tokens_and_tickets_like_the_original() {
    let p = primary();
    let copy = store();
    let accounts = p.store.export_accounts().expect("export");
    assert_eq!(
        format!("{accounts:?}"),
        "2 users, 1 API keys, 1 devices, 1 share links, 1 signing keys"
    );
    let done = copy.import_accounts(&accounts).expect("import");
    assert!(done.changed >= 6, "{done:?}");

    let alice = copy
        .verify_login("alice", "alice-password")
        .expect("login")
        .expect("alice signs in on the copy");
    assert_eq!(alice.cameras, grant("a,b"));
    assert!(copy
        .verify_login("alice", "wrong")
        .expect("login")
        .is_none());
    assert!(copy
        .api_key_by_token(&p.key_token, NOW)
        .expect("key")
        .is_some());
    assert!(copy
        .device_by_token(&p.device_token, NOW)
        .expect("device")
        .is_some());
    assert!(copy
        .share_by_token(&p.share_token, NOW)
        .expect("share")
        .is_some());
    let signing = p.store.current_signing_key().expect("key").expect("one");
    assert_eq!(
        copy.signing_key_by_id(&signing.kid).expect("verify key"),
        Some(signing.clone())
    );
    assert_eq!(copy.current_signing_key().expect("key"), Some(signing));
    // The copy exports what it imported: nothing was lost on the way.
    assert!(copy.export_accounts().expect("export") == accounts);
    // Importing the same again changes nothing and ends nothing.
    let revision = copy.revision().expect("revision");
    assert_eq!(
        copy.import_accounts(&accounts).expect("again"),
        crate::Imported::default()
    );
    assert_eq!(copy.revision().expect("revision"), revision);
}

#[test]
fn changes_reach_the_copy_and_end_only_the_sessions_they_should() {
    let p = primary();
    let copy = store();
    copy.import_accounts(&p.store.export_accounts().expect("export"))
        .expect("import");
    let alice = copy.user_by_name("alice").expect("read").expect("alice");
    let admin = copy.user_by_name("admin").expect("read").expect("admin");
    let alice_session = copy.create_session(alice.id, NOW, HOUR).expect("session");
    let admin_session = copy.create_session(admin.id, NOW, HOUR).expect("session");

    // On the original: alice's password changes, the key and the signing
    // key are revoked, a user is added.
    p.store
        .set_password("alice", "a new password")
        .expect("password");
    let key = p.store.api_keys().expect("keys")[0].id;
    p.store.revoke_api_key(key, NOW).expect("revoke");
    let kid = p
        .store
        .current_signing_key()
        .expect("key")
        .expect("one")
        .kid;
    p.store.revoke_signing_key(&kid, NOW).expect("revoke");
    add(&p.store, "bob", Role::Operator, "*");

    let revision = copy.revision().expect("revision");
    let done = copy
        .import_accounts(&p.store.export_accounts().expect("export"))
        .expect("import");
    assert_eq!(done.sessions_ended, 1, "{done:?}");
    assert!(copy.revision().expect("revision") > revision);
    assert!(copy
        .session(alice_session.token.expose(), NOW)
        .expect("session")
        .is_none());
    assert!(copy
        .session(admin_session.token.expose(), NOW)
        .expect("session")
        .is_some());
    assert!(copy
        .verify_login("alice", "a new password")
        .expect("login")
        .is_some());
    assert!(copy
        .verify_login("bob", "bob-password")
        .expect("login")
        .is_some());
    assert!(copy
        .api_key_by_token(&p.key_token, NOW)
        .expect("key")
        .is_none());
    assert!(copy.signing_key_by_id(&kid).expect("key").is_none());

    // A new role or camera list ends the sessions too, as on the original.
    let bob = copy.user_by_name("bob").expect("read").expect("bob");
    let bob_session = copy.create_session(bob.id, NOW, HOUR).expect("session");
    p.store.set_cameras("bob", &grant("a")).expect("cameras");
    let done = copy
        .import_accounts(&p.store.export_accounts().expect("export"))
        .expect("import");
    assert_eq!(done.sessions_ended, 1, "{done:?}");
    assert!(copy
        .session(bob_session.token.expose(), NOW)
        .expect("session")
        .is_none());

    // alice removed: her share goes with her; a namesake is someone else.
    p.store.remove_user("alice").expect("remove");
    add(&p.store, "alice", Role::Viewer, "b");
    copy.import_accounts(&p.store.export_accounts().expect("export"))
        .expect("import");
    assert!(copy
        .share_by_token(&p.share_token, NOW)
        .expect("share")
        .is_none());
    let namesake = copy.user_by_name("alice").expect("read").expect("alice");
    assert_ne!(namesake.id, alice.id);
    assert_eq!(namesake.cameras, grant("b"));
}

#[test]
fn names_that_move_between_users_do_not_collide() {
    let original = store();
    admin(&original);
    add(&original, "x", Role::Viewer, "*");
    add(&original, "y", Role::Viewer, "*");
    let mut accounts = original.export_accounts().expect("export");
    let copy = store();
    copy.import_accounts(&accounts).expect("import");
    // As if x and y had swapped names (two renames): both must land.
    let x = accounts
        .users
        .iter()
        .position(|u| u.name == "x")
        .expect("x");
    let y = accounts
        .users
        .iter()
        .position(|u| u.name == "y")
        .expect("y");
    accounts.users[x].name = "y".into();
    accounts.users[y].name = "x".into();
    copy.import_accounts(&accounts).expect("swapped");
    assert!(copy.export_accounts().expect("export") == accounts);
}

#[test]
fn a_copy_that_fails_its_checks_changes_nothing() {
    let p = primary();
    let copy = store();
    let good = p.store.export_accounts().expect("export");
    copy.import_accounts(&good).expect("import");
    let before = copy.export_accounts().expect("export");

    let mut bad: Vec<(Accounts, &str)> = Vec::new();
    let mut a = good.clone();
    a.shares[0].created_by = 999;
    bad.push((a, "creator"));
    let mut a = good.clone();
    a.users[1].name = "has space".into();
    bad.push((a, "name"));
    let mut a = good.clone();
    a.users.push(a.users[0].clone());
    bad.push((a, "twice"));
    let mut a = good.clone();
    a.api_keys[0].role = Role::Admin;
    bad.push((a, "admin"));
    let mut a = good.clone();
    a.devices[0].token_hash = "raw-token".into();
    bad.push((a, "hash"));
    let mut a = good.clone();
    a.users[0].password_hash = "plain".into();
    bad.push((a, "Argon2id"));
    let mut a = good.clone();
    a.shares[0].camera = "a,b".into();
    bad.push((a, "camera"));
    for (accounts, what) in bad {
        let err = copy.import_accounts(&accounts).expect_err(what);
        assert!(matches!(err, StoreError::Invalid(_)), "{what}: {err:?}");
        assert!(copy.export_accounts().expect("export") == before, "{what}");
    }
    // JSON from the network: unknown fields and short keys are refused.
    let mut json = serde_json::to_value(&good).expect("json");
    json["signing_keys"][0]["secret"] = "c2hvcnQ".into();
    assert!(serde_json::from_value::<Accounts>(json).is_err());
    let mut json = serde_json::to_value(&good).expect("json");
    json["users"][0]["admin"] = true.into();
    assert!(serde_json::from_value::<Accounts>(json).is_err());
}

#[test]
fn the_accounts_version_moves_with_account_writes_only() {
    let p = primary();
    let moved = |f: &dyn Fn(&Store)| {
        let before = p.store.accounts_version().expect("version");
        f(&p.store);
        p.store.accounts_version().expect("version") > before
    };
    // Using a key or a device, signing in, auditing: not account changes.
    assert!(!moved(&|s| {
        s.api_key_by_token(&p.key_token, NOW + DAY).expect("key");
        s.device_by_token(&p.device_token, NOW + DAY)
            .expect("device");
        let alice = s.user_by_name("alice").expect("read").expect("alice");
        s.create_session(alice.id, NOW, HOUR).expect("session");
        s.create_signin_token(alice.id, NOW, HOUR).expect("link");
    }));
    assert!(moved(&|s| {
        add(s, "carol", Role::Viewer, "*");
    }));
    assert!(moved(&|s| {
        s.set_cameras("carol", &grant("a")).expect("cameras");
    }));
    assert!(moved(&|s| {
        s.rotate_signing_key(NOW).expect("rotate");
    }));
    assert!(moved(&|s| {
        let id = s.devices().expect("devices")[0].id;
        s.revoke_device(id, NOW).expect("revoke");
    }));
    assert!(moved(&|s| {
        let alice = s.user_by_name("alice").expect("read").expect("alice");
        let share = s.shares(None).expect("shares")[0].id;
        s.revoke_share(share, alice.id, false, NOW).expect("revoke");
    }));
}
