//! The accounts as one value, so that the relays of a cluster share them
//! (issue 17): [`Store::export_accounts`] on the relay that manages them,
//! [`Store::import_accounts`] on every other one.
//!
//! **What travels:** users (with their password hashes), API keys, kiosk
//! devices and share links (token *hashes* only), and the ticket signing keys
//! (their secrets: HMAC needs them to verify). So a user signs in anywhere,
//! a ticket minted on one relay is accepted by all, and a revocation made on
//! the managing relay reaches every copy. **What stays local:** sessions
//! (a cookie belongs to one origin anyway), sign-in links, the audit log,
//! the alert history, and when a key was last used.
//!
//! **One writer.** Copies never write accounts of their own; the relay
//! refuses account changes there. Two writers would need ids that cannot
//! collide and a rule for conflicting edits, for a workload (a handful of
//! admin changes a day) where "make the change on the managing relay" costs
//! nothing.
//!
//! **Applying a copy** keeps what is still valid: a session survives unless
//! its user was removed or their password, role or cameras changed (exactly
//! what ends it on the managing relay). Names may have moved between ids
//! (a user removed, a namesake added), so renamed rows step aside first.
//!
//! [`Store::accounts_version`] moves with every write to these tables, by
//! any process (SQLite triggers, so the CLI's changes count too): the
//! managing relay exports again when it moves.

use std::collections::{HashMap, HashSet};
use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rusqlite::{params, Transaction};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Result, StoreError};
use crate::model::{check_camera_id, CameraGrant, Role};
use crate::{bump_revision, check_label, check_user_name, Store};

/// Every account row that the relays of a cluster share. Its `Debug`
/// shows only how many rows it holds: the rest is secret.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accounts {
    pub users: Vec<UserRecord>,
    pub api_keys: Vec<ApiKeyRecord>,
    pub devices: Vec<DeviceRecord>,
    pub shares: Vec<ShareRecord>,
    pub signing_keys: Vec<SigningKeyRecord>,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.summary())
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub cameras: CameraGrant,
    /// The Argon2id hash (PHC string).
    pub password_hash: String,
    pub generation: i64,
    pub created_at: i64,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub token_hash: String,
    pub role: Role,
    pub cameras: CameraGrant,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceRecord {
    pub id: i64,
    pub name: String,
    pub cameras: CameraGrant,
    pub token_hash: String,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRecord {
    pub id: i64,
    pub camera: String,
    pub token_hash: String,
    pub created_by: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// The HMAC key, base64url in JSON.
    #[serde(serialize_with = "to_base64", deserialize_with = "from_base64")]
    pub secret: [u8; 32],
    pub created_at: i64,
    pub retired_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

fn to_base64<S: Serializer>(bytes: &[u8; 32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
}

fn from_base64<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<[u8; 32], D::Error> {
    let text = String::deserialize(d)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(text.as_bytes())
        .map_err(serde::de::Error::custom)?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| serde::de::Error::custom("a signing key is 32 bytes"))
}

/// What [`Store::import_accounts`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    /// Rows added, changed or removed (0: the copy was already up to date).
    pub changed: usize,
    /// Local sessions ended because their user was removed or changed.
    pub sessions_ended: usize,
}

impl Accounts {
    /// "3 users, 1 API key, …": for logs.
    pub fn summary(&self) -> String {
        format!(
            "{} users, {} API keys, {} devices, {} share links, {} signing keys",
            self.users.len(),
            self.api_keys.len(),
            self.devices.len(),
            self.shares.len(),
            self.signing_keys.len()
        )
    }

    /// Checks a copy as if it were typed in: names, labels, camera ids,
    /// no id twice, every creator among the users. A copy comes over the
    /// network; one that fails changes nothing.
    pub fn check(&self) -> Result<()> {
        fn unique<T, K: std::hash::Hash + Eq>(
            what: &str,
            rows: &[T],
            key: impl Fn(&T) -> K,
        ) -> Result<()> {
            let mut seen = HashSet::new();
            if rows.iter().all(|r| seen.insert(key(r))) {
                Ok(())
            } else {
                Err(StoreError::Invalid(format!(
                    "the accounts copy names one {what} twice"
                )))
            }
        }
        let hash = |what: &str, h: &str| {
            // SHA-256 in lowercase hex, as `secret::hash` writes it.
            if h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(())
            } else {
                Err(StoreError::Invalid(format!(
                    "the accounts copy has a malformed {what} token hash"
                )))
            }
        };
        unique("user id", &self.users, |u| u.id)?;
        unique("user name", &self.users, |u| u.name.clone())?;
        unique("API key", &self.api_keys, |k| k.id)?;
        unique("device", &self.devices, |d| d.id)?;
        unique("share link", &self.shares, |s| s.id)?;
        unique("signing key", &self.signing_keys, |k| k.kid.clone())?;
        let users: HashSet<i64> = self.users.iter().map(|u| u.id).collect();
        let creator = |by: Option<i64>| match by {
            Some(id) if !users.contains(&id) => Err(StoreError::Invalid(format!(
                "the accounts copy names user #{id} as a creator but has no such user"
            ))),
            _ => Ok(()),
        };
        for u in &self.users {
            check_user_name(&u.name)?;
            if !u.password_hash.starts_with("$argon2id$") {
                return Err(StoreError::Invalid(format!(
                    "the accounts copy has no Argon2id password hash for user {:?}",
                    u.name
                )));
            }
        }
        for k in &self.api_keys {
            check_label("API key", &k.name)?;
            hash("API key", &k.token_hash)?;
            if k.role == Role::Admin {
                return Err(StoreError::Invalid(
                    "the accounts copy has an API key with the admin role".into(),
                ));
            }
            creator(k.created_by)?;
        }
        for d in &self.devices {
            check_label("device", &d.name)?;
            hash("device", &d.token_hash)?;
            creator(d.created_by)?;
        }
        for s in &self.shares {
            check_camera_id(&s.camera)?;
            hash("share link", &s.token_hash)?;
            creator(Some(s.created_by))?;
        }
        for k in &self.signing_keys {
            if k.kid.is_empty()
                || k.kid.len() > 64
                || !k
                    .kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
            {
                return Err(StoreError::Invalid(
                    "the accounts copy has a malformed signing key id".into(),
                ));
            }
        }
        Ok(())
    }
}

