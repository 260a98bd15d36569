//! The keys the relay signs tickets with (HMAC-SHA256), identified by a `kid` that
//! each ticket names.
//!
//! Life of a key, kept simple:
//! - **current**: the one [`Store::signing_key`] returns to sign with; created on
//!   first use. There is at most one.
//! - **retired** ([`Store::rotate_signing_key`]): a new key becomes current; the old
//!   one still *verifies*, so tickets already handed out keep working until they
//!   expire. [`Store::prune_signing_keys`] deletes retired keys once no ticket
//!   signed with them can still be valid (call it with `now - longest ticket TTL`).
//! - **revoked** ([`Store::revoke_signing_key`]): no longer verifies at once, for a
//!   key that may have leaked; every ticket signed with it is refused from then on.
//!   Revoking the current key makes the next [`Store::signing_key`] create another.
//!
//! The secrets are stored as they are (HMAC needs them), in a file readable by its
//! owner only; they are in the database rather than a file of their own so that
//! several relays sharing it, and the CLI, agree on them.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rusqlite::{params, Row, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::{bump_revision, optional, secret, Store};

/// A key to sign or verify tickets with. Its `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// The key's public name, put in each ticket it signs.
    pub kid: String,
    /// The HMAC-SHA256 key.
    pub secret: [u8; 32],
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("secret", &"…")
            .finish()
    }
}

/// What the admin page may show about a key: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningKeyInfo {
    pub kid: String,
    pub created_at: i64,
    /// When it stopped being the current key; it still verifies.
    pub retired_at: Option<i64>,
    /// When it stopped verifying.
    pub revoked_at: Option<i64>,
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<(String, Vec<u8>)> {
    Ok((row.get(0)?, row.get(1)?))
}

fn to_key((kid, bytes): (String, Vec<u8>)) -> Result<SigningKey> {
    let secret = <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| StoreError::Corrupt(format!("signing key {kid:?} is not 32 bytes long")))?;
    Ok(SigningKey { kid, secret })
}

fn current(tx: &Transaction<'_>) -> Result<Option<SigningKey>> {
    optional(tx.query_row(
        "SELECT kid, secret FROM signing_keys
         WHERE retired_at IS NULL AND revoked_at IS NULL
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
        [],
        key_from_row,
    ))?
    .map(to_key)
    .transpose()
}

fn create(tx: &Transaction<'_>, now: i64) -> Result<SigningKey> {
    let key = SigningKey {
        // 72 random bits: unique among a handful of keys, short in every ticket.
        kid: URL_SAFE_NO_PAD.encode(secret::random_bytes::<9>()?),
        secret: secret::random_bytes::<32>()?,
    };
    tx.execute(
        "INSERT INTO signing_keys (kid, secret, created_at) VALUES (?1, ?2, ?3)",
        params![key.kid, key.secret.as_slice(), now],
    )?;
    Ok(key)
}

impl Store {
    /// The key to sign new tickets with, created on first use.
    pub fn signing_key(&self, now: i64) -> Result<SigningKey> {
        self.write(|tx| match current(tx)? {
            Some(key) => Ok(key),
            None => create(tx, now),
        })
    }

    /// The key new tickets are signed with, if there is one; never creates
    /// one (a relay whose accounts are a copy signs with the copied key).
    pub fn current_signing_key(&self) -> Result<Option<SigningKey>> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        current(&tx)
    }

    /// The key named `kid`, to verify a ticket with: current or retired, not revoked
    /// (nor pruned).
    pub fn signing_key_by_id(&self, kid: &str) -> Result<Option<SigningKey>> {
        optional(self.conn().query_row(
            "SELECT kid, secret FROM signing_keys WHERE kid = ?1 AND revoked_at IS NULL",
            [kid],
            key_from_row,
        ))?
        .map(to_key)
        .transpose()
    }

    /// Makes a new key current; the previous one is retired (still verifies).
    pub fn rotate_signing_key(&self, now: i64) -> Result<SigningKey> {
        self.write(|tx| {
            tx.execute(
                "UPDATE signing_keys SET retired_at = ?1
                 WHERE retired_at IS NULL AND revoked_at IS NULL",
                [now],
            )?;
            create(tx, now)
        })
    }

    /// Revokes a key: tickets signed with it are refused from now on. `true` if this
    /// call revoked it.
    pub fn revoke_signing_key(&self, kid: &str, now: i64) -> Result<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                "UPDATE signing_keys SET revoked_at = ?1 WHERE kid = ?2 AND revoked_at IS NULL",
                params![now, kid],
            )?;
            if changed > 0 {
                bump_revision(tx)?;
            }
            Ok(changed > 0)
        })
    }

    /// Deletes the keys retired or revoked before `before`; how many. Pass
    /// `now - the longest ticket lifetime` so that no valid ticket loses its key.
    pub fn prune_signing_keys(&self, before: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM signing_keys WHERE retired_at < ?1 OR revoked_at < ?1",
                [before],
            )?)
        })
    }

    /// Every key, newest first, without secrets.
    pub fn signing_keys(&self) -> Result<Vec<SigningKeyInfo>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT kid, created_at, retired_at, revoked_at FROM signing_keys
             ORDER BY created_at DESC, rowid DESC",
        )?;
        let keys = stmt
            .query_map([], |row| {
                Ok(SigningKeyInfo {
                    kid: row.get(0)?,
                    created_at: row.get(1)?,
                    retired_at: row.get(2)?,
                    revoked_at: row.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }
}
