//! Users: name, role, cameras, password.
//!
//! Each user has a `generation` that goes up with every change to its password,
//! role or cameras; the same change deletes its sessions and unused sign-in links
//! and bumps the revision,
//! so that what the user could do before stops working everywhere (tickets can
//! carry the generation to be refused in the same way). There is always at least
//! one admin once there is one: the last cannot be removed or demoted.

use rusqlite::{params, Row, Transaction};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};
use crate::model::{CameraGrant, Role};
use crate::{bump_revision, optional, password, unix_now, Store};

/// A user, without its password hash (which never leaves this crate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub cameras: CameraGrant,
    /// Goes up with every change to the password, role or cameras.
    pub generation: i64,
    /// Unix seconds.
    pub created_at: i64,
}

/// The columns [`user_from_row`] reads, for a `users` table aliased `u`.
pub(crate) const USER_COLUMNS: &str = "u.id, u.name, u.role, u.cameras, u.generation, u.created_at";

/// Reads a [`User`] from [`USER_COLUMNS`] starting at column `at`.
pub(crate) fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(at)?,
        name: row.get(at + 1)?,
        role: row.get(at + 2)?,
        cameras: row.get(at + 3)?,
        generation: row.get(at + 4)?,
        created_at: row.get(at + 5)?,
    })
}

/// Checks a user name: 1–64 ASCII letters, digits and `-_.@` (so an e-mail address
/// fits, and no two names look alike). Case-sensitive.
pub fn check_user_name(name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.@".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "{name:?} is not a valid user name: use 1 to 64 letters, digits and - _ . @"
        )))
    }
}

fn not_found(name: &str) -> StoreError {
    StoreError::NotFound(format!("user {name:?}"))
}

pub(crate) fn user_by_id(tx: &rusqlite::Connection, id: i64) -> Result<Option<User>> {
    optional(tx.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"),
        [id],
        |row| user_from_row(row, 0),
    ))
}

fn user_by_name(tx: &rusqlite::Connection, name: &str) -> Result<Option<User>> {
    optional(tx.query_row(
        &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?1"),
        [name],
        |row| user_from_row(row, 0),
    ))
}

fn admin_count(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row(
        "SELECT count(*) FROM users WHERE role = 'admin'",
        [],
        |row| row.get(0),
    )?)
}

/// After a change to the password, role or cameras: a new generation, no sessions,
/// and a revision bump, all in the caller's transaction.
fn invalidate(tx: &Transaction<'_>, user_id: i64) -> Result<()> {
    tx.execute(
        "UPDATE users SET generation = generation + 1 WHERE id = ?1",
        [user_id],
    )?;
    tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
    tx.execute("DELETE FROM signin_tokens WHERE user_id = ?1", [user_id])?;
    bump_revision(tx)
}

impl Store {
    /// How many users there are (0 on first run).
    pub fn user_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM users", [], |row| row.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Adds a user; the password is hashed here (see [`password::hash`] for the
    /// rules and the cost). Fails with `Conflict` if the name is taken.
    pub fn add_user(
        &self,
        name: &str,
        role: Role,
        cameras: &CameraGrant,
        password: &str,
    ) -> Result<User> {
        check_user_name(name)?;
        // Hash before taking the lock: it is the slow part.
        let phc = password::hash(password)?;
        let now = unix_now();
        self.write(|tx| {
            if user_by_name(tx, name)?.is_some() {
                return Err(StoreError::Conflict(format!(
                    "a user named {name:?} already exists: pick another name"
                )));
            }
            tx.execute(
                "INSERT INTO users (name, role, cameras, password_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, role, cameras, phc, now],
            )?;
            user_by_id(tx, tx.last_insert_rowid())?.ok_or_else(|| not_found(name))
        })
    }

    /// The user with this id.
    pub fn user(&self, id: i64) -> Result<Option<User>> {
        user_by_id(&self.conn(), id)
    }