impl Store {
    /// Moves with every change to the shared account tables (users, API
    /// keys, devices, share links, signing keys), by this process or
    /// another; not when a key or device is merely used.
    pub fn accounts_version(&self) -> Result<i64> {
        Ok(self.conn().query_row(
            "SELECT value FROM accounts_version WHERE id = 1",
            [],
            |row| row.get(0),
        )?)
    }

    /// The shared account tables as they are now, in one read transaction.
    pub fn export_accounts(&self) -> Result<Accounts> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let accounts = Accounts {
            users: read_users(&tx)?.into_values().collect(),
            api_keys: rows(
                &tx,
                "SELECT id, name, token_hash, role, cameras, created_by, created_at, revoked_at
                 FROM api_keys ORDER BY id",
                |r| {
                    Ok(ApiKeyRecord {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        token_hash: r.get(2)?,
                        role: r.get(3)?,
                        cameras: r.get(4)?,
                        created_by: r.get(5)?,
                        created_at: r.get(6)?,
                        revoked_at: r.get(7)?,
                    })
                },
            )?,
            devices: rows(
                &tx,
                "SELECT id, name, cameras, token_hash, created_by, created_at, revoked_at
                 FROM devices ORDER BY id",
                |r| {
                    Ok(DeviceRecord {
                        id: r.get(0)?,
                        name: r.get(1)?,
                        cameras: r.get(2)?,
                        token_hash: r.get(3)?,
                        created_by: r.get(4)?,
                        created_at: r.get(5)?,
                        revoked_at: r.get(6)?,
                    })
                },
            )?,
            shares: rows(
                &tx,
                "SELECT id, camera, token_hash, created_by, created_at, expires_at, revoked_at
                 FROM shares ORDER BY id",
                |r| {
                    Ok(ShareRecord {
                        id: r.get(0)?,
                        camera: r.get(1)?,
                        token_hash: r.get(2)?,
                        created_by: r.get(3)?,
                        created_at: r.get(4)?,
                        expires_at: r.get(5)?,
                        revoked_at: r.get(6)?,
                    })
                },
            )?,
            signing_keys: read_signing_keys(&tx)?,
        };
        let mut accounts = accounts;
        accounts.users.sort_by_key(|u| u.id);
        tx.commit()?;
        Ok(accounts)
    }

    /// Makes this database's shared account tables equal to `accounts`, in
    /// one transaction; a copy that fails [`Accounts::check`] changes
    /// nothing. Sessions of users removed or changed end; the revision
    /// moves if anything changed, so open sockets are checked again.
    pub fn import_accounts(&self, accounts: &Accounts) -> Result<Imported> {
        accounts.check()?;
        self.write(|tx| {
            let mut done = Imported::default();
            import_users(tx, &accounts.users, &mut done)?;
            let api_keys: Vec<_> = accounts.api_keys.iter().map(|k| k.id).collect();
            done.changed += delete_others(tx, "api_keys", "id", &api_keys)?;
            for k in &accounts.api_keys {
                done.changed += tx.execute(
                    "INSERT INTO api_keys (id, name, token_hash, role, cameras, created_by, created_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                        token_hash = excluded.token_hash, role = excluded.role,
                        cameras = excluded.cameras, created_by = excluded.created_by,
                        created_at = excluded.created_at, revoked_at = excluded.revoked_at
                     WHERE (name, token_hash, role, cameras, created_by, created_at, revoked_at)
                        IS NOT (excluded.name, excluded.token_hash, excluded.role, excluded.cameras,
                                excluded.created_by, excluded.created_at, excluded.revoked_at)",
                    params![k.id, k.name, k.token_hash, k.role, k.cameras, k.created_by, k.created_at, k.revoked_at],
                )?;
            }
            let devices: Vec<_> = accounts.devices.iter().map(|d| d.id).collect();
            done.changed += delete_others(tx, "devices", "id", &devices)?;
            for d in &accounts.devices {
                done.changed += tx.execute(
                    "INSERT INTO devices (id, name, cameras, token_hash, created_by, created_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                        cameras = excluded.cameras, token_hash = excluded.token_hash,
                        created_by = excluded.created_by, created_at = excluded.created_at,
                        revoked_at = excluded.revoked_at
                     WHERE (name, cameras, token_hash, created_by, created_at, revoked_at)
                        IS NOT (excluded.name, excluded.cameras, excluded.token_hash,
                                excluded.created_by, excluded.created_at, excluded.revoked_at)",
                    params![d.id, d.name, d.cameras, d.token_hash, d.created_by, d.created_at, d.revoked_at],
                )?;
            }
            let shares: Vec<_> = accounts.shares.iter().map(|s| s.id).collect();
            done.changed += delete_others(tx, "shares", "id", &shares)?;
            for s in &accounts.shares {
                done.changed += tx.execute(
                    "INSERT INTO shares (id, camera, token_hash, created_by, created_at, expires_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                     ON CONFLICT (id) DO UPDATE SET camera = excluded.camera,
                        token_hash = excluded.token_hash, created_by = excluded.created_by,
                        created_at = excluded.created_at, expires_at = excluded.expires_at,
                        revoked_at = excluded.revoked_at
                     WHERE (camera, token_hash, created_by, created_at, expires_at, revoked_at)
                        IS NOT (excluded.camera, excluded.token_hash, excluded.created_by,
                                excluded.created_at, excluded.expires_at, excluded.revoked_at)",
                    params![s.id, s.camera, s.token_hash, s.created_by, s.created_at, s.expires_at, s.revoked_at],
                )?;
            }
            let kids: Vec<_> = accounts.signing_keys.iter().map(|k| k.kid.clone()).collect();
            done.changed += delete_others(tx, "signing_keys", "kid", &kids)?;
            for k in &accounts.signing_keys {
                done.changed += tx.execute(
                    "INSERT INTO signing_keys (kid, secret, created_at, retired_at, revoked_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (kid) DO UPDATE SET secret = excluded.secret,
                        created_at = excluded.created_at, retired_at = excluded.retired_at,
                        revoked_at = excluded.revoked_at
                     WHERE (secret, created_at, retired_at, revoked_at)
                        IS NOT (excluded.secret, excluded.created_at, excluded.retired_at,
                                excluded.revoked_at)",
                    params![k.kid, k.secret.as_slice(), k.created_at, k.retired_at, k.revoked_at],
                )?;
            }
            if done.changed > 0 {
                bump_revision(tx)?;
            }
            Ok(done)
        })
    }
}

