use super::*;
use crate::StoreError;

#[test]
fn add_and_log_in() {
    let store = store();
    assert_eq!(store.user_count().expect("count"), 0);
    let alice = store
        .add_user("alice", Role::Viewer, &grant("front"), "open sesame")
        .expect("add");
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.role, Role::Viewer);
    assert_eq!(alice.cameras, grant("front"));
    assert_eq!(store.user_count().expect("count"), 1);
    assert_eq!(store.user(alice.id).expect("by id"), Some(alice.clone()));
    assert_eq!(
        store.user_by_name("alice").expect("by name"),
        Some(alice.clone())
    );
    assert_eq!(store.user_by_name("Alice").expect("by name"), None);

    assert_eq!(
        store.verify_login("alice", "open sesame").expect("login"),
        Some(alice)
    );
    assert_eq!(
        store.verify_login("alice", "open sesamE").expect("login"),
        None
    );
    assert_eq!(store.verify_login("alice", "").expect("login"), None);
    assert_eq!(
        store.verify_login("bob", "open sesame").expect("login"),
        None
    );
    assert_eq!(
        store
            .verify_login("not a name", "open sesame")
            .expect("login"),
        None
    );
}

#[test]
fn names_are_checked_and_unique() {
    let store = store();
    add(&store, "alice", Role::Viewer, "*");
    match store.add_user("alice", Role::Admin, &CameraGrant::All, "another password") {
        Err(StoreError::Conflict(message)) => assert!(message.contains("alice"), "{message}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let long = "a".repeat(65);
    for bad in ["", "bob smith", "bób", "a/b", "x\n", long.as_str()] {
        assert!(
            matches!(
                store.add_user(bad, Role::Viewer, &CameraGrant::All, "long enough"),
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    for good in ["alice@example.com", "a.b-c_d", "Z", &"a".repeat(64)] {
        store
            .add_user(good, Role::Viewer, &CameraGrant::All, "long enough")
            .expect(good);
    }
    assert!(matches!(
        store.add_user("carol", Role::Viewer, &CameraGrant::All, "short"),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.user_count().expect("count"), 5);
    let names: Vec<String> = store
        .users()
        .expect("users")
        .into_iter()
        .map(|u| u.name)
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[test]
fn changes_bump_the_generation_and_end_sessions() {
    let store = store();
    admin(&store);
    let bob = add(&store, "bob", Role::Viewer, "front");
    let mut generation = bob.generation;

    type Change = fn(&Store) -> crate::Result<User>;
    let changes: [(&str, Change); 3] = [
        ("role", |s| s.set_role("bob", Role::Operator)),
        ("cameras", |s| s.set_cameras("bob", &grant("front,back"))),
        ("password", |s| s.set_password("bob", "a new password")),
    ];
    for (what, change) in changes {
        let session = store.create_session(bob.id, NOW, HOUR).expect("session");
        let signin = store
            .create_signin_token(bob.id, NOW, HOUR)
            .expect("signin");
        let revision = store.revision().expect("revision");
        let changed = change(&store).expect(what);
        assert_eq!(changed.generation, generation + 1, "{what}");
        generation = changed.generation;
        assert!(
            store
                .session(session.token.expose(), NOW)
                .expect("lookup")
                .is_none(),
            "{what}: the session survived"
        );
        assert!(
            store
                .redeem_signin_token(signin.expose(), NOW)
                .expect("redeem")
                .is_none(),
            "{what}: the sign-in link survived"
        );
        assert!(store.revision().expect("revision") > revision, "{what}");
    }
    let bob = store.user(bob.id).expect("user").expect("bob");
    assert_eq!(bob.role, Role::Operator);
    assert_eq!(bob.cameras, grant("back,front"));
    assert!(store
        .verify_login("bob", "bob-password")
        .expect("old")
        .is_none());
    assert_eq!(
        store.verify_login("bob", "a new password").expect("new"),
        Some(bob.clone())
    );

    // Setting what is already there is not a change.
    let session = store.create_session(bob.id, NOW, HOUR).expect("session");
    let same = store.set_role("bob", Role::Operator).expect("same role");
    let same = store
        .set_cameras("bob", &same.cameras)
        .expect("same cameras");
    assert_eq!(same.generation, generation);
    assert!(store
        .session(session.token.expose(), NOW)
        .expect("lookup")
        .is_some());
}

#[test]
fn unknown_users_are_not_found() {
    let store = store();
    admin(&store);
    assert!(matches!(
        store.set_role("ghost", Role::Admin),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_cameras("ghost", &CameraGrant::All),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.set_password("ghost", "long enough"),
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.remove_user("ghost"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.user(999).expect("user"), None);
}

#[test]
fn the_last_admin_stays() {
    let store = store();
    let first = admin(&store);
    add(&store, "viewer", Role::Viewer, "*");
    assert!(matches!(
        store.remove_user("admin"),
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.set_role("admin", Role::Operator),
        Err(StoreError::LastAdmin)
    ));
    assert!(StoreError::LastAdmin
        .to_string()
        .contains("another user admin"));
    assert_eq!(store.user(first.id).expect("user"), Some(first.clone()));

    // With a second admin, the first may go.
    add(&store, "second", Role::Admin, "*");
    store.set_role("admin", Role::Viewer).expect("demote");
    assert!(matches!(
        store.remove_user("second"),
        Err(StoreError::LastAdmin)
    ));
    store.remove_user("viewer").expect("remove a viewer");
    store.remove_user("admin").expect("remove the demoted one");
    assert_eq!(store.user_count().expect("count"), 1);
}

#[test]
fn removing_a_user_takes_its_access_with_it() {
    let store = store();
    let boss = admin(&store);
    let bob = add(&store, "bob", Role::Admin, "*");
    let session = store.create_session(bob.id, NOW, HOUR).expect("session");
    let (_, share) = store
        .create_share("front", bob.id, NOW, NOW + HOUR)
        .expect("share");
    let (key, key_token) = store
        .create_api_key("backend", Role::Operator, &CameraGrant::All, bob.id, NOW)
        .expect("key");
    let revision = store.revision().expect("revision");

    let removed = store.remove_user("bob").expect("remove");
    assert_eq!(removed.id, bob.id);
    assert!(store.revision().expect("revision") > revision);
    assert!(store.user(bob.id).expect("user").is_none());
    assert!(store
        .session(session.token.expose(), NOW)
        .expect("session")
        .is_none());
    assert!(store
        .share_by_token(share.expose(), NOW)
        .expect("share")
        .is_none());
    assert!(store.shares(None).expect("shares").is_empty());
    // The API key belongs to the deployment, not to the admin who made it.
    let key_now = store
        .api_key_by_token(key_token.expose(), NOW)
        .expect("key")
        .expect("still valid");
    assert_eq!(key_now.id, key.id);
    assert_eq!(key_now.created_by, None);
    assert_eq!(key_now.created_by_name, None);
    assert_eq!(store.user_count().expect("count"), 1);
    assert!(store.user(boss.id).expect("user").is_some());
}

#[test]
fn password_hashes_never_leave_the_store() {
    let store = store();
    let alice = add(&store, "alice", Role::Admin, "a,b");
    let phc: String = store
        .conn()
        .query_row(
            "SELECT password_hash FROM users WHERE id = ?1",
            [alice.id],
            |row| row.get(0),
        )
        .expect("hash");
    assert!(phc.starts_with("$argon2id$"), "{phc}");
    let hash_part = phc.rsplit('$').next().expect("hash part");

    let outputs = [
        format!("{alice:?}"),
        format!("{:?}", store.users().expect("users")),
        serde_json::to_string(&alice).expect("json"),
        serde_json::to_string(
            &store
                .verify_login("alice", "alice-password")
                .expect("login"),
        )
        .expect("json"),
    ];
    for output in outputs {
        assert!(!output.contains("argon2"), "{output}");
        assert!(!output.contains(hash_part), "{output}");
        assert!(!output.contains("alice-password"), "{output}");
    }
    // And the plain password is stored nowhere.
    assert!(every_stored_value(&store)
        .iter()
        .all(|(_, v)| !v.contains("alice-password")));
    let json = serde_json::to_value(&alice).expect("json");
    assert_eq!(json["role"], "admin");
    assert_eq!(json["cameras"], serde_json::json!(["a", "b"]));
}
