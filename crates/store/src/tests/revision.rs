use super::*;

/// Runs `f` and says whether the revision moved.
fn bumps(store: &Store, f: impl FnOnce(&Store)) -> bool {
    let before = store.revision().expect("revision");
    f(store);
    let after = store.revision().expect("revision");
    assert!(after >= before);
    after > before
}

#[test]
fn every_revocation_moves_the_revision_and_creations_do_not() {
    let store = store();
    assert_eq!(store.revision().expect("revision"), 0);
    let boss = admin(&store);
    let alice = add(&store, "alice", Role::Viewer, "*");

    let mut session = None;
    let (mut key, mut device, mut share, mut signing) = (None, None, None, None);
    assert!(!bumps(&store, |s| {
        add(s, "carol", Role::Viewer, "*");
        session = Some(s.create_session(alice.id, NOW, HOUR).expect("session"));
        s.create_signin_token(alice.id, NOW, HOUR).expect("signin");
        key = Some(
            s.create_api_key("k", Role::Operator, &CameraGrant::All, boss.id, NOW)
                .expect("key")
                .0,
        );
        device = Some(
            s.create_device("d", &CameraGrant::All, boss.id, NOW)
                .expect("device")
                .0,
        );
        share = Some(
            s.create_share("c", alice.id, NOW, NOW + HOUR)
                .expect("share")
                .0,
        );
        signing = Some(s.signing_key(NOW).expect("signing key"));
        s.rotate_signing_key(NOW).expect("rotate");
        s.audit(&crate::AuditEntry {
            at: NOW,
            action: "test".into(),
            ..Default::default()
        })
        .expect("audit");
    }));
    let (session, key, device, share, signing) = (
        session.expect("session"),
        key.expect("key"),
        device.expect("device"),
        share.expect("share"),
        signing.expect("signing key"),
    );

    assert!(bumps(&store, |s| {
        s.revoke_share(share.id, alice.id, false, NOW)
            .expect("share");
    }));
    assert!(bumps(&store, |s| {
        s.delete_session(session.token.expose()).expect("session");
    }));
    assert!(bumps(&store, |s| {
        s.revoke_api_key(key.id, NOW).expect("key");
    }));
    assert!(bumps(&store, |s| {
        s.revoke_device(device.id, NOW).expect("device");
    }));
    assert!(bumps(&store, |s| {
        s.revoke_signing_key(&signing.kid, NOW)
            .expect("signing key");
    }));
    assert!(bumps(&store, |s| {
        s.set_role("alice", Role::Operator).expect("role");
    }));
    assert!(bumps(&store, |s| {
        s.set_cameras("alice", &grant("x")).expect("cameras");
    }));
    assert!(bumps(&store, |s| {
        s.set_password("alice", "changed password")
            .expect("password");
    }));
    store.create_session(alice.id, NOW, HOUR).expect("session");
    assert!(bumps(&store, |s| {
        s.delete_user_sessions(alice.id).expect("sessions");
    }));
    assert!(bumps(&store, |s| {
        s.remove_user("alice").expect("remove");
    }));

    // Doing nothing moves nothing.
    assert!(!bumps(&store, |s| {
        assert!(!s.revoke_api_key(key.id, NOW).expect("again"));
        assert!(!s.revoke_device(device.id, NOW).expect("again"));
        assert!(!s.revoke_signing_key(&signing.kid, NOW).expect("again"));
        assert!(!s.delete_session("nothing").expect("nothing"));
        assert_eq!(s.delete_user_sessions(boss.id).expect("none"), 0);
        s.set_role("carol", Role::Viewer).expect("same role");
    }));
}
