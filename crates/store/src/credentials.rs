//! Long-lived machine credentials: API keys and kiosk devices.
//!
//! An API key lets a backend mint tickets for its own users; a device token lets a
//! wall screen (kiosk) watch its cameras without anyone signing in. Both are bearer
//! tokens stored as SHA-256 hashes, shown once at creation, revoked (not deleted,
//! so the admin page and the audit log keep their names) and never expire by
//! themselves. Their tokens carry a prefix, `slk_` for API keys and `sld_` for
//! devices, so that secret scanners and people recognise a leaked one.
//!
//! Using a credential records when (`last_used_at` / `last_seen_at`), at most once
//! a minute so that a busy backend does not turn every request into a write.

use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{CameraGrant, Role};
use crate::secret::{self, Secret};
use crate::users::user_by_id;
use crate::{bump_revision, check_label, optional, Store};

/// The prefix of every API key.
pub const API_KEY_PREFIX: &str = "slk_";
/// The prefix of every device token.
pub const DEVICE_TOKEN_PREFIX: &str = "sld_";

/// How often, at most, a use is written to `last_used_at` / `last_seen_at`.
const TOUCH_EVERY_SECS: i64 = 60;

/// An API key (without its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: i64,
    pub name: String,
    /// The most its tickets may do: `viewer` or `operator`.
    pub role: Role,
    /// The cameras its tickets may name, at most.
    pub cameras: CameraGrant,
    /// The admin who created it; `None` once that user has been removed.
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

/// A kiosk device (without its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: i64,
    pub name: String,
    pub cameras: CameraGrant,
    /// The admin who created it; `None` once that user has been removed.
    pub created_by: Option<i64>,
    pub created_by_name: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub last_seen_at: Option<i64>,
}

const API_KEY_SELECT: &str = "SELECT k.id, k.name, k.created_by, u.name, k.created_at,
        k.revoked_at, k.last_used_at, k.role, k.cameras
    FROM api_keys k LEFT JOIN users u ON u.id = k.created_by";

fn api_key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        created_by: row.get(2)?,
        created_by_name: row.get(3)?,
        created_at: row.get(4)?,
        revoked_at: row.get(5)?,
        last_used_at: row.get(6)?,
        role: row.get(7)?,
        cameras: row.get(8)?,
    })
}

const DEVICE_SELECT: &str = "SELECT d.id, d.name, d.cameras, d.created_by, u.name,
        d.created_at, d.revoked_at, d.last_seen_at
    FROM devices d LEFT JOIN users u ON u.id = d.created_by";

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: row.get(0)?,
        name: row.get(1)?,
        cameras: row.get(2)?,
        created_by: row.get(3)?,
        created_by_name: row.get(4)?,
        created_at: row.get(5)?,
        revoked_at: row.get(6)?,
        last_seen_at: row.get(7)?,
    })
}

fn prefixed_token(prefix: &str) -> Result<Secret> {
    Ok(Secret::new(format!(
        "{prefix}{}",
        secret::token()?.expose()
    )))
}

fn check_creator(tx: &rusqlite::Connection, created_by: i64) -> Result<()> {
    match user_by_id(tx, created_by)? {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("user #{created_by}"))),
    }
}

