//! Share links: one camera, for anyone holding the link, until a fixed time at most
//! a week away.
//!
//! A share is only as good as its creator's access: it dies with its creator (the
//! rows go with the user), and [`Store::share_by_token`] refuses it once the creator
//! may no longer see the camera. The week's cap keeps a forgotten link from living
//! forever; the relay should additionally check the camera still exists.

use rusqlite::{params, Row};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{check_camera_id, CameraGrant};
use crate::secret::{self, Secret};
use crate::users::user_by_id;
use crate::{bump_revision, optional, Store};

/// The longest a share link may live, in seconds: 7 days.
pub const MAX_SHARE_SECS: i64 = 7 * 24 * 60 * 60;

/// The prefix of every share token.
pub const SHARE_TOKEN_PREFIX: &str = "sls_";

/// A share link (without its token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    pub id: i64,
    pub camera: String,
    pub created_by: i64,
    pub created_by_name: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

const SHARE_COLUMNS: &str =
    "s.id, s.camera, s.created_by, u.name, s.created_at, s.expires_at, s.revoked_at";
const SHARE_FROM: &str = "FROM shares s JOIN users u ON u.id = s.created_by";

fn share_from_row(row: &Row<'_>) -> rusqlite::Result<Share> {
    Ok(Share {
        id: row.get(0)?,
        camera: row.get(1)?,
        created_by: row.get(2)?,
        created_by_name: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        revoked_at: row.get(6)?,
    })
}

impl Store {
    /// Creates a share link to `camera` until `expires_at`, which must be after
    /// `now` and at most [`MAX_SHARE_SECS`] after it. Whether the creator may share
    /// that camera is the caller's check. The token is returned here only.
    pub fn create_share(
        &self,
        camera: &str,
        created_by: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<(Share, Secret)> {
        check_camera_id(camera)?;
        if expires_at <= now {
            return Err(StoreError::Invalid(
                "a share link's expiry must be in the future".into(),
            ));
        }
        if expires_at - now > MAX_SHARE_SECS {
            return Err(StoreError::Invalid(
                "a share link may last at most 7 days: pick an earlier expiry".into(),
            ));
        }
        let token = Secret::new(format!("{SHARE_TOKEN_PREFIX}{}", secret::token()?.expose()));
        let share = self.write(|tx| {
            if user_by_id(tx, created_by)?.is_none() {
                return Err(StoreError::NotFound(format!("user #{created_by}")));
            }
            tx.execute(
                "INSERT INTO shares (camera, token_hash, created_by, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    camera,
                    secret::hash(token.expose()),
                    created_by,
                    now,
                    expires_at
                ],
            )?;
            Ok(tx.query_row(
                &format!("SELECT {SHARE_COLUMNS} {SHARE_FROM} WHERE s.id = ?1"),
                [tx.last_insert_rowid()],
                share_from_row,
            )?)
        })?;
        Ok((share, token))
    }

    /// Share links, newest first, expired and revoked ones included: those made by
    /// one user, or everybody's with `None` (for admins).
    pub fn shares(&self, created_by: Option<i64>) -> Result<Vec<Share>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SHARE_COLUMNS} {SHARE_FROM} WHERE ?1 IS NULL OR s.created_by = ?1 ORDER BY s.id DESC"
        ))?;
        let shares = stmt
            .query_map([created_by], share_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(shares)
    }

    /// Revokes a share link: allowed to its creator and to admins
    /// ([`StoreError::Forbidden`] for anyone else). `true` if this call revoked it,
    /// `false` if there is no such share or it was revoked already.
    pub fn revoke_share(&self, id: i64, by_user_id: i64, is_admin: bool, now: i64) -> Result<bool> {
        self.write(|tx| {
            let Some(creator) = optional(tx.query_row(
                "SELECT created_by FROM shares WHERE id = ?1",
                [id],
                |row| row.get::<_, i64>(0),
            ))?
            else {
                return Ok(false);
            };
            if creator != by_user_id && !is_admin {
                return Err(StoreError::Forbidden(
                    "only the user who created a share link, or an admin, may revoke it".into(),
                ));
            }
            let changed = tx.execute(
                "UPDATE shares SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL",
                [now, id],
            )?;
            if changed > 0 {
                bump_revision(tx)?;
            }
            Ok(changed > 0)
        })
    }

    /// The share link whose token is `token`, if it is neither revoked nor expired
    /// and its creator may still see the camera.
    pub fn share_by_token(&self, token: &str, now: i64) -> Result<Option<Share>> {
        if !token.starts_with(SHARE_TOKEN_PREFIX) {
            return Ok(None);
        }
        let found = optional(self.conn().query_row(
            &format!(
                "SELECT {SHARE_COLUMNS}, u.cameras {SHARE_FROM}
                 WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2"
            ),
            params![secret::hash(token), now],
            |row| Ok((share_from_row(row)?, row.get::<_, CameraGrant>(7)?)),
        ))?;
        Ok(found.and_then(|(share, creator_cameras)| {
            creator_cameras.allows(&share.camera).then_some(share)
        }))
    }
}
