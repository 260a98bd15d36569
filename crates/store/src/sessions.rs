//! Browser sessions and one-time sign-in tokens.
//!
//! A session is a random token in a cookie; the database keeps its SHA-256 only.
//! Each session also has a CSRF token, which the page sends back in a header on
//! every state-changing request. It is stored as it is: it is worth nothing without
//! the cookie (which a reader of the database cannot recover), and keeping it lets
//! the relay hand the same value to every tab of the session. Compare it with
//! [`crate::secret::eq`].
//!
//! Expiry is fixed at creation (no sliding): a session found past its expiry is
//! deleted and refused. Deleting sessions bumps the revision; expiry does not,
//! since the relay knows `expires_at` and can close those sockets on time itself.
//!
//! A sign-in token is the first-run link the relay prints (like Jupyter's): it logs
//! its user in once. Redeeming deletes it in the same statement, so two requests
//! racing with one link cannot both get in.

use rusqlite::params;

use crate::error::{Result, StoreError};
use crate::secret::{self, Secret};
use crate::users::{user_by_id, user_from_row, User, USER_COLUMNS};
use crate::{bump_revision, expiry, optional, Store};

/// A session just created: the only time its token exists outside the browser.
#[derive(Debug)]
pub struct NewSession {
    pub id: i64,
    /// Goes in the cookie.
    pub token: Secret,
    /// Goes in the page, to be sent back in a header.
    pub csrf: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A valid session and its user, as they are now.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id: i64,
    pub user: User,
    pub csrf: Secret,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Store {
    /// Starts a session for a user, valid for `ttl_secs` from `now`.
    pub fn create_session(&self, user_id: i64, now: i64, ttl_secs: i64) -> Result<NewSession> {
        let expires_at = expiry(now, ttl_secs)?;
        let token = secret::token()?;
        let csrf = secret::token()?;
        self.write(|tx| {
            if user_by_id(tx, user_id)?.is_none() {
                return Err(StoreError::NotFound(format!("user #{user_id}")));
            }
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    secret::hash(token.expose()),
                    user_id,
                    csrf.expose(),
                    now,
                    expires_at
                ],
            )?;
            Ok(NewSession {
                id: tx.last_insert_rowid(),
                token,
                csrf,
                expires_at,
            })
        })
    }

    /// The session whose cookie is `token`, or `None` if there is none or it has
    /// expired (an expired one is deleted).
    pub fn session(&self, token: &str, now: i64) -> Result<Option<SessionInfo>> {
        let hash = secret::hash(token);
        let conn = self.conn();
        let found = optional(conn.query_row(
            &format!(
                "SELECT s.id, s.csrf, s.expires_at, {USER_COLUMNS}
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = ?1"
            ),
            [&hash],
            |row| {
                Ok(SessionInfo {
                    id: row.get(0)?,
                    csrf: Secret::new(row.get::<_, String>(1)?),
                    expires_at: row.get(2)?,
                    user: user_from_row(row, 3)?,
                })
            },
        ))?;
        match found {
            Some(info) if now < info.expires_at => Ok(Some(info)),
            Some(info) => {
                conn.execute("DELETE FROM sessions WHERE id = ?1", [info.id])?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Ends the session whose cookie is `token` (logout). Whether there was one.
    pub fn delete_session(&self, token: &str) -> Result<bool> {
        let hash = secret::hash(token);
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash])?;
            if deleted > 0 {
                bump_revision(tx)?;
            }
            Ok(deleted > 0)
        })
    }

    /// Ends every session of a user ("sign out everywhere"). How many there were.
    pub fn delete_user_sessions(&self, user_id: i64) -> Result<usize> {
        self.write(|tx| {
            let deleted = tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
            if deleted > 0 {
                bump_revision(tx)?;
            }
            Ok(deleted)
        })
    }

    /// A one-time sign-in token for a user, valid for `ttl_secs` from `now`. A change
    /// to the user's password, role or cameras cancels it.
    pub fn create_signin_token(&self, user_id: i64, now: i64, ttl_secs: i64) -> Result<Secret> {
        let expires_at = expiry(now, ttl_secs)?;
        let token = secret::token()?;
        self.write(|tx| {
            if user_by_id(tx, user_id)?.is_none() {
                return Err(StoreError::NotFound(format!("user #{user_id}")));
            }
            tx.execute(
                "INSERT INTO signin_tokens (token_hash, user_id, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![secret::hash(token.expose()), user_id, now, expires_at],
            )?;
            Ok(())
        })?;
        Ok(token)
    }

    /// Uses up a sign-in token: its user if it was valid, `None` if unknown, already
    /// used or expired. Either way the token no longer exists afterwards.
    pub fn redeem_signin_token(&self, token: &str, now: i64) -> Result<Option<User>> {
        let hash = secret::hash(token);
        self.write(|tx| {
            let found = optional(tx.query_row(
                "DELETE FROM signin_tokens WHERE token_hash = ?1 RETURNING user_id, expires_at",
                [&hash],
                |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
            ))?;
            match found {
                Some((user_id, expires_at)) if now < expires_at => user_by_id(tx, user_id),
                _ => Ok(None),
            }
        })
    }
}