    /// The user with this name.
    pub fn user_by_name(&self, name: &str) -> Result<Option<User>> {
        user_by_name(&self.conn(), name)
    }

    /// All users, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {USER_COLUMNS} FROM users u ORDER BY u.name"
        ))?;
        let users = stmt
            .query_map([], |row| user_from_row(row, 0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(users)
    }

    /// The user if `password` is theirs, `None` otherwise. Takes as long for an
    /// unknown name as for a wrong password ([`password::verify_dummy`]). The
    /// verification runs outside the lock; a login that raced with a change to the
    /// user (a new password, role or cameras) fails.
    pub fn verify_login(&self, name: &str, password: &str) -> Result<Option<User>> {
        let found = if check_user_name(name).is_ok() {
            optional(self.conn().query_row(
                &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.name = ?1"),
                [name],
                |row| Ok((user_from_row(row, 0)?, row.get::<_, String>(6)?)),
            ))?
        } else {
            None
        };
        let Some((user, phc)) = found else {
            password::verify_dummy(password);
            return Ok(None);
        };
        if !password::verify(&phc, password) {
            return Ok(None);
        }
        Ok(self
            .user(user.id)?
            .filter(|now| now.generation == user.generation))
    }

    /// Changes a user's role (a no-op if it is the same). Demoting the last admin
    /// fails with [`StoreError::LastAdmin`].
    pub fn set_role(&self, name: &str, role: Role) -> Result<User> {
        self.write(|tx| {
            let user = user_by_name(tx, name)?.ok_or_else(|| not_found(name))?;
            if user.role == role {
                return Ok(user);
            }
            if user.role == Role::Admin && admin_count(tx)? <= 1 {
                return Err(StoreError::LastAdmin);
            }
            tx.execute(
                "UPDATE users SET role = ?1 WHERE id = ?2",
                params![role, user.id],
            )?;
            invalidate(tx, user.id)?;
            user_by_id(tx, user.id)?.ok_or_else(|| not_found(name))
        })
    }

    /// Changes the cameras a user may see (a no-op if they are the same).
    pub fn set_cameras(&self, name: &str, cameras: &CameraGrant) -> Result<User> {
        self.write(|tx| {
            let user = user_by_name(tx, name)?.ok_or_else(|| not_found(name))?;
            if &user.cameras == cameras {
                return Ok(user);
            }
            tx.execute(
                "UPDATE users SET cameras = ?1 WHERE id = ?2",
                params![cameras, user.id],
            )?;
            invalidate(tx, user.id)?;
            user_by_id(tx, user.id)?.ok_or_else(|| not_found(name))
        })
    }

    /// Sets a new password; signs the user out everywhere.
    pub fn set_password(&self, name: &str, password: &str) -> Result<User> {
        if self.user_by_name(name)?.is_none() {
            return Err(not_found(name));
        }
        let phc = password::hash(password)?;
        self.write(|tx| {
            let user = user_by_name(tx, name)?.ok_or_else(|| not_found(name))?;
            tx.execute(
                "UPDATE users SET password_hash = ?1 WHERE id = ?2",
                params![phc, user.id],
            )?;
            invalidate(tx, user.id)?;
            user_by_id(tx, user.id)?.ok_or_else(|| not_found(name))
        })
    }

    /// Removes a user, with its sessions, sign-in tokens and share links; API keys
    /// and devices it created stay (their creator becomes unknown). Removing the
    /// last admin fails with [`StoreError::LastAdmin`]. Returns the removed user.
    pub fn remove_user(&self, name: &str) -> Result<User> {
        self.write(|tx| {
            let user = user_by_name(tx, name)?.ok_or_else(|| not_found(name))?;
            if user.role == Role::Admin && admin_count(tx)? <= 1 {
                return Err(StoreError::LastAdmin);
            }
            tx.execute("DELETE FROM users WHERE id = ?1", [user.id])?;
            bump_revision(tx)?;
            Ok(user)
        })
    }
}
