use super::*;
use crate::{secret, API_KEY_PREFIX, DEVICE_TOKEN_PREFIX, SHARE_TOKEN_PREFIX};

#[test]
fn the_database_never_holds_a_raw_token() {
    let store = store();
    let boss = admin(&store);
    let session = store.create_session(boss.id, NOW, HOUR).expect("session");
    let signin = store
        .create_signin_token(boss.id, NOW, HOUR)
        .expect("signin");
    let (_, key) = store
        .create_api_key("backend", Role::Operator, &CameraGrant::All, boss.id, NOW)
        .expect("key");
    let (_, device) = store
        .create_device("wall", &CameraGrant::All, boss.id, NOW)
        .expect("device");
    let (_, share) = store
        .create_share("front", boss.id, NOW, NOW + HOUR)
        .expect("share");
    let tokens = [
        ("session", session.token.expose()),
        ("sign-in", signin.expose()),
        ("api key", key.expose()),
        ("device", device.expose()),
        ("share", share.expose()),
    ];

    let values = every_stored_value(&store);
    for (what, token) in tokens {
        // The random part alone, without the prefix, must not be there either.
        let body = [API_KEY_PREFIX, DEVICE_TOKEN_PREFIX, SHARE_TOKEN_PREFIX]
            .iter()
            .find_map(|prefix| token.strip_prefix(prefix))
            .unwrap_or(token);
        assert_eq!(body.len(), 43, "{what}");
        for (table, value) in &values {
            assert!(
                !value.contains(token) && !value.contains(body),
                "the raw {what} token is stored in table {table}"
            );
        }
        // The scan does see the tables: the hash is there.
        let hash = secret::hash(token);
        assert!(
            values.iter().any(|(_, value)| value == &hash),
            "the {what} token's hash is not stored"
        );
    }
}
