//! Sightline's database: one SQLite file holding the users, their sessions, one-time
//! sign-in tokens, API keys, kiosk devices, share links, the keys that sign tickets,
//! the audit log, and the alert history ([`Alert`]; its files live beside it).
//!
//! **Blocking by design.** No tokio, no HTTP: every call is a short synchronous
//! transaction on one [`rusqlite::Connection`] behind a mutex, and the relay calls
//! it from `spawn_blocking`. The CLI uses the same type from its own process; the
//! file is in WAL mode with a busy timeout so that both can write it at once.
//! Password hashing and verification (tens of milliseconds, see [`password`]) run
//! *outside* the mutex, so one slow login does not stall other requests.
//!
//! **Time is a parameter.** Every function that checks an expiry takes `now` (Unix
//! seconds, see [`unix_now`]), so tests need no sleeping and the relay decides what
//! "now" is once per request. Something is valid while `now < expires_at`.
//!
//! **Secrets.** Passwords are stored as Argon2id hashes ([`password`]); bearer
//! tokens (session cookies, sign-in links, API keys, device tokens, share links) as
//! SHA-256 hashes only ([`secret`]): the raw value exists once, in the return value
//! of the `create_*` call, wrapped in a [`Secret`] that will not print itself. Only
//! the ticket signing keys are kept as they are, because HMAC needs them; so the
//! file is created readable by its owner only, and backups must be kept like keys.
//!
//! **Revocation.** [`Store::revision`] is a counter in the database, bumped by every
//! write that can take access away. The relay polls it and re-checks its open
//! sockets when it moves, which also catches changes made by the CLI in another
//! process.

mod alert_copies;
mod alerts;
mod audit;
mod credentials;
mod error;
mod migrations;
mod model;
pub mod password;
mod replica;
pub mod secret;
mod sessions;
mod shares;
mod signing;
mod users;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, Transaction, TransactionBehavior};

pub use alert_copies::CopiedAlert;
pub use alerts::{
    Alert, AlertQuery, MediaFile, MediaKind, NewAlert, Origin, Severity, DEFAULT_ALERT_PAGE,
    MAX_ALERT_PAGE, MAX_ALERT_ZONES,
};
pub use audit::{AuditEntry, AuditRecord, MAX_AUDIT_PAGE};
pub use credentials::{ApiKey, Device, API_KEY_PREFIX, DEVICE_TOKEN_PREFIX};
pub use error::{Result, StoreError};
pub use model::{CameraGrant, Role};
pub use replica::{
    Accounts, ApiKeyRecord, DeviceRecord, Imported, ShareRecord, SigningKeyRecord, UserRecord,
};
pub use secret::Secret;
pub use sessions::{NewSession, SessionInfo};
pub use shares::{Share, MAX_SHARE_SECS, SHARE_TOKEN_PREFIX};
pub use signing::{SigningKey, SigningKeyInfo};
pub use users::{check_user_name, User};

/// The schema version this build writes (and the newest it can read).
pub const SCHEMA_VERSION: i64 = migrations::MIGRATIONS.len() as i64;

/// How long a write waits for another process (the CLI, a second relay) holding the
/// file's write lock before failing with "database is locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The current time as Unix seconds (0 if the clock is before 1970).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The database. `Send + Sync`: share it in an `Arc`.
pub struct Store {
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the database file at `path`, creating it (readable by its owner only)
    /// if it does not exist, and brings its schema up to date. The folder must
    /// exist. Refuses a file written by a newer build ([`StoreError::TooNew`]).
    pub fn open(path: &Path) -> Result<Store> {
        create_private(path)?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        Store::setup(conn, true)
    }

    /// A private database in memory, for tests.
    pub fn open_in_memory() -> Result<Store> {
        Store::setup(Connection::open_in_memory()?, false)
    }

    fn setup(mut conn: Connection, file: bool) -> Result<Store> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Before anything writes: a newer file is left exactly as it is.
        check_version(&conn)?;
        if file {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Invalid(format!(
                    "SQLite refused write-ahead logging for this database (journal mode {mode:?}); put the database on a local file system"
                )));
            }
        }
        migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
        })
    }

    /// The schema version of the open database (equal to [`SCHEMA_VERSION`]).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(user_version(&self.conn())?)
    }

    /// The revocation counter: it moves whenever access may have been taken away
    /// (a user changed or removed, a session deleted, a key, device, share or
    /// signing key revoked), by this process or another.
    pub fn revision(&self) -> Result<i64> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM revision WHERE id = 1", [], |row| {
                row.get(0)
            })?)
    }

    /// Deletes expired sessions and sign-in tokens; returns how many. Housekeeping
    /// only (expired rows are refused anyway), e.g. once an hour.
    pub fn purge_expired(&self, now: i64) -> Result<usize> {
        self.write(|tx| {
            let sessions = tx.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
            let signins = tx.execute("DELETE FROM signin_tokens WHERE expires_at <= ?1", [now])?;
            Ok(sessions + signins)
        })
    }

    /// The connection; a panic in another thread while it held the lock does not
    /// make the store unusable (any transaction it had open was rolled back).
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in a write transaction taken up front (`BEGIN IMMEDIATE`), so that
    /// it waits for other writers with the busy timeout rather than failing midway
    /// when a read turns into a write. Commits if `f` succeeds, rolls back if not.
    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

/// Bumps the revocation counter, inside the transaction that takes access away.
fn bump_revision(tx: &Transaction<'_>) -> Result<()> {
    tx.execute("UPDATE revision SET value = value + 1 WHERE id = 1", [])?;
    Ok(())
}

fn user_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

fn check_version(conn: &Connection) -> Result<i64> {
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

fn migrate(conn: &mut Connection) -> Result<()> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Read again under the lock: another process may have migrated meanwhile.
        let version = check_version(&tx)?;
        let Some(script) = usize::try_from(version)
            .ok()
            .and_then(|v| migrations::MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Creates the database file with owner-only permissions if it is not there, so
/// that SQLite (which gives its `-wal` and `-shm` files the same mode) never makes
/// it world-readable.
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Checks a free-text label (an API key's or a device's name).
fn check_label(what: &str, name: &str) -> Result<()> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed != name || name.chars().count() > 64 {
        return Err(StoreError::Invalid(format!(
            "{what} name must be 1 to 64 characters, without spaces at either end"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} name may not contain control characters"
        )));
    }
    Ok(())
}

/// `Some(row)` or `None`, for lookups.
fn optional<T>(result: rusqlite::Result<T>) -> Result<Option<T>> {
    Ok(result.optional()?)
}

/// Checks a time-to-live and returns `now + ttl_secs`.
fn expiry(now: i64, ttl_secs: i64) -> Result<i64> {
    if ttl_secs <= 0 {
        return Err(StoreError::Invalid(format!(
            "a lifetime must be positive (got {ttl_secs} seconds)"
        )));
    }
    Ok(now.saturating_add(ttl_secs))
}
