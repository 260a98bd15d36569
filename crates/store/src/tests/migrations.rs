use std::path::PathBuf;

use super::*;
use crate::{StoreError, SCHEMA_VERSION};

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("sightline.db")
}

#[test]
fn a_new_file_gets_the_latest_version_in_wal_mode() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = Store::open(&path).expect("open");
    const { assert!(SCHEMA_VERSION >= 1) };
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let mode: String = store
        .conn()
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let fk: i64 = store
        .conn()
        .query_row("PRAGMA foreign_keys", [], |row| row.get(0))
        .expect("foreign keys");
    assert_eq!(fk, 1);
    // WAL mode is a property of the file: a plain connection sees it too.
    drop(store);
    let raw = rusqlite::Connection::open(&path).expect("raw open");
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
}

#[cfg(unix)]
#[test]
fn a_new_file_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let _store = Store::open(&path).expect("open");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
}

#[test]
fn reopening_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let store = Store::open(&path).expect("open");
    let user = admin(&store);
    let revision = store.revision().expect("revision");
    drop(store);

    let store = Store::open(&path).expect("reopen");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(store.user(user.id).expect("user"), Some(user));
    assert_eq!(store.revision().expect("revision"), revision);
    assert_eq!(store.user_count().expect("count"), 1);
}

#[test]
fn a_newer_file_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    drop(Store::open(&path).expect("open"));
    let newer = SCHEMA_VERSION + 1;
    rusqlite::Connection::open(&path)
        .expect("raw open")
        .pragma_update(None, "user_version", newer)
        .expect("set version");

    match Store::open(&path) {
        Err(StoreError::TooNew { found, known }) => {
            assert_eq!((found, known), (newer, SCHEMA_VERSION));
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    let message = Store::open(&path).expect_err("refused").to_string();
    assert!(message.contains("upgrade the relay"), "{message}");

    let version: i64 = rusqlite::Connection::open(&path)
        .expect("raw open")
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, newer);
}

#[test]
fn a_missing_folder_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("no-such-folder").join("sightline.db");
    let err = Store::open(&path).expect_err("no folder");
    assert!(err.to_string().contains("no-such-folder"), "{err}");
}

#[test]
fn two_handles_on_one_file_see_each_other() {
    // The relay and the CLI are two processes on one file; two stores in one
    // process exercise the same locking.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    let relay = Store::open(&path).expect("relay");
    let cli = Store::open(&path).expect("cli");
    let boss = admin(&cli);
    let session = relay.create_session(boss.id, NOW, HOUR).expect("session");
    let before = relay.revision().expect("revision");
    cli.delete_user_sessions(boss.id).expect("sign out");
    assert!(relay.revision().expect("revision") > before);
    assert!(relay
        .session(session.token.expose(), NOW)
        .expect("lookup")
        .is_none());
}

#[test]
fn in_memory_gets_the_latest_version_and_store_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_eq!(store().schema_version().expect("version"), SCHEMA_VERSION);
}

#[test]
fn api_keys_made_before_scopes_keep_what_they_could_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = db_path(&dir);
    {
        // A database as version 1 left it, with a key.
        let raw = rusqlite::Connection::open(&path).expect("raw open");
        raw.execute_batch(crate::migrations::MIGRATIONS[0])
            .expect("version 1");
        raw.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO users (name, role, cameras, password_hash, created_at)
                 VALUES ('boss', 'admin', '*', 'x', 1);
             INSERT INTO api_keys (name, token_hash, created_by, created_at)
                 VALUES ('old', 'h', 1, 1);",
        )
        .expect("old rows");
    }
    let store = Store::open(&path).expect("migrates");
    assert_eq!(store.schema_version().expect("version"), SCHEMA_VERSION);
    let keys = store.api_keys().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].role, Role::Operator);
    assert_eq!(keys[0].cameras, CameraGrant::All);
    // New keys say their scope, and never administer.
    let boss = store.user_by_name("boss").expect("read").expect("boss");
    let only_a = CameraGrant::parse("a").expect("grant");
    let (key, _) = store
        .create_api_key("new", Role::Viewer, &only_a, boss.id, NOW)
        .expect("key");
    assert_eq!((key.role, key.cameras), (Role::Viewer, only_a));
    assert!(matches!(
        store.create_api_key("root", Role::Admin, &CameraGrant::All, boss.id, NOW),
        Err(StoreError::Invalid(_))
    ));
}