impl Store {
    /// Creates an API key whose tickets may do at most `role` (`viewer` or
    /// `operator`: a ticket never administers) on at most `cameras`. The
    /// token is returned here only; keep it in the backend's secrets, it
    /// cannot be shown again.
    pub fn create_api_key(
        &self,
        name: &str,
        role: Role,
        cameras: &CameraGrant,
        created_by: i64,
        now: i64,
    ) -> Result<(ApiKey, Secret)> {
        check_label("an API key's", name)?;
        if role == Role::Admin {
            return Err(StoreError::Invalid(
                "an API key mints viewer or operator tickets: tickets never administer".into(),
            ));
        }
        if cameras.is_empty() {
            return Err(StoreError::Invalid(
                "an API key needs cameras: `*` or camera ids".into(),
            ));
        }
        let token = prefixed_token(API_KEY_PREFIX)?;
        let key = self.write(|tx| {
            check_creator(tx, created_by)?;
            tx.execute(
                "INSERT INTO api_keys (name, token_hash, created_by, created_at, role, cameras)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    name,
                    secret::hash(token.expose()),
                    created_by,
                    now,
                    role,
                    cameras
                ],
            )?;
            Ok(tx.query_row(
                &format!("{API_KEY_SELECT} WHERE k.id = ?1"),
                [tx.last_insert_rowid()],
                api_key_from_row,
            )?)
        })?;
        Ok((key, token))
    }

    /// Every API key, revoked ones included, oldest first.
    pub fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{API_KEY_SELECT} ORDER BY k.id"))?;
        let keys = stmt
            .query_map([], api_key_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(keys)
    }

    /// Revokes an API key. `true` if this call revoked it, `false` if there is no
    /// such key or it was revoked already.
    pub fn revoke_api_key(&self, id: i64, now: i64) -> Result<bool> {
        self.revoke("api_keys", id, now)
    }

    /// The live (not revoked) API key whose token is `token`, noting its use at
    /// `now`.
    pub fn api_key_by_token(&self, token: &str, now: i64) -> Result<Option<ApiKey>> {
        if !token.starts_with(API_KEY_PREFIX) {
            return Ok(None);
        }
        let conn = self.conn();
        let Some(mut key) = optional(conn.query_row(
            &format!("{API_KEY_SELECT} WHERE k.token_hash = ?1 AND k.revoked_at IS NULL"),
            [secret::hash(token)],
            api_key_from_row,
        ))?
        else {
            return Ok(None);
        };
        if key.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_SECS) {
            conn.execute(
                "UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2",
                [now, key.id],
            )?;
            key.last_used_at = Some(now);
        }
        Ok(Some(key))
    }

    /// Creates a kiosk device that may watch `cameras`. The token is returned here
    /// only; enter it on the device.
    pub fn create_device(
        &self,
        name: &str,
        cameras: &CameraGrant,
        created_by: i64,
        now: i64,
    ) -> Result<(Device, Secret)> {
        check_label("a device's", name)?;
        let token = prefixed_token(DEVICE_TOKEN_PREFIX)?;
        let device = self.write(|tx| {
            check_creator(tx, created_by)?;
            tx.execute(
                "INSERT INTO devices (name, cameras, token_hash, created_by, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, cameras, secret::hash(token.expose()), created_by, now],
            )?;
            Ok(tx.query_row(
                &format!("{DEVICE_SELECT} WHERE d.id = ?1"),
                [tx.last_insert_rowid()],
                device_from_row,
            )?)
        })?;
        Ok((device, token))
    }

    /// Every device, revoked ones included, oldest first.
    pub fn devices(&self) -> Result<Vec<Device>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{DEVICE_SELECT} ORDER BY d.id"))?;
        let devices = stmt
            .query_map([], device_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(devices)
    }

    /// Revokes a device. `true` if this call revoked it, `false` if there is no such
    /// device or it was revoked already.
    pub fn revoke_device(&self, id: i64, now: i64) -> Result<bool> {
        self.revoke("devices", id, now)
    }

    /// The live (not revoked) device whose token is `token`, noting that it was seen
    /// at `now`.
    pub fn device_by_token(&self, token: &str, now: i64) -> Result<Option<Device>> {
        if !token.starts_with(DEVICE_TOKEN_PREFIX) {
            return Ok(None);
        }
        let conn = self.conn();
        let Some(mut device) = optional(conn.query_row(
            &format!("{DEVICE_SELECT} WHERE d.token_hash = ?1 AND d.revoked_at IS NULL"),
            [secret::hash(token)],
            device_from_row,
        ))?
        else {
            return Ok(None);
        };
        if device
            .last_seen_at
            .is_none_or(|t| now - t >= TOUCH_EVERY_SECS)
        {
            conn.execute(
                "UPDATE devices SET last_seen_at = ?1 WHERE id = ?2",
                [now, device.id],
            )?;
            device.last_seen_at = Some(now);
        }
        Ok(Some(device))
    }

    /// Sets `revoked_at` on a live row of `table` (a constant of this crate, never
    /// input) and bumps the revision if it did.
    fn revoke(&self, table: &'static str, id: i64, now: i64) -> Result<bool> {
        self.write(|tx| {
            let changed = tx.execute(
                &format!("UPDATE {table} SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL"),
                [now, id],
            )?;
            if changed > 0 {
                bump_revision(tx)?;
            }
            Ok(changed > 0)
        })
    }
}