fn rows<T>(
    tx: &Transaction<'_>,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = tx.prepare(sql)?;
    let out = stmt.query_map([], f)?.collect::<rusqlite::Result<_>>()?;
    Ok(out)
}

fn read_users(tx: &Transaction<'_>) -> Result<HashMap<i64, UserRecord>> {
    Ok(rows(
        tx,
        "SELECT id, name, role, cameras, password_hash, generation, created_at FROM users",
        |r| {
            Ok(UserRecord {
                id: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
                cameras: r.get(3)?,
                password_hash: r.get(4)?,
                generation: r.get(5)?,
                created_at: r.get(6)?,
            })
        },
    )?
    .into_iter()
    .map(|u| (u.id, u))
    .collect())
}

fn read_signing_keys(tx: &Transaction<'_>) -> Result<Vec<SigningKeyRecord>> {
    rows(
        tx,
        "SELECT kid, secret, created_at, retired_at, revoked_at FROM signing_keys
         ORDER BY created_at, rowid",
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
            ))
        },
    )?
    .into_iter()
    .map(|(kid, secret, created_at, retired_at, revoked_at)| {
        let secret = <[u8; 32]>::try_from(secret.as_slice()).map_err(|_| {
            StoreError::Corrupt(format!("signing key {kid:?} is not 32 bytes long"))
        })?;
        Ok(SigningKeyRecord {
            kid,
            secret,
            created_at,
            retired_at,
            revoked_at,
        })
    })
    .collect()
}

