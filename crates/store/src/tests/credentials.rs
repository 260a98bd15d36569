use super::*;
use crate::{StoreError, API_KEY_PREFIX, DEVICE_TOKEN_PREFIX};

#[test]
fn api_keys_work_until_revoked() {
    let store = store();
    let boss = admin(&store);
    let (key, token) = store
        .create_api_key("backend", Role::Operator, &CameraGrant::All, boss.id, NOW)
        .expect("key");
    assert!(token.expose().starts_with(API_KEY_PREFIX), "prefix");
    assert_eq!(token.expose().len(), API_KEY_PREFIX.len() + 43);
    assert_eq!(key.name, "backend");
    assert_eq!(key.created_by, Some(boss.id));
    assert_eq!(key.created_by_name.as_deref(), Some("admin"));
    assert_eq!(
        (key.created_at, key.revoked_at, key.last_used_at),
        (NOW, None, None)
    );

    let found = store
        .api_key_by_token(token.expose(), NOW + 10)
        .expect("lookup")
        .expect("valid");
    assert_eq!(found.id, key.id);
    assert_eq!(found.last_used_at, Some(NOW + 10));
    // Uses within a minute are not written again.
    store
        .api_key_by_token(token.expose(), NOW + 30)
        .expect("lookup");
    assert_eq!(
        store.api_keys().expect("list")[0].last_used_at,
        Some(NOW + 10)
    );
    store
        .api_key_by_token(token.expose(), NOW + 70)
        .expect("lookup");
    assert_eq!(
        store.api_keys().expect("list")[0].last_used_at,
        Some(NOW + 70)
    );

    assert!(store
        .api_key_by_token("slk_nope", NOW)
        .expect("lookup")
        .is_none());
    let unprefixed = &token.expose()[API_KEY_PREFIX.len()..];
    assert!(store
        .api_key_by_token(unprefixed, NOW)
        .expect("lookup")
        .is_none());

    let (other, other_token) = store
        .create_api_key("other", Role::Operator, &CameraGrant::All, boss.id, NOW)
        .expect("key");
    assert!(store.revoke_api_key(key.id, NOW + 100).expect("revoke"));
    assert!(!store.revoke_api_key(key.id, NOW + 200).expect("again"));
    assert!(!store.revoke_api_key(999, NOW).expect("unknown"));
    assert!(store
        .api_key_by_token(token.expose(), NOW)
        .expect("lookup")
        .is_none());
    assert!(store
        .api_key_by_token(other_token.expose(), NOW)
        .expect("lookup")
        .is_some());

    let keys = store.api_keys().expect("list");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].id, key.id);
    assert_eq!(keys[0].revoked_at, Some(NOW + 100));
    assert_eq!(keys[1].id, other.id);
    assert_eq!(keys[1].revoked_at, None);
}

#[test]
fn api_keys_need_a_name_and_a_creator() {
    let store = store();
    let boss = admin(&store);
    for bad in ["", " padded", &"k".repeat(65), "tab\there"] {
        assert!(
            matches!(
                store.create_api_key(bad, Role::Operator, &CameraGrant::All, boss.id, NOW),
                Err(StoreError::Invalid(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        store.create_api_key("backend", Role::Operator, &CameraGrant::All, 999, NOW),
        Err(StoreError::NotFound(_))
    ));
    assert!(store.api_keys().expect("list").is_empty());
}

#[test]
fn devices_work_until_revoked() {
    let store = store();
    let boss = admin(&store);
    let cameras = grant("lobby,door");
    let (device, token) = store
        .create_device("Lobby screen", &cameras, boss.id, NOW)
        .expect("device");
    assert!(token.expose().starts_with(DEVICE_TOKEN_PREFIX));
    assert_eq!(device.cameras, cameras);
    assert_eq!(device.created_by_name.as_deref(), Some("admin"));

    let found = store
        .device_by_token(token.expose(), NOW + 5)
        .expect("lookup")
        .expect("valid");
    assert_eq!(found.id, device.id);
    assert_eq!(found.cameras, cameras);
    assert_eq!(found.last_seen_at, Some(NOW + 5));
    assert!(store
        .device_by_token("sld_nope", NOW)
        .expect("lookup")
        .is_none());

    assert!(store.revoke_device(device.id, NOW + 10).expect("revoke"));
    assert!(!store.revoke_device(device.id, NOW + 20).expect("again"));
    assert!(store
        .device_by_token(token.expose(), NOW)
        .expect("lookup")
        .is_none());
    let devices = store.devices().expect("list");
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].revoked_at, Some(NOW + 10));
    assert!(matches!(
        store.create_device("x", &cameras, 999, NOW),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn tokens_of_one_kind_do_not_open_another() {
    let store = store();
    let boss = admin(&store);
    let (_, key) = store
        .create_api_key("k", Role::Operator, &CameraGrant::All, boss.id, NOW)
        .expect("key");
    let (_, device) = store
        .create_device("d", &CameraGrant::All, boss.id, NOW)
        .expect("device");
    let (_, share) = store
        .create_share("front", boss.id, NOW, NOW + HOUR)
        .expect("share");
    let session = store.create_session(boss.id, NOW, HOUR).expect("session");
    for token in [key.expose(), share.expose(), session.token.expose()] {
        assert!(store.device_by_token(token, NOW).expect("device").is_none());
    }
    for token in [device.expose(), share.expose(), session.token.expose()] {
        assert!(store.api_key_by_token(token, NOW).expect("key").is_none());
    }
    for token in [key.expose(), device.expose(), session.token.expose()] {
        assert!(store.share_by_token(token, NOW).expect("share").is_none());
    }
    for token in [key.expose(), device.expose(), share.expose()] {
        assert!(store.session(token, NOW).expect("session").is_none());
    }
}
