//! The schema, as an ordered list of migrations.
//!
//! Migration `i` (0-based) takes the database from version `i` to `i + 1`; the
//! version is SQLite's `PRAGMA user_version` (0 in a new file). Each runs in its own
//! `BEGIN IMMEDIATE` transaction together with the version bump, so a crash leaves
//! the file at a whole version, and two processes opening a new file at once do not
//! both apply it (the second sees the new version once it gets the lock).
//!
//! Rules for adding one: append, never edit a released script (databases in the
//! field have already run it); keep each script free of `BEGIN`/`COMMIT`. Foreign
//! keys are on while migrations run: a script that rebuilds a table must keep the
//! rows its children point to.
//!
//! Tables are `STRICT` so that a wrong type is an error, not a silent conversion.
//! Bearer credentials appear only as `token_hash` (see [`crate::secret`]); the
//! signing keys' secrets are stored as they are, since HMAC needs them: the file is
//! created readable by its owner only.

/// The migrations, oldest first. `MIGRATIONS.len()` is the version this build writes.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

const V1: &str = r#"
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    cameras       TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    generation    INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE signin_tokens (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX signin_tokens_by_user ON signin_tokens (user_id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;

CREATE TABLE devices (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL,
    cameras      TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_seen_at INTEGER
) STRICT;

CREATE TABLE shares (
    id         INTEGER PRIMARY KEY,
    camera     TEXT    NOT NULL,
    token_hash TEXT    NOT NULL UNIQUE,
    created_by INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX shares_by_creator ON shares (created_by);

CREATE TABLE signing_keys (
    kid        TEXT    PRIMARY KEY,
    secret     BLOB    NOT NULL CHECK (length(secret) = 32),
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE TABLE audit (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    at     INTEGER NOT NULL,
    actor  TEXT,
    action TEXT    NOT NULL,
    target TEXT,
    detail TEXT,
    peer   TEXT
) STRICT;

CREATE TABLE revision (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;
INSERT INTO revision (id, value) VALUES (1, 0);
"#;

/// API keys get a scope: the role and cameras of the tickets they may mint.
/// Keys made before keep what they could do (operator, every camera).
const V2: &str = r#"
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'operator'
    CHECK (role IN ('viewer', 'operator'));
ALTER TABLE api_keys ADD COLUMN cameras TEXT NOT NULL DEFAULT '*';
"#;

/// The alert history (see `alerts.rs`): times in Unix milliseconds, zones one name
/// a line, files named relative to the alerts folder. `acked_by` is a name, not a
/// user id: the history keeps it when the user is removed.
const V3: &str = r#"
CREATE TABLE alerts (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    camera         TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    severity       TEXT    NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    started_at_ms  INTEGER NOT NULL,
    ended_at_ms    INTEGER,
    zones          TEXT    NOT NULL DEFAULT '',
    score          REAL    NOT NULL DEFAULT 0,
    area           REAL    NOT NULL DEFAULT 0,
    label          TEXT,
    message        TEXT,
    acked_by       TEXT,
    acked_at       INTEGER,
    snapshot_path  TEXT,
    snapshot_bytes INTEGER CHECK (snapshot_bytes >= 0),
    clip_path      TEXT,
    clip_bytes     INTEGER CHECK (clip_bytes >= 0),
    CHECK ((acked_by IS NULL) = (acked_at IS NULL)),
    CHECK ((snapshot_path IS NULL) = (snapshot_bytes IS NULL)),
    CHECK ((clip_path IS NULL) = (clip_bytes IS NULL))
) STRICT;
CREATE INDEX alerts_by_camera ON alerts (camera, started_at_ms);
CREATE INDEX alerts_by_start ON alerts (started_at_ms);
CREATE INDEX alerts_open ON alerts (started_at_ms) WHERE ended_at_ms IS NULL;
CREATE INDEX alerts_with_media ON alerts (started_at_ms)
    WHERE snapshot_path IS NOT NULL OR clip_path IS NOT NULL;
"#;

/// The accounts' version (see `replica.rs`): moved by triggers on every write
/// to the account tables a cluster shares, whoever writes (the relay, the
/// CLI). Using a key or a device (`last_used_at`, `last_seen_at`) does not
/// move it.
const V4: &str = r#"
CREATE TABLE accounts_version (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
) STRICT;
INSERT INTO accounts_version (id, value) VALUES (1, 0);
CREATE TRIGGER users_inserted AFTER INSERT ON users
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_updated AFTER UPDATE ON users
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER users_deleted AFTER DELETE ON users
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_updated AFTER UPDATE OF name, token_hash, role, cameras, created_by, created_at, revoked_at ON api_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER devices_inserted AFTER INSERT ON devices
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER devices_updated AFTER UPDATE OF name, cameras, token_hash, created_by, created_at, revoked_at ON devices
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER devices_deleted AFTER DELETE ON devices
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER shares_inserted AFTER INSERT ON shares
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER shares_updated AFTER UPDATE ON shares
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER shares_deleted AFTER DELETE ON shares
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_inserted AFTER INSERT ON signing_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_updated AFTER UPDATE ON signing_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER signing_keys_deleted AFTER DELETE ON signing_keys
BEGIN UPDATE accounts_version SET value = value + 1 WHERE id = 1; END;
"#;

/// Copies of alerts raised on other relays of a cluster (`alert_copies.rs`):
/// the relay they were raised on, its database there (`instance`: ids
/// restart with a new database), their id there, whether it has their
/// snapshot (1) and clip (2); and how far this relay
/// has read each stream it copies from.
const V5: &str = r#"
ALTER TABLE alerts ADD COLUMN origin_node TEXT;
ALTER TABLE alerts ADD COLUMN origin_id INTEGER;
ALTER TABLE alerts ADD COLUMN origin_instance TEXT;
ALTER TABLE alerts ADD COLUMN remote_media INTEGER NOT NULL DEFAULT 0
    CHECK (remote_media BETWEEN 0 AND 3);
CREATE UNIQUE INDEX alerts_by_origin ON alerts (origin_node, origin_instance, origin_id)
    WHERE origin_node IS NOT NULL;
CREATE TABLE instance (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value TEXT    NOT NULL
) STRICT;
INSERT INTO instance (id, value) VALUES (1, lower(hex(randomblob(8))));
CREATE TABLE cursors (
    name     TEXT    PRIMARY KEY,
    position INTEGER NOT NULL CHECK (position >= 0)
) STRICT;
"#;