/// Deletes the rows of `table` whose `key` is not in `keep`; how many.
fn delete_others<K: rusqlite::ToSql + Eq + std::hash::Hash + rusqlite::types::FromSql>(
    tx: &Transaction<'_>,
    table: &str,
    key: &str,
    keep: &[K],
) -> Result<usize> {
    let keep: HashSet<&K> = keep.iter().collect();
    let local: Vec<K> = rows(tx, &format!("SELECT {key} FROM {table}"), |r| r.get(0))?;
    let mut deleted = 0;
    for k in local.iter().filter(|k| !keep.contains(k)) {
        deleted += tx.execute(&format!("DELETE FROM {table} WHERE {key} = ?1"), [k])?;
    }
    Ok(deleted)
}

fn import_users(tx: &Transaction<'_>, users: &[UserRecord], done: &mut Imported) -> Result<()> {
    let local = read_users(tx)?;
    let wanted: HashSet<i64> = users.iter().map(|u| u.id).collect();
    let end_sessions = |id: i64| -> Result<usize> {
        tx.execute("DELETE FROM signin_tokens WHERE user_id = ?1", [id])?;
        Ok(tx.execute("DELETE FROM sessions WHERE user_id = ?1", [id])?)
    };
    for id in local.keys().filter(|id| !wanted.contains(id)) {
        // Sessions, sign-in links and share links go with the row.
        done.sessions_ended += end_sessions(*id)?;
        done.changed += tx.execute("DELETE FROM users WHERE id = ?1", [id])?;
    }
    // Renamed users step aside first ('#' is in no user name), so that
    // names moving between ids never collide halfway.
    for u in users {
        if local.get(&u.id).is_some_and(|l| l.name != u.name) {
            tx.execute("UPDATE users SET name = '#' || id WHERE id = ?1", [u.id])?;
        }
    }
    for u in users {
        match local.get(&u.id) {
            Some(l) if l == u => {}
            Some(l) => {
                if l.password_hash != u.password_hash
                    || l.generation != u.generation
                    || l.role != u.role
                    || l.cameras != u.cameras
                {
                    done.sessions_ended += end_sessions(u.id)?;
                }
                done.changed += tx.execute(
                    "UPDATE users SET name = ?2, role = ?3, cameras = ?4, password_hash = ?5,
                        generation = ?6, created_at = ?7 WHERE id = ?1",
                    params![
                        u.id,
                        u.name,
                        u.role,
                        u.cameras,
                        u.password_hash,
                        u.generation,
                        u.created_at
                    ],
                )?;
            }
            None => {
                done.changed += tx.execute(
                    "INSERT INTO users (id, name, role, cameras, password_hash, generation, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![u.id, u.name, u.role, u.cameras, u.password_hash, u.generation, u.created_at],
                )?;
            }
        }
    }
    Ok(())
}
